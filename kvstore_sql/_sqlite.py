"""``SQLiteDialect``: the SQL backend on a SQLite file, through the standard ``sqlite3``.

- WAL mode: readers never wait for the writer, and a reader's transaction sees one
  snapshot; ``synchronous=FULL`` by default (``normal`` on request, see ``SQLiteConfig``).
  SQLite checkpoints the log into the file every 1000 pages, and a checkpoint truncates
  it to 64 MiB, so a file under constant writes keeps a bounded log.
- A write transaction starts with ``BEGIN IMMEDIATE``, which takes the file's write lock
  at once: writers of every process queue on it (up to the busy timeout), and so the
  revision counter is read and moved by one writer at a time, in commit order. A read
  transaction is a plain ``BEGIN``: its first read fixes its snapshot.
- Other processes' writes are seen by ``PRAGMA data_version``, which changes on a
  connection whenever another connection committed: one cheap call per poll.
- Connections run in autocommit mode (``isolation_level=None``): the engine says where
  each transaction begins and ends.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from kvstore.errors import ConfigurationError, KVStoreError
from kvstore_sql._dialect import Connection, Dialect
from kvstore_sql._errors import map_errors, translate_sqlite
from kvstore_sql.config import SQLiteConfig

__all__ = ["SQLiteDialect"]

_WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the write-ahead log keeps after a checkpoint (it grows past them only while a
burst of writes outruns the checkpoints SQLite runs every 1000 pages)."""


class SQLiteDialect(Dialect):
    """A SQLite database file.

    Args:
        config: The file and its settings. The path is made absolute once, here, so a
            later change of the working directory does not move the store.
    """

    name = "sqlite"
    driver_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    clustered_table_suffix = " WITHOUT ROWID"

    def __init__(self, config: SQLiteConfig) -> None:
        self.config = config
        self.path = os.path.abspath(config.path)
        self.identity = "sqlite:" + os.path.realpath(self.path)
        self.description = self.path

    def connect(self, operation: str) -> Connection:
        directory = os.path.dirname(self.path)
        if not os.path.isdir(directory):
            raise ConfigurationError(
                f"{operation}: cannot use the SQLite database {self.path}: its directory "
                "does not exist (kvstore does not create it)",
                operation=operation,
            )
        with map_errors(self, operation):
            connection = sqlite3.connect(
                self.path,
                timeout=self.config.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            try:
                (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
                if str(mode).lower() != "wal":
                    raise ConfigurationError(
                        f"{operation}: the SQLite database {self.path} cannot use WAL mode "
                        f"(it stays in {mode!r} mode)",
                        operation=operation,
                    )
                connection.execute(f"PRAGMA synchronous={self.config.synchronous.upper()}")
                # after a burst of writes, a checkpoint cuts the WAL back to this size
                connection.execute(f"PRAGMA journal_size_limit={_WAL_SIZE_LIMIT}")
            except BaseException:
                connection.close()
                raise
        return connection

    def begin(self, connection: Connection, *, write: bool) -> None:
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN", ())

    def execute_many(
        self, connection: Connection, statement: str, rows: Sequence[Sequence[Any]]
    ) -> None:
        assert isinstance(connection, sqlite3.Connection)
        connection.executemany(statement, rows)

    def table_exists(self, connection: Connection, table: str) -> bool:
        row = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        return row is not None

    def change_detector(self, connection: Connection) -> Callable[[], bool]:
        last: list[int | None] = [None]

        def changed() -> bool:
            (version,) = connection.execute("PRAGMA data_version", ()).fetchone()
            seen, last[0] = last[0], int(version)
            return seen != last[0]

        return changed

    def database_size(self, connection: Connection) -> int:
        (pages,) = connection.execute("PRAGMA page_count", ()).fetchone()
        (page_size,) = connection.execute("PRAGMA page_size", ()).fetchone()
        return int(pages) * int(page_size)

    def vacuum(self, connection: Connection) -> None:
        connection.execute("VACUUM", ())
        # the WAL holds the vacuumed copy until a checkpoint: fold it in and shrink it
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)", ())

    def server_version(self, connection: Connection) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def translate(
        self, error: BaseException, *, operation: str, key: str | None, committing: bool
    ) -> KVStoreError:
        return translate_sqlite(
            error,
            operation=operation,
            database=self.path,
            busy_timeout=self.config.busy_timeout,
            key=key,
            committing=committing,
        )

    def __repr__(self) -> str:
        return f"SQLiteDialect({self.path!r})"
