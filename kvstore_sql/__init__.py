"""kvstore_sql: etcd's semantics on SQL databases; SQLite now, PostgreSQL next.

``SQLiteStore`` / ``AsyncSQLiteStore`` keep a store in a SQLite file (the standard
library's ``sqlite3``, no server): revisions, history and compaction, transactions,
watches and leases as etcd has them, shared by every process that opens the file.
``kvstore.open("sqlite:///app.db")`` builds one (``SQLiteConfig`` lists the URL's
options). ``SQLStore`` / ``AsyncSQLStore`` are the database-neutral stores they build on.

Errors: everything is a ``kvstore`` error. A file that cannot be used (its directory does
not exist, it cannot be written, it is not a SQLite database, or a newer kvstore wrote
it) raises ``ConfigurationError`` naming the path, when the store is built; a write that
waited for other processes' writes longer than the busy timeout raises
``OperationTimeoutError``; an I/O failure raises ``UnavailableError`` (nothing written)
or, from the commit itself, ``IndeterminateError``.
"""

from __future__ import annotations

from kvstore_sql._async.postgres import AsyncPostgresStore
from kvstore_sql._async.sqlite import AsyncSQLiteStore
from kvstore_sql._async.store import AsyncSQLStore
from kvstore_sql._sync.postgres import PostgresStore
from kvstore_sql._sync.sqlite import SQLiteStore
from kvstore_sql._sync.store import SQLStore
from kvstore_sql.clock import Clock, WallClock
from kvstore_sql.config import PostgresConfig, SQLiteConfig

__all__ = [
    "AsyncPostgresStore",
    "AsyncSQLStore",
    "AsyncSQLiteStore",
    "Clock",
    "PostgresConfig",
    "PostgresStore",
    "SQLStore",
    "SQLiteConfig",
    "SQLiteStore",
    "WallClock",
]
