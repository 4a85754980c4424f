"""``AsyncSQLiteStore``: the SQL store on a SQLite file (Python's ``sqlite3``, no server).

Several stores, in one process or many, may open the same file: each sees the others'
writes at once, in its reads and its watches. The file's directory must exist (it is not
created); the file and the tables are created on first open.
"""

from __future__ import annotations

import os

from kvstore.keys import MAX_REQUEST_BYTES
from kvstore_sql._async.store import AsyncSQLStore
from kvstore_sql._sqlite import SQLiteDialect
from kvstore_sql.clock import Clock
from kvstore_sql.config import DEFAULT_BUSY_TIMEOUT, SQLiteConfig, Synchronous

__all__ = ["AsyncSQLiteStore"]


class AsyncSQLiteStore(AsyncSQLStore):
    """A store with etcd's semantics in a SQLite file.

    ``sqlite3`` blocks: the asyncio store runs each call on a thread of its own, so the
    event loop never waits for the disk; the sync store runs it on the caller's thread.
    ``kvstore.open_async("sqlite:///app.db")`` builds one.

    Args:
        path: The database file. Its directory must exist.
        synchronous: ``"full"`` (the default: an acknowledged write survives a power loss)
            or ``"normal"`` (faster; a power loss may lose the last writes).
        auto_compact: Keep this many revisions of history (0: keep it all).
        busy_timeout: Seconds a write waits for other processes' writes before it fails
            with ``OperationTimeoutError``.
        clock: Lease expiry's clock (default: the wall clock, which every process on the
            file shares).
        max_txn_ops: Most compares or operations per transaction branch (etcd: 128).
        max_request_bytes: The request size limit (etcd: 1.5 MiB).

    Raises:
        ConfigurationError: An argument is not valid; the file's directory does not exist;
            the file cannot be opened or written, is not a SQLite database, or holds a
            newer kvstore schema than this one knows. The message names the path.
        BackendError: The database failed otherwise.

    Example::

        async with AsyncSQLiteStore("app.db") as store:
            await store.put("config/a", b"1")
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "full",
        auto_compact: int = 0,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Clock | None = None,
        max_txn_ops: int = 128,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.config = SQLiteConfig(
            os.fspath(path),
            synchronous=synchronous,
            auto_compact=auto_compact,
            busy_timeout=busy_timeout,
        )
        self._sqlite = SQLiteDialect(self.config)
        super().__init__(
            self._sqlite,
            clock=clock,
            auto_compact=auto_compact,
            max_txn_ops=max_txn_ops,
            max_request_bytes=max_request_bytes,
        )

    @classmethod
    def from_url(cls, url: str) -> AsyncSQLiteStore:
        """The store a ``sqlite:///path.db?option=...`` URL names (see ``SQLiteConfig``).

        Returns:
            A new ``AsyncSQLiteStore`` on the URL's file.

        Raises:
            ConfigurationError: The URL is malformed, or the store cannot be opened as
                ``AsyncSQLiteStore`` says.
        """
        config = SQLiteConfig.from_url(url)
        return cls(
            config.path,
            synchronous=config.synchronous,
            auto_compact=config.auto_compact,
            busy_timeout=config.busy_timeout,
        )

    @property
    def path(self) -> str:
        """The database file's absolute path."""
        return self._sqlite.path
