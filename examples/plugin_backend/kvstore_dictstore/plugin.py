"""The ``dictstore://`` plugin: a pluggy ``kvstore_open`` hook, found by entry point."""

from __future__ import annotations

from urllib.parse import urlsplit

from kvstore import ConfigurationError, hookimpl
from kvstore_dictstore import DictStore


@hookimpl
def kvstore_open(url: str, scheme: str) -> DictStore | None:
    """Open ``dictstore://`` URLs (no host, path or options); ``None`` for other schemes.

    Raises:
        ConfigurationError: The URL has a host, a path or options.
    """
    if scheme != "dictstore":
        return None
    parts = urlsplit(url)
    if parts.netloc or parts.path not in ("", "/") or parts.query:
        raise ConfigurationError("open: dictstore:// URLs take no host, path or options")
    return DictStore()
