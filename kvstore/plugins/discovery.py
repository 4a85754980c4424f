"""Backend discovery: ``kvstore.open(url)``, ``kvstore.backends()``, local servers.

Backends are pluggy plugins listed in the ``kvstore`` entry-point group, one entry per
URL scheme. Entry points are read without importing anything; a backend's module is
imported only when its scheme is used (a store opened, or a local server started). A
plugin that fails to import raises ``PluginLoadError`` naming it, and leaves the other
plugins usable. Two schemes may name the same module; it is registered once.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
from typing import TYPE_CHECKING, Any, Literal

import pluggy

from kvstore.errors import (
    BackendNotFoundError,
    ConfigurationError,
    PluginLoadError,
    UnsupportedOperationError,
)
from kvstore.plugins import hookspecs
from kvstore.wrappers.compose import WrapperOptions, split_url, wrap_store

if TYPE_CHECKING:
    from kvstore._async.base import AsyncBaseStore
    from kvstore._async.protocol import AsyncKVStore
    from kvstore._sync.base import BaseStore
    from kvstore._sync.protocol import KVStore
    from kvstore.plugins.hookspecs import LocalServer

__all__ = [
    "backends",
    "open_async",
    "open_async_base_store",
    "open_base_store",
    "open_store",
    "scheme_of",
    "start_local_server",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_manager_lock = threading.Lock()
_manager: pluggy.PluginManager | None = None


def _plugin_manager() -> pluggy.PluginManager:
    global _manager
    with _manager_lock:
        if _manager is None:
            manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
            manager.add_hookspecs(hookspecs)
            _manager = manager
        return _manager


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    points = importlib.metadata.entry_points(group=hookspecs.PROJECT_NAME)
    return {point.name.lower(): point for point in points}


def backends() -> list[str]:
    """The URL schemes of the installed backends, sorted (no backend is imported).

    Returns:
        The scheme of each installed backend's entry point, sorted
        (``["etcd", "etcds", "memory", ...]``).
    """
    return sorted(_entry_points())


def scheme_of(url: str) -> str:
    """The lower-cased scheme of ``url``.

    Returns:
        The scheme, lower-cased (``"etcd"`` for ``"ETCD://h:2379"``).

    Raises:
        ConfigurationError: ``url`` is not a ``str`` of the form ``scheme://...``.
    """
    match = _SCHEME.match(url) if isinstance(url, str) else None
    if match is None:
        raise ConfigurationError(
            "open: a store URL looks like 'etcd://host:2379' or 'memory://'",
            operation="open",
        )
    return match.group(1).lower()


def _plugin_for(scheme: str, operation: str) -> str:
    """Register the plugin of ``scheme`` (importing it on first use) and return its name."""
    points = _entry_points()
    point = points.get(scheme)
    if point is None:
        known = tuple(sorted(points))
        raise BackendNotFoundError(
            f"{operation}: no backend for scheme {scheme!r}; "
            f"installed: {', '.join(known) or 'none'}",
            scheme=scheme,
            known=known,
            operation=operation.replace(" ", "_"),
        )
    manager = _plugin_manager()
    with _manager_lock:
        if manager.has_plugin(point.name):
            return point.name
        try:
            plugin = point.load()
            # Another scheme may have registered the same module already (etcd, etcds).
            if not manager.is_registered(plugin):
                manager.register(plugin, name=point.name)
        except Exception as exc:
            raise PluginLoadError(
                f"{operation}: the backend plugin {point.name!r} ({point.value}) failed to "
                f"load: {type(exc).__name__}: {exc}",
                plugin=point.name,
                operation=operation.replace(" ", "_"),
            ) from exc
    return point.name


def open_store(url: str) -> KVStore:
    """Open a store from a URL: ``etcd://host:2379``, ``memory://``, or a plugin's scheme.

    The wrapper options (``?namespace=``, ``?encryption_key_file=`` /
    ``?encryption_key_env=``, ``?compress=1``) are taken out of the URL for every scheme
    and composed by ``kvstore.wrappers.compose.wrap_store``; the backend's plugin gets the rest.

    Args:
        url: ``scheme://...``; passwords in it are accepted but never echoed.

    Returns:
        The opened store, wrapped as the URL asks: a ``KVStore`` (every store kvstore
        builds is a ``BaseStore``, which satisfies it; type your code against
        ``KVStore``).

    Raises:
        ConfigurationError: ``url`` is malformed, or a wrapper option is unusable.
        BackendNotFoundError: No installed backend serves the scheme; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
    """
    return open_base_store(url)


def open_base_store(url: str) -> BaseStore:
    """``kvstore.open``, typed as the ``BaseStore`` it returns, for code that calls the
    primitives (``kv_range`` ...) or reads ``capabilities``: the CLI, the web UI, a
    wrapper's author. Applications type against ``KVStore`` and use ``kvstore.open``.

    Returns:
        The store, not connected yet, inside the wrappers the URL's options ask for (``namespace=``,
        ``encryption_key=`` ...).

    Raises:
        ConfigurationError: ``url`` is malformed, or a wrapper option is unusable.
        BackendNotFoundError: No installed backend serves the scheme; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
    """
    store, wrappers = _open_backend(url, "open")
    opened: BaseStore = store
    return wrap_store(opened, **wrappers)


def open_async(url: str) -> AsyncKVStore:
    """Open an asyncio store from a URL; the asyncio twin of ``kvstore.open``.

    Returns at once: the store connects on first use, inside the running event loop.
    Use it as ``async with kvstore.open_async(url) as store:``, or ``await
    store.aclose()``. The URL and its wrapper options are those of ``kvstore.open``;
    the wrappers are the asyncio ones (``AsyncNamespacedStore`` ...).

    Args:
        url: ``scheme://...``; passwords in it are accepted but never echoed.

    Returns:
        The asyncio store (an ``AsyncKVStore``), wrapped as the URL asks.

    Raises:
        ConfigurationError: ``url`` is malformed, or a wrapper option is unusable.
        BackendNotFoundError: No installed backend serves the scheme; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
        UnsupportedOperationError: The backend has no asyncio store.
    """
    return open_async_base_store(url)


def open_async_base_store(url: str) -> AsyncBaseStore:
    """``kvstore.open_async``, typed as the ``AsyncBaseStore`` it returns (see
    ``open_base_store``).

    Returns:
        The asyncio store, not connected yet (it connects on first use, inside the caller's event
        loop), inside the wrappers the URL's options ask for.

    Raises:
        ConfigurationError: ``url`` is malformed, or a wrapper option is unusable.
        BackendNotFoundError: No installed backend serves the scheme; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
        UnsupportedOperationError: The backend has no asyncio store.
    """
    store, wrappers = _open_backend(url, "open_async")
    opened: AsyncBaseStore = store
    return wrap_store(opened, **wrappers)


def _open_backend(url: str, operation: Literal["open", "open_async"]) -> tuple[Any, WrapperOptions]:
    """The backend's store for ``url`` (from the plugin's ``kvstore_open`` or
    ``kvstore_open_async`` hook, the operation's name) and the URL's wrapper options."""
    scheme = scheme_of(url)
    backend_url, wrappers = split_url(url)
    plugin = _plugin_for(scheme, operation)
    hook = getattr(_plugin_manager().hook, f"kvstore_{operation}")
    store = hook(url=backend_url, scheme=scheme)
    if store is not None:
        return store, wrappers
    if operation == "open_async":
        raise UnsupportedOperationError(
            f"open_async: the backend plugin {plugin!r} has no asyncio store for {scheme!r}",
            operation="open_async",
        )
    raise PluginLoadError(
        f"open: the backend plugin {plugin!r} did not open scheme {scheme!r}", plugin=plugin
    )


def start_local_server(
    scheme: str = "etcd",
    *,
    port: int | None = None,
    data_dir: str | None = None,
    binary: str | None = None,
) -> LocalServer:
    """Start a local development server from the backend plugin that serves ``scheme``.

    Use it as a context manager, or call ``stop()``: the server is not meant to outlive
    the process that started it.

    Args:
        scheme: The backend's URL scheme; the server's ``url`` uses it.
        port: The client port on 127.0.0.1; ``None`` picks a free one.
        data_dir: Keep the server's data here; ``None`` uses a temporary directory that
            ``stop()`` removes.
        binary: The server executable; ``None`` means the plugin's default.

    Returns:
        The running server.

    Raises:
        BackendNotFoundError: No installed backend serves ``scheme``; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
        UnsupportedOperationError: The backend's plugin cannot start a local server.
        ConfigurationError: The plugin found no server executable, or an argument is unusable.
        BackendError: The server did not start.
    """
    scheme = scheme.lower()
    plugin = _plugin_for(scheme, "local server")
    server = _plugin_manager().hook.kvstore_local_server(
        scheme=scheme, port=port, data_dir=data_dir, binary=binary
    )
    if server is None:
        raise UnsupportedOperationError(
            f"local server: the backend plugin {plugin!r} cannot start a local {scheme!r} server",
            operation="local_server",
        )
    return server  # type: ignore[no-any-return]
