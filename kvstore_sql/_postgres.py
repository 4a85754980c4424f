"""``PostgresDialect``: the SQL backend on PostgreSQL, through psycopg 3 (the ``[postgres]``
extra).

- The tables live in a schema of their own (``PostgresConfig.schema``, created if missing,
  set as the connection's ``search_path``), so several stores share one database.
- A write transaction takes a transaction-level advisory lock of the schema first
  (``pg_advisory_xact_lock``), held until it commits: writers queue on it, so the revision
  counter is read and moved by one writer at a time, in commit order. Under it the
  transaction runs at READ COMMITTED: every statement sees every earlier commit.
- A read transaction is ``REPEATABLE READ READ ONLY``: one snapshot for all its reads.
- Leases expire by the server's clock (``clock_timestamp()``), so that clients with skewed
  clocks agree; a store given a clock of its own (tests) uses that instead.
- Watches learn of other connections' writes by reading the counter row (one cheap
  query per poll of the feed).
- Connections run in autocommit mode: the engine says where each transaction begins.
"""

from __future__ import annotations

import contextlib
import functools
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from kvstore.errors import ConfigurationError, KVStoreError
from kvstore_sql._dialect import Connection, Dialect
from kvstore_sql._errors import map_errors, translate_psycopg
from kvstore_sql.clock import Clock, WallClock
from kvstore_sql.config import PostgresConfig

__all__ = ["PostgresDialect"]

_TABLES = ("kv_log", "kv_current", "kv_lease", "kv_meta")


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ConfigurationError(
            'open: PostgreSQL needs psycopg: pip install "kvstore[postgres]"', operation="open"
        ) from exc
    return psycopg


class PostgresDialect(Dialect):
    """A PostgreSQL database (one schema of it).

    Raises:
        ConfigurationError: psycopg is not installed (the message names the extra).
    """

    name = "postgresql"
    blob_type = "BYTEA"
    integer_type = "BIGINT"
    real_type = "DOUBLE PRECISION"

    def __init__(self, config: PostgresConfig) -> None:
        self._pg = _psycopg()
        self.config = config
        self.driver_errors = (self._pg.Error,)
        self.description = config.description
        self.identity = "postgresql:" + config.description
        # the write lock: one advisory lock key per schema (a signed 64-bit int)
        self._lock_key = zlib.crc32(f"kvstore:{config.schema}".encode())

    @functools.lru_cache(maxsize=512)  # noqa: B019 - statements are few; dialects live long
    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def connect(self, operation: str) -> Connection:
        pg = self._pg
        identifier = pg.sql.Identifier(self.config.schema)
        with map_errors(self, operation):
            extra = {} if self.config.password is None else {"password": self.config.password}
            connection = pg.connect(self.config.conninfo, autocommit=True, **extra)
            try:
                if not self._schema_exists(connection):
                    # UniqueViolation: another process created it at the same moment
                    with contextlib.suppress(pg.errors.UniqueViolation):
                        connection.execute(
                            pg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(identifier)
                        )
                connection.execute(pg.sql.SQL("SET search_path TO {}").format(identifier))
            except BaseException:
                connection.close()
                raise
        return connection  # type: ignore[no-any-return]

    def _schema_exists(self, connection: Any) -> bool:
        row = connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.config.schema,)
        ).fetchone()
        return row is not None

    def begin(self, connection: Connection, *, write: bool) -> None:
        if write:
            connection.execute("BEGIN", ())
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
        else:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ())

    def execute_many(
        self, connection: Connection, statement: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        with connection.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.executemany(self.sql(statement), rows)

    def table_exists(self, connection: Connection, table: str) -> bool:
        row = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self.config.schema}.{table}",)
        ).fetchone()
        return bool(row[0])

    def change_detector(self, connection: Connection) -> Callable[[], bool]:
        last: list[int | None] = [None]

        def changed() -> bool:
            row = connection.execute("SELECT revision FROM kv_meta WHERE id = 1", ()).fetchone()
            seen, last[0] = last[0], None if row is None else int(row[0])
            return seen != last[0]

        return changed

    def now(self, connection: Connection, clock: Clock) -> float:
        if not isinstance(clock, WallClock):
            return clock.now()  # a store given a clock of its own (tests) keeps it
        row = connection.execute("SELECT extract(epoch FROM clock_timestamp())", ()).fetchone()
        return float(row[0])

    def database_size(self, connection: Connection) -> int:
        row = connection.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (self.config.schema,),
        ).fetchone()
        return int(row[0])

    def vacuum(self, connection: Connection) -> None:
        connection.execute(f"VACUUM {', '.join(_TABLES)}", ())

    def server_version(self, connection: Connection) -> str:
        row = connection.execute("SHOW server_version", ()).fetchone()
        return f"PostgreSQL {row[0]}"

    def translate(
        self, error: BaseException, *, operation: str, key: str | None, committing: bool
    ) -> KVStoreError:
        return translate_psycopg(
            error, operation=operation, database=self.description, key=key, committing=committing
        )

    def __repr__(self) -> str:
        return f"PostgresDialect({self.description!r})"
