"""The ``memory://`` backend plugin, registered through the ``kvstore`` entry point group
exactly as a third-party backend would be.

``memory://`` opens a new, empty ``MemoryStore`` on the system clock (an
``AsyncMemoryStore`` through ``kvstore.open_async``); each call opens an
independent store (there is no shared process-wide instance). Options:
``memory://?max_txn_ops=N``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from kvstore.errors import ConfigurationError
from kvstore.plugins.hookspecs import hookimpl
from kvstore_memory.async_store import AsyncMemoryStore
from kvstore_memory.store import MemoryStore


@hookimpl
def kvstore_open(url: str, scheme: str) -> MemoryStore | None:
    """Open ``memory://`` URLs.

    Raises:
        ConfigurationError: An unknown or malformed option.
    """
    if scheme != "memory":
        return None
    return MemoryStore(max_txn_ops=_max_txn_ops(url))


@hookimpl
def kvstore_open_async(url: str, scheme: str) -> AsyncMemoryStore | None:
    """Open ``memory://`` URLs for the asyncio API (an ``AsyncMemoryStore`` on a new
    ``MemoryStore``).

    Raises:
        ConfigurationError: An unknown or malformed option.
    """
    if scheme != "memory":
        return None
    return AsyncMemoryStore(max_txn_ops=_max_txn_ops(url))


def _max_txn_ops(url: str) -> int:
    """The ``max_txn_ops`` a ``memory://`` URL gives (128, etcd's default, if none)."""
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError("open: memory:// URLs take no host or path", operation="open")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"max_txn_ops"})
    if unknown:
        raise ConfigurationError(
            f"open: unknown memory:// option(s): {', '.join(unknown)}", operation="open"
        )
    if "max_txn_ops" in options:
        raw = options["max_txn_ops"][-1]
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigurationError(
                "open: max_txn_ops must be a positive integer", operation="open"
            )
        return int(raw)
    return 128
