"""etcd backend for kvstore: ``EtcdStore``, ``AsyncEtcdStore`` (asyncio) and their ``EtcdConfig``.

Example::

    from kvstore_etcd import EtcdConfig, new_async_client, new_client

    store = new_client(EtcdConfig().with_endpoints("10.0.0.1:2379", "10.0.0.2:2379"))
    store.put("config/a", b"1")

    async with new_async_client(EtcdConfig()) as store:   # grpc.aio
        await store.put("config/a", b"1")

``new_client(config)`` is ``EtcdStore(config)`` wrapped as the config says (encryption);
``kvstore.open("etcd://host:2379")`` builds the same store from a URL. The launcher for
throwaway local servers is ``kvstore_etcd.launcher``.

The stores need the ``[etcd]`` extra (grpcio, python3-etcd3, protobuf). Without it this
package still imports, so that ``pip install kvstore`` alone gives a working pytest plugin
and ``EtcdConfig``; then ``EtcdStore`` and ``AsyncEtcdStore`` are absent (using them
raises ``ImportError``), ``new_client()``, ``new_async_client()`` and
``kvstore.open("etcd://...")`` raise ``PluginLoadError``, each naming
``pip install "kvstore[etcd]"``.

The modules of the package import one way, none of them this ``__init__``: ``config``
(the value) below the stores (built from a config), ``client`` above both.
"""

from __future__ import annotations

import typing as _typing

import kvstore_etcd._extra as _extra
from kvstore_etcd.client import new_async_client, new_client
from kvstore_etcd.config import EtcdConfig

try:
    from kvstore_etcd._async.store import AsyncEtcdStore
    from kvstore_etcd.store import EtcdStore
except ImportError as _error:
    if not _extra.is_missing_client(_error):
        raise
    _missing_client = _error
    if not _typing.TYPE_CHECKING:

        def __getattr__(name: str) -> object:
            if name in ("EtcdStore", "AsyncEtcdStore"):
                raise ImportError(
                    _extra.missing_client_message(f"kvstore_etcd.{name}", _missing_client),
                    name=__name__,
                ) from _missing_client
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AsyncEtcdStore", "EtcdConfig", "EtcdStore", "new_async_client", "new_client"]
