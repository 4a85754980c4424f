"""The ``sqlite://`` plugin for ``kvstore.open`` and ``kvstore.open_async``.

Registered in the ``kvstore`` entry-point group as ``sqlite = "kvstore_sql.plugin"``;
imported only when a ``sqlite://`` URL is opened. ``sqlite:///relative/path.db`` and
``sqlite:////absolute/path.db`` (SQLAlchemy's convention), with the options of
``kvstore_sql.SQLiteConfig`` (``synchronous``, ``auto_compact``, ``busy_timeout``);
the wrapper options (``namespace``, ``encryption_key_file`` ...) are kvstore's own.
"""

from __future__ import annotations

from kvstore.plugins.hookspecs import hookimpl
from kvstore_sql._async.sqlite import AsyncSQLiteStore
from kvstore_sql._sync.sqlite import SQLiteStore

__all__ = ["SCHEMES", "kvstore_open", "kvstore_open_async"]

SCHEMES = frozenset({"sqlite"})
"""URL schemes served."""


@hookimpl
def kvstore_open(url: str, scheme: str) -> SQLiteStore | None:
    """Open a ``SQLiteStore`` for ``sqlite://`` URLs; ``None`` for other schemes.

    Raises:
        ConfigurationError: The URL is malformed, an option is unknown or not valid, or
            the file cannot be used (see ``SQLiteStore``).
    """
    if scheme not in SCHEMES:
        return None
    return SQLiteStore.from_url(url)


@hookimpl
def kvstore_open_async(url: str, scheme: str) -> AsyncSQLiteStore | None:
    """Open an ``AsyncSQLiteStore`` for ``sqlite://`` URLs; ``None`` for other schemes.

    The file is opened (and created) at once: a local file answers without waiting.

    Raises:
        ConfigurationError: As ``kvstore_open``.
    """
    if scheme not in SCHEMES:
        return None
    return AsyncSQLiteStore.from_url(url)
