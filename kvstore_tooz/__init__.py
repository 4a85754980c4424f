"""kvstore_tooz: a tooz coordination driver on every kvstore backend.

``tooz.coordination.get_coordinator("kvstore+etcd://host:2379", member_id)`` (or
``kvstore+postgresql://...``, ``kvstore+sqlite:///path``, ``kvstore+memory://``) gives
tooz's locks, groups, heartbeats and leader election on kvstore's recipes: see
``kvstore_tooz.driver`` and the documentation page ``docs/tooz.md``. Needs the ``[tooz]``
extra (``pip install "kvstore[tooz]"``).
"""

from __future__ import annotations

from kvstore_tooz.driver import (
    DEFAULT_TIMEOUT,
    GROUP_NAMESPACE,
    SCHEMES,
    KVStoreDriver,
    KVStoreLock,
    kvstore_url,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "GROUP_NAMESPACE",
    "KVStoreDriver",
    "KVStoreLock",
    "SCHEMES",
    "kvstore_url",
]
