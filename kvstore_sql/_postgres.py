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
- A put takes two round trips to the server: ``BEGIN``, the lock, the counter row and
  the key's row in one; every statement it wrote with ``COMMIT`` in the other
  (``defers_writes``). Other writes take one more per read their evaluation makes. The
  statements of one round trip go as one multi-statement query with their parameters
  bound by psycopg on the client (``ClientCursor``): one message, one answer. A server
  error in one of them stops the rest, ``COMMIT`` included, and the transaction is
  rolled back; only a connection lost before the answer leaves the outcome unknown
  (``IndeterminateError``). Writes whose values add up to more than ``INLINE_BYTES`` go
  one statement at a time instead, bound on the server (a value is not copied into the
  query text as hex).
- Every write transaction sends ``NOTIFY`` on the schema's channel (``pg_notify``, with
  the new revision as payload; PostgreSQL delivers it when the transaction commits, in
  commit order). Each store's watch feed ``LISTEN``s on a connection of its own (a
  thread blocked in ``select`` on its socket) and, woken, reads the log from the last
  revision it saw: a notification only says "look now", so a lost one costs at most the
  feed's fallback poll of the counter row (``poll_interval``, 0.5 s). The listener
  reconnects by itself (backoff up to 1 s) and wakes the feed once it listens again.
- A lost connection (``connection_lost``: psycopg marks it broken, or closed) is
  replaced by the engine with a new one.
- Connections run in autocommit mode: the engine says where each transaction begins.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import select
import threading
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from kvstore.errors import ConfigurationError, KVStoreError
from kvstore_sql._dialect import Connection, Dialect, Listener, Write
from kvstore_sql._errors import map_errors, translate_psycopg
from kvstore_sql.clock import Clock, WallClock
from kvstore_sql.config import PostgresConfig

__all__ = ["PostgresDialect"]

_TABLES = ("kv_log", "kv_current", "kv_lease", "kv_meta")

POLL_SECONDS = 0.5
"""The watch feed's fallback poll of the counter row, for lost notifications."""

_LISTEN_BACKOFF_SECONDS = (0.05, 1.0)
"""The listener's first and longest wait between attempts to reconnect."""

_CLOSE_WAIT_SECONDS = 2.0
"""How long closing a store waits for its listener's thread."""

INLINE_BYTES = 64 * 1024
"""The most bytes of values a multi-statement query carries: more go one statement at a
time, with their parameters bound by the server."""

STATEMENTS_PER_QUERY = 100
"""The most statements in one multi-statement query (a delete of many keys writes one
log row each): more go in several, one round trip each."""

CONNECT_TIMEOUT_SECONDS = 10
"""libpq's ``connect_timeout`` when the URL sets none: an unreachable host fails ``open``
with ``UnavailableError`` after this long, instead of hanging for the system's TCP timeout."""


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
    poll_interval = POLL_SECONDS
    defers_writes = True

    def __init__(self, config: PostgresConfig) -> None:
        self._pg = _psycopg()
        self.config = config
        self.driver_errors = (self._pg.Error,)
        self.description = config.description
        self.identity = "postgresql:" + config.description
        # the write lock: one advisory lock key per schema (a signed 64-bit int)
        self._lock_key = zlib.crc32(f"kvstore:{config.schema}".encode())
        # NOTIFY's channel: one per schema (a channel name is at most 63 bytes)
        digest = hashlib.sha256(config.schema.encode()).hexdigest()[:24]
        self.channel = f"kvstore_{digest}"

    @functools.lru_cache(maxsize=512)  # noqa: B019 - statements are few; dialects live long
    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def connect(self, operation: str) -> Connection:
        pg = self._pg
        identifier = pg.sql.Identifier(self.config.schema)
        with map_errors(self, operation):
            connection = self._connect()
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

    def _connect(self) -> Any:
        """A new autocommit connection, as configured (driver errors not translated)."""
        extra: dict[str, Any] = {}
        if self.config.password is not None:
            extra["password"] = self.config.password
        if "connect_timeout" not in self.config.conninfo:
            extra["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        return self._pg.connect(self.config.conninfo, autocommit=True, **extra)

    def listener(self, wake: Callable[[], None]) -> Listener:
        return _Listener(self, wake)

    def connection_lost(self, connection: Connection) -> bool:
        return bool(getattr(connection, "broken", False) or getattr(connection, "closed", False))

    def revision_writes(self, revision: int) -> list[Write]:
        # the counter and the NOTIFY in one statement (RETURNING runs once: one row)
        return [
            (
                "UPDATE kv_meta SET revision = ? WHERE id = 1 RETURNING pg_notify(?, ?)",
                (revision, self.channel, str(revision)),
            )
        ]

    def _schema_exists(self, connection: Any) -> bool:
        row = connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.config.schema,)
        ).fetchone()
        return row is not None

    def begin(self, connection: Connection, *, write: bool) -> None:
        if write:
            # one round trip: without parameters, psycopg sends both statements at once
            # (the simple query protocol); the key is an int of ours, not user input
            connection.execute(  # type: ignore[call-arg]
                f"BEGIN; SELECT pg_advisory_xact_lock({int(self._lock_key)})"
            )
        else:
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ())

    def begin_writing(
        self, connection: Connection, meta: str, prefetch: Sequence[Write] = ()
    ) -> tuple[Any, list[list[Any]]]:
        # BEGIN, the write lock, the counter row and the prefetched reads in one round
        # trip; the cursor's results are the statements', in order
        statements = [f"BEGIN; SELECT pg_advisory_xact_lock({int(self._lock_key)}); {meta}"]
        statements += [read for read, _ in prefetch]
        parameters = [value for _, args in prefetch for value in args]
        cursor = self._pg.ClientCursor(connection)
        cursor.execute(self.sql("; ".join(statements)), parameters or None)
        cursor.nextset()
        cursor.nextset()
        row = cursor.fetchone()
        rows = []
        for _ in prefetch:
            cursor.nextset()
            rows.append(cursor.fetchall())
        return row, rows

    def write(self, connection: Connection, writes: Sequence[Write]) -> None:
        self._send(connection, writes, "")

    def commit(self, connection: Connection, writes: Sequence[Write] = ()) -> None:
        self._send(connection, writes, "COMMIT")

    def _send(self, connection: Connection, writes: Sequence[Write], last: str) -> None:
        """``writes`` then ``last`` (a statement without parameters, or ``""``): in one
        round trip (``STATEMENTS_PER_QUERY`` statements at most a query), or one statement
        at a time when their values are large (``INLINE_BYTES``)."""
        size = sum(len(value) for _, args in writes for value in args if isinstance(value, bytes))
        if size > INLINE_BYTES:
            for statement, args in writes:
                connection.execute(self.sql(statement), args)
            writes = ()
        step = STATEMENTS_PER_QUERY
        chunks = [writes[at : at + step] for at in range(0, len(writes), step)]
        for chunk in chunks[:-1]:
            self._send_query(connection, chunk, "")
        self._send_query(connection, chunks[-1] if chunks else (), last)

    def _send_query(self, connection: Connection, writes: Sequence[Write], last: str) -> None:
        """``writes`` then ``last`` in one multi-statement query (nothing if both empty)."""
        if not writes:
            if last:
                connection.execute(last, ())
            return
        statements = [self.sql(statement) for statement, _ in writes]
        parameters = [value for _, args in writes for value in args]
        query = "; ".join([*statements, last] if last else statements)
        self._pg.ClientCursor(connection).execute(query, parameters)

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


class _Listener:
    """A thread that ``LISTEN``s on the schema's channel, on a connection of its own, and
    calls ``wake`` after each notification (and once each time it starts listening).

    It waits in ``select`` on the connection's socket and on a pipe that ``close``
    writes to, so closing is immediate. A lost connection is reopened, with a backoff
    from 50 ms to 1 s while the server cannot be reached.
    """

    def __init__(self, dialect: PostgresDialect, wake: Callable[[], None]) -> None:
        self._dialect = dialect
        self._wake = wake
        self._stop_read, self._stop_write = os.pipe()
        self._closed = threading.Event()
        self._pipe_lock = threading.Lock()  # the pipe is closed once, by the thread
        self._thread = threading.Thread(
            target=self._run, name=f"kvstore-sql-listen {dialect.description}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop listening: the thread ends and its connection closes. Idempotent. Waits
        for the thread a few seconds at most (it may be in a connection attempt to an
        unreachable server); the thread then ends by itself."""
        with self._pipe_lock:
            if self._closed.is_set():
                return
            self._closed.set()
            os.write(self._stop_write, b"x")
        if self._thread is not threading.current_thread():
            self._thread.join(_CLOSE_WAIT_SECONDS)

    def _close_pipe(self) -> None:
        with self._pipe_lock:
            self._closed.set()
            os.close(self._stop_read)
            os.close(self._stop_write)

    def _run(self) -> None:
        try:
            self._listen_until_closed()
        finally:
            self._close_pipe()

    def _listen_until_closed(self) -> None:
        pg = self._dialect._pg
        first, longest = _LISTEN_BACKOFF_SECONDS
        delay = first
        while not self._closed.is_set():
            try:
                connection = self._dialect._connect()
            except pg.Error:
                self._pause(delay)
                delay = min(delay * 2, longest)
                continue
            try:
                channel = pg.sql.Identifier(self._dialect.channel)
                connection.execute(pg.sql.SQL("LISTEN {}").format(channel))
                delay = first
                self._wake()  # what was written while nobody listened
                self._listen(connection)
            except pg.Error:
                self._pause(delay)
            except Exception:  # noqa: BLE001 - the fallback poll goes on; so do we
                self._pause(delay)
            finally:
                with contextlib.suppress(Exception):
                    connection.close()

    def _pause(self, seconds: float) -> None:
        select.select([self._stop_read], [], [], seconds)

    def _listen(self, connection: Any) -> None:
        """Wake the feed after each notification, until closed or the connection fails
        (then ``psycopg.OperationalError``)."""
        pgconn = connection.pgconn
        sock = pgconn.socket
        while not self._closed.is_set():
            readable, _, _ = select.select([sock, self._stop_read], [], [])
            if self._stop_read in readable:
                return
            pgconn.consume_input()  # raises when the server is gone
            notified = False
            while pgconn.notifies() is not None:
                notified = True
            if notified:
                self._wake()
            if connection.broken or pgconn.status != 0:  # 0: CONNECTION_OK
                raise self._dialect._pg.OperationalError("the listening connection was lost")
