"""``new_client`` and ``new_async_client``: open the store an ``EtcdConfig`` describes.

``EtcdStore(config)`` and ``AsyncEtcdStore(config)`` build the bare store; these also
wrap it as the config says (``EncryptedStore`` when encryption is enabled) with
``kvstore.wrappers.compose.wrap_store``, the composition ``kvstore.open`` uses for every
URL. They sit above both the config and the stores: a store is built from a config, and
the config, a value, knows no store class.

Without the ``[etcd]`` extra (grpcio, python3-etcd3, protobuf) this module still
imports; then both functions raise ``PluginLoadError`` naming
``pip install "kvstore[etcd]"``, and the store modules are imported only once the extra
is known to be there.
"""

from __future__ import annotations

from kvstore.base import AsyncBaseStore, BaseStore
from kvstore.wrappers.compose import wrap_store
from kvstore_etcd._extra import require_client
from kvstore_etcd.config import EtcdConfig

__all__ = ["new_async_client", "new_client"]


def new_client(config: EtcdConfig | None = None) -> BaseStore:
    """Open the store ``config`` describes (default ``EtcdConfig()``: ``localhost:2379``).

    Returns:
        An ``EtcdStore``, wrapped in ``EncryptedStore`` when encryption is enabled.

    Raises:
        ConfigurationError: Encryption is enabled without a valid key (or its key file or
            variable cannot be read), or a setting is unusable (unreadable certificate or
            password file ...).
        PluginLoadError: The ``[etcd]`` extra (the gRPC client) is not installed.
    """
    config = config if config is not None else EtcdConfig()
    keyring = config.resolve_keyring()
    require_client("new_client")
    from kvstore_etcd.store import EtcdStore

    return wrap_store(EtcdStore(config), keyring=keyring)


def new_async_client(config: EtcdConfig | None = None) -> AsyncBaseStore:
    """Open the asyncio store ``config`` describes (connecting lazily, on first use).

    Returns:
        An ``AsyncEtcdStore``, wrapped in ``AsyncEncryptedStore`` when encryption is
        enabled.

    Raises:
        ConfigurationError: As ``new_client``.
        PluginLoadError: The ``[etcd]`` extra (the gRPC client) is not installed.
    """
    config = config if config is not None else EtcdConfig()
    keyring = config.resolve_keyring()
    require_client("new_async_client")
    from kvstore_etcd._async.store import AsyncEtcdStore

    return wrap_store(AsyncEtcdStore(config), keyring=keyring)
