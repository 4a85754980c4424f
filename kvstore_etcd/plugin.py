"""The ``etcd`` / ``etcds`` plugin for ``kvstore.open``.

Registered in the ``kvstore`` entry-point group as ``etcd = "kvstore_etcd.plugin"``;
imported only when an ``etcd://`` or ``etcds://`` URL is opened.
"""

from __future__ import annotations

from kvstore.base import BaseStore
from kvstore.hookspecs import hookimpl
from kvstore_etcd.config import EtcdConfig

__all__ = ["SCHEMES", "kvstore_open"]

SCHEMES = frozenset({"etcd", "etcds"})
"""URL schemes served: ``etcds`` is etcd over TLS."""


@hookimpl
def kvstore_open(url: str, scheme: str) -> BaseStore | None:
    """Open an etcd store for ``etcd://`` and ``etcds://`` URLs.

    Args:
        url: For example ``"etcd://user@h1:2379,h2:2379?request_timeout=2.5"``.
        scheme: The URL's lower-cased scheme.

    Returns:
        The store (``EncryptedStore``-wrapped if the URL enables encryption), or ``None``
        for other schemes.

    Raises:
        ConfigurationError: The URL is malformed.
    """
    if scheme not in SCHEMES:
        return None
    return EtcdConfig.from_url(url).new_client()
