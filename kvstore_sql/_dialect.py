"""``Dialect``: what one database adds to the SQL backend, and nothing more.

The engine (``kvstore_sql._engine``) holds every statement and all of etcd's logic, written
once in portable SQL with ``?`` placeholders. A dialect supplies what differs between
databases (as SQLAlchemy's dialects do):

- opening a connection, with the database's settings (``connect``);
- the column types of the schema (``blob_type``, ``integer_type``, ``real_type``);
- the placeholders (``sql``: ``?`` for sqlite3, ``%s`` for psycopg);
- how a write transaction takes the database's write lock (``begin``: SQLite's
  ``BEGIN IMMEDIATE``; PostgreSQL locks the counter row);
- whether a table exists (``table_exists``);
- how a watcher learns that another connection wrote (``change_detector``: SQLite's
  ``PRAGMA data_version``; PostgreSQL's LISTEN/NOTIFY);
- what a write tells watchers (``revision_writes``: nothing on SQLite, ``NOTIFY`` on
  PostgreSQL) and whose clock leases expire by (``now``: the store's on SQLite, the
  server's on PostgreSQL);
- whether a write transaction's statements are held back and sent together, with the
  next read or with ``COMMIT`` (``defers_writes``: round trips saved on a server;
  SQLite, in the process, runs each at once);
- the database's size, ``VACUUM``, its version string;
- its driver's exceptions and their translation (in ``kvstore_sql._errors``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kvstore.errors import KVStoreError
from kvstore_sql._statements import SET_REVISION
from kvstore_sql.clock import Clock

__all__ = ["Connection", "Cursor", "Dialect", "Listener", "Write"]

Write = tuple[str, Sequence[Any]]
"""A statement of a write transaction (the engine's ``?`` placeholders) and its parameters."""


class Cursor(Protocol):
    """The part of a DB-API cursor the engine uses."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the engine uses (``sqlite3`` and ``psycopg`` have
    ``execute`` on the connection itself)."""

    def execute(self, sql: str, parameters: Sequence[Any], /) -> Any: ...

    def close(self) -> None: ...


class Listener(Protocol):
    """What ``Dialect.listener`` returns: a running listener, stopped by ``close``."""

    def close(self) -> None: ...


class Dialect(abc.ABC):
    """One database: how to connect to it and what its SQL needs.

    Attributes:
        name: The database system, as OpenTelemetry's ``db.system.name`` names it
            (``"sqlite"``, ``"postgresql"``).
        identity: Names the database for the stores of one process, so that a write
            through one store wakes the watches of the others at once.
        description: How messages name the database (a path or a URL without password).
        driver_errors: The driver's exception classes (translated by ``translate``).
        blob_type, integer_type, real_type: Column types for bytes, 64-bit integers and
            floating-point seconds.
        clustered_table_suffix: What follows ``CREATE TABLE (...)`` to store a table in
            the order of its primary key (SQLite's ``WITHOUT ROWID``).
        poll_interval: Seconds between a watch feed's looks at ``change_detector``: the
            only way SQLite learns of other processes' writes (so, often); a fallback
            for lost notifications where the database pushes them (``listener``).
        defers_writes: The engine holds a write transaction's statements back and hands
            them to ``write`` before its next read, or to ``commit``: a dialect that sends
            them in one message saves a round trip to the server per statement.
    """

    name: str
    identity: str
    description: str
    driver_errors: tuple[type[BaseException], ...]
    blob_type = "BLOB"
    integer_type = "INTEGER"
    real_type = "REAL"
    clustered_table_suffix = ""
    poll_interval = 0.02
    defers_writes = False

    @abc.abstractmethod
    def connect(self, operation: str) -> Connection:
        """A new connection, configured, the schema not checked.

        Raises:
            ConfigurationError: The database cannot be opened as configured.
            BackendError: The database failed otherwise.
        """

    @abc.abstractmethod
    def begin(self, connection: Connection, *, write: bool) -> None:
        """Start a transaction; a write transaction waits for the database's write lock,
        so that writers queue in commit order (the revision counter needs it)."""

    def begin_writing(
        self, connection: Connection, meta: str, prefetch: Sequence[Write] = ()
    ) -> tuple[Any, list[list[Any]]]:
        """``begin(write=True)``, then the first row of ``meta`` (no parameters, or
        ``None``) and the rows of each ``prefetch`` read, all in the transaction. A
        dialect may send them at once (PostgreSQL: one round trip to the server)."""
        self.begin(connection, write=True)
        row = connection.execute(self.sql(meta), ()).fetchone()
        return row, [connection.execute(self.sql(read), args).fetchall() for read, args in prefetch]

    def write(self, connection: Connection, writes: Sequence[Write]) -> None:
        """Run ``writes``, in order, in the current transaction."""
        for statement, parameters in writes:
            connection.execute(self.sql(statement), parameters)

    def commit(self, connection: Connection, writes: Sequence[Write] = ()) -> None:
        """Run ``writes`` (held back: ``defers_writes``), then commit the transaction."""
        self.write(connection, writes)
        connection.execute("COMMIT", ())

    def rollback(self, connection: Connection) -> None:
        """Roll the transaction back."""
        connection.execute("ROLLBACK", ())

    def sql(self, statement: str) -> str:
        """``statement`` with the driver's placeholders for the engine's ``?``."""
        return statement

    def execute_many(
        self, connection: Connection, statement: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        """Run ``statement`` once per row (a driver may batch them)."""
        for row in rows:
            connection.execute(self.sql(statement), row)

    @abc.abstractmethod
    def table_exists(self, connection: Connection, table: str) -> bool:
        """Whether the database has the table ``table`` (where the store keeps its tables)."""

    @abc.abstractmethod
    def change_detector(self, connection: Connection) -> Callable[[], bool]:
        """A function that says whether another connection may have committed since it
        last answered (its first answer is true). Cheap: a watch feed calls it every few
        milliseconds, on ``connection`` only."""

    def listener(self, wake: Callable[[], None]) -> Listener | None:
        """Start listening for other connections' writes, calling ``wake`` (from a thread
        of the listener's) after each, and once whenever listening (re)starts, since
        writes may have been missed meanwhile. ``None``: the database pushes nothing
        (SQLite), the feed polls ``change_detector``."""
        return None

    def connection_lost(self, connection: Connection) -> bool:
        """Whether ``connection`` is gone (the server closed it, the network broke it):
        the engine then opens a new one. SQLite's connections are never lost."""
        return False

    def revision_writes(self, revision: int) -> list[Write]:
        """The statements that move the revision counter to ``revision`` in a write
        transaction. A database that pushes changes to watchers says so in them too
        (PostgreSQL: ``NOTIFY``, delivered on commit, in the counter's ``UPDATE``);
        SQLite's watchers poll."""
        return [(SET_REVISION, (revision,))]

    def now(self, connection: Connection, clock: Clock) -> float:
        """The time leases expire by, in seconds since the epoch: the store's ``clock``
        (SQLite: every process on the file shares the machine's clock). A server database
        answers with its own clock instead (PostgreSQL's ``now()``), so that clients with
        skewed clocks agree."""
        return clock.now()

    @abc.abstractmethod
    def database_size(self, connection: Connection) -> int:
        """The size of the database in bytes (``status().db_size``)."""

    @abc.abstractmethod
    def vacuum(self, connection: Connection) -> None:
        """Give free space back to the file system (``defragment``)."""

    @abc.abstractmethod
    def server_version(self, connection: Connection) -> str:
        """The database and its version, for ``status().version``."""

    @abc.abstractmethod
    def translate(
        self, error: BaseException, *, operation: str, key: str | None, committing: bool
    ) -> KVStoreError:
        """The kvstore error for a driver error (see ``kvstore_sql._errors``)."""
