"""The ``sqlite://`` and ``postgresql://`` plugin for ``kvstore.open`` and ``kvstore.open_async``.

Registered in the ``kvstore`` entry-point group as ``sqlite``, ``postgresql`` and
``postgres``; imported only when such a URL is opened. ``sqlite:///relative/path.db`` and
``sqlite:////absolute/path.db`` (SQLAlchemy's convention), with the options of
``kvstore_sql.SQLiteConfig`` (``synchronous``, ``auto_compact``, ``busy_timeout``);
``postgresql://user@host:5432/dbname`` (a libpq URI) with those of
``kvstore_sql.PostgresConfig`` (``schema``, ``password_env``, ``password_file``,
``auto_compact``). The wrapper options (``namespace``, ``encryption_key_file`` ...) are
kvstore's own.
"""

from __future__ import annotations

from kvstore.base import AsyncBaseStore, BaseStore
from kvstore.plugins.hookspecs import hookimpl
from kvstore_sql._async.postgres import AsyncPostgresStore
from kvstore_sql._async.sqlite import AsyncSQLiteStore
from kvstore_sql._sync.postgres import PostgresStore
from kvstore_sql._sync.sqlite import SQLiteStore

__all__ = ["POSTGRES_SCHEMES", "SCHEMES", "kvstore_open", "kvstore_open_async"]

POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
"""The PostgreSQL schemes (libpq's two)."""

SCHEMES = frozenset({"sqlite"}) | POSTGRES_SCHEMES
"""URL schemes served."""


@hookimpl
def kvstore_open(url: str, scheme: str) -> BaseStore | None:
    """Open a ``SQLiteStore`` for ``sqlite://`` URLs, a ``PostgresStore`` for
    ``postgresql://`` ones; ``None`` for other schemes.

    Raises:
        ConfigurationError: The URL is malformed, an option is unknown or not valid, the
            file or database cannot be used (see the stores), or psycopg is missing for
            PostgreSQL (the message names ``pip install "kvstore[postgres]"``).
        BackendError: PostgreSQL could not be reached or refused the credentials.
    """
    if scheme in POSTGRES_SCHEMES:
        return PostgresStore.from_url(url)
    if scheme not in SCHEMES:
        return None
    return SQLiteStore.from_url(url)


@hookimpl
def kvstore_open_async(url: str, scheme: str) -> AsyncBaseStore | None:
    """Open an ``AsyncSQLiteStore`` or ``AsyncPostgresStore``; ``None`` for other schemes.

    The database is opened (the file created, the tables too) at once.

    Raises:
        ConfigurationError, BackendError: As ``kvstore_open``.
    """
    if scheme in POSTGRES_SCHEMES:
        return AsyncPostgresStore.from_url(url)
    if scheme not in SCHEMES:
        return None
    return AsyncSQLiteStore.from_url(url)
