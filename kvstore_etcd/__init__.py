"""etcd backend for kvstore: ``EtcdStore`` and its ``EtcdConfig``.

Example::

    from kvstore_etcd import EtcdConfig

    store = EtcdConfig().with_endpoints("10.0.0.1:2379", "10.0.0.2:2379").new_client()
    store.put("config/a", b"1")

``kvstore.open("etcd://host:2379")`` builds the same store from a URL. The launcher for
throwaway local servers is in ``kvstore_etcd.testing``.
"""

from __future__ import annotations

from kvstore_etcd.config import EtcdConfig
from kvstore_etcd.store import EtcdStore

__all__ = ["EtcdConfig", "EtcdStore"]
