"""The ``memory://`` backend plugin, registered through the ``kvstore`` entry point group
exactly as a third-party backend would be.

``memory://`` opens a new, empty ``MemoryStore`` on the system clock; each call opens an
independent store (there is no shared process-wide instance). Options:
``memory://?max_txn_ops=N``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from kvstore.errors import ConfigurationError
from kvstore.hookspecs import hookimpl
from kvstore_memory.store import MemoryStore


@hookimpl
def kvstore_open(url: str, scheme: str) -> MemoryStore | None:
    """Open ``memory://`` URLs.

    Raises:
        ConfigurationError: An unknown or malformed option.
    """
    if scheme != "memory":
        return None
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
        return MemoryStore(max_txn_ops=int(raw))
    return MemoryStore()
