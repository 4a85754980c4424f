"""etcd backend for kvstore: ``EtcdStore``, ``AsyncEtcdStore`` (asyncio) and their ``EtcdConfig``.

Example::

    from kvstore_etcd import EtcdConfig

    store = EtcdConfig().with_endpoints("10.0.0.1:2379", "10.0.0.2:2379").new_client()
    store.put("config/a", b"1")

    async with EtcdConfig().new_async_client() as store:   # grpc.aio
        await store.put("config/a", b"1")

``kvstore.open("etcd://host:2379")`` builds the same store from a URL. The launcher for
throwaway local servers is ``kvstore_etcd.launcher``.

The stores need the ``[etcd]`` extra (grpcio, python3-etcd3, protobuf). Without it this
package still imports, so that ``pip install kvstore`` alone gives a working pytest plugin
and ``EtcdConfig``; then ``EtcdStore`` and ``AsyncEtcdStore`` are absent (using them
raises ``ImportError``), ``EtcdConfig.new_client()``, ``new_async_client()`` and
``kvstore.open("etcd://...")`` raise ``PluginLoadError``, each naming
``pip install "kvstore[etcd]"``.

This module is the composition root of the package: ``store`` imports ``config`` (a store
is built from a config), so ``config`` cannot import ``store`` back without an import
cycle. Instead, once both are imported, this module hands ``EtcdStore`` and
``AsyncEtcdStore`` to ``config`` (``bind_store_class``), which is what
``EtcdConfig.new_client()`` and ``new_async_client()`` instantiate. Python
runs a package's ``__init__`` before any of its submodules can be used, so the class is
bound whenever the extra is installed.
"""

from __future__ import annotations

import typing as _typing

from kvstore_etcd import _extra
from kvstore_etcd import config as _config
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

else:
    _config.bind_store_class(EtcdStore, AsyncEtcdStore)

__all__ = ["AsyncEtcdStore", "EtcdConfig", "EtcdStore"]
