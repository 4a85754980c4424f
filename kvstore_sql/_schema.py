"""The SQL backend's tables, created on first open and versioned.

============  ==============================================================================
table         what it holds
============  ==============================================================================
kv_meta       one row: the schema version, the store revision (the counter every write
              transaction moves by one, inside the transaction) and the compact revision
kv_log        every write: key, revision (and ``sub``, its place in the revision), create
              revision, version, lease, value, and ``tombstone`` for a delete; reads at
              old revisions and watches come from it; compaction removes what no read at
              or after the compact revision can reach
kv_current    the current state of each key (a read of now touches only this table)
kv_lease      the live leases: id, granted TTL, and the time they expire (seconds since
              the epoch, on the store's clock)
============  ==============================================================================

Keys are stored as their UTF-8 bytes (``blob``), so that the database orders them as etcd
does, byte by byte, whatever its collation. ``SCHEMA_VERSION`` is written once, on
creation; a database written by a newer kvstore (a higher version) is refused with a
``ConfigurationError`` rather than misread.
"""

from __future__ import annotations

from kvstore.errors import ConfigurationError
from kvstore_sql._dialect import Connection, Dialect
from kvstore_sql._errors import map_errors

__all__ = ["SCHEMA_VERSION", "ensure_schema", "schema_statements"]

SCHEMA_VERSION = 1
"""The version of the tables this code reads and writes."""


def schema_statements(dialect: Dialect) -> list[str]:
    """The statements that create the tables and indexes (each idempotent)."""
    integer, blob, real = dialect.integer_type, dialect.blob_type, dialect.real_type
    clustered = dialect.clustered_table_suffix
    return [
        f"""CREATE TABLE IF NOT EXISTS kv_meta (
            id {integer} PRIMARY KEY CHECK (id = 1),
            schema_version {integer} NOT NULL,
            revision {integer} NOT NULL,
            compact_revision {integer} NOT NULL
        )""",
        f"""CREATE TABLE IF NOT EXISTS kv_log (
            revision {integer} NOT NULL,
            sub {integer} NOT NULL,
            key {blob} NOT NULL,
            create_revision {integer} NOT NULL,
            version {integer} NOT NULL,
            lease {integer} NOT NULL,
            value {blob} NOT NULL,
            tombstone {integer} NOT NULL,
            PRIMARY KEY (revision, sub)
        ){clustered}""",
        "CREATE UNIQUE INDEX IF NOT EXISTS kv_log_by_key ON kv_log (key, revision)",
        f"""CREATE TABLE IF NOT EXISTS kv_current (
            key {blob} NOT NULL PRIMARY KEY,
            create_revision {integer} NOT NULL,
            mod_revision {integer} NOT NULL,
            version {integer} NOT NULL,
            lease {integer} NOT NULL,
            value {blob} NOT NULL
        ){clustered}""",
        "CREATE INDEX IF NOT EXISTS kv_current_by_lease ON kv_current (lease) WHERE lease <> 0",
        f"""CREATE TABLE IF NOT EXISTS kv_lease (
            id {integer} NOT NULL PRIMARY KEY,
            ttl {integer} NOT NULL,
            expires_at {real} NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS kv_lease_by_expiry ON kv_lease (expires_at)",
    ]


_READ_VERSION = "SELECT schema_version FROM kv_meta WHERE id = 1"
_PROBE_WRITE = "UPDATE kv_meta SET schema_version = schema_version WHERE id = 1"
_FIRST_ROW = (
    "INSERT INTO kv_meta (id, schema_version, revision, compact_revision) "
    "VALUES (1, ?, 1, 0) ON CONFLICT (id) DO NOTHING"
)


def ensure_schema(connection: Connection, dialect: Dialect, operation: str = "open") -> None:
    """Create the tables if the database has none; check the schema version otherwise.

    A new store starts at revision 1, as etcd does. Creating takes the write lock, so two
    processes opening a new file at once create it once. An existing database gets a
    write that is rolled back, so that one the store cannot write fails here, at open,
    rather than at its first write.

    Raises:
        ConfigurationError: The database holds a schema of another version, or cannot be
            written or read as a database.
        BackendError: The database failed otherwise.
    """
    with map_errors(dialect, operation):
        version = _version(connection, dialect)
        if version is None:
            dialect.begin(connection, write=True)
            try:
                for statement in schema_statements(dialect):
                    connection.execute(dialect.sql(statement), ())
                connection.execute(dialect.sql(_FIRST_ROW), (SCHEMA_VERSION,))
                version = _version(connection, dialect)
            except BaseException:
                dialect.rollback(connection)
                raise
            dialect.commit(connection)
        elif version == SCHEMA_VERSION:
            dialect.begin(connection, write=True)
            try:
                connection.execute(dialect.sql(_PROBE_WRITE), ())
            finally:
                dialect.rollback(connection)
    if version != SCHEMA_VERSION:
        newer = version is not None and version > SCHEMA_VERSION
        raise ConfigurationError(
            f"{operation}: the database {dialect.description} holds kvstore schema version "
            f"{version}, and this kvstore knows version {SCHEMA_VERSION}"
            + (": upgrade kvstore to open it" if newer else ""),
            operation=operation,
        )


def _version(connection: Connection, dialect: Dialect) -> int | None:
    """The schema version the database holds, ``None`` if it has no kvstore tables."""
    if not dialect.table_exists(connection, "kv_meta"):
        return None
    row = connection.execute(dialect.sql(_READ_VERSION), ()).fetchone()
    return None if row is None else int(row[0])
