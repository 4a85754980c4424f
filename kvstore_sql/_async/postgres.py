"""``AsyncPostgresStore``: the SQL store on PostgreSQL (psycopg 3, the ``[postgres]`` extra).

Every store on the database, in any process, sees the others' writes at once in its reads
and its watches; the tables live in a schema of their own (``kvstore`` by default).
"""

from __future__ import annotations

from kvstore.keys import MAX_REQUEST_BYTES
from kvstore_sql._async.store import AsyncSQLStore
from kvstore_sql._postgres import PostgresDialect
from kvstore_sql.clock import Clock
from kvstore_sql.config import PostgresConfig

__all__ = ["AsyncPostgresStore"]


class AsyncPostgresStore(AsyncSQLStore):
    """A store with etcd's semantics in a PostgreSQL database.

    psycopg's connection is used from the store's worker: a thread of its own for the
    asyncio store, the caller's thread for the sync one.
    ``kvstore.open_async("postgresql://user@host/db")`` builds one.

    Args:
        conninfo: A libpq URI or connection string (it may hold a password: never shown).
        schema: The PostgreSQL schema of the tables (created if missing).
        password: A password given apart from ``conninfo``.
        auto_compact: Keep this many revisions of history (0: keep it all).
        clock: Lease expiry's clock (default: the server's).
        max_txn_ops: Most compares or operations per transaction branch (etcd: 128).
        max_request_bytes: The request size limit (etcd: 1.5 MiB).

    Raises:
        ConfigurationError: psycopg is not installed, an argument is not valid, the
            database does not exist, or holds a newer kvstore schema than this one knows.
        AuthenticationError: The server refused the credentials.
        UnavailableError: The server could not be reached.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = "kvstore",
        password: str | None = None,
        auto_compact: int = 0,
        clock: Clock | None = None,
        max_txn_ops: int = 128,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        self.config = PostgresConfig(
            conninfo, schema=schema, password=password, auto_compact=auto_compact
        )
        super().__init__(
            PostgresDialect(self.config),
            clock=clock,
            auto_compact=auto_compact,
            max_txn_ops=max_txn_ops,
            max_request_bytes=max_request_bytes,
        )

    @classmethod
    def from_url(cls, url: str) -> AsyncPostgresStore:
        """The store a ``postgresql://`` URL names (see ``PostgresConfig``).

        Returns:
            A new ``AsyncPostgresStore``, not connected yet.

        Raises:
            ConfigurationError: The URL is malformed, or as ``AsyncPostgresStore``.
        """
        config = PostgresConfig.from_url(url)
        return cls(
            config.conninfo,
            schema=config.schema,
            password=config.password,
            auto_compact=config.auto_compact,
        )
