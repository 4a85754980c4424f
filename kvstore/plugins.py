"""Backend discovery: ``kvstore.open(url)`` and ``kvstore.backends()``.

Backends are pluggy plugins listed in the ``kvstore`` entry-point group, one entry per
URL scheme. Entry points are read without importing anything; a backend's module is
imported only when its scheme is opened. A plugin that fails to import raises
``PluginLoadError`` naming it, and leaves the other plugins usable.
"""

from __future__ import annotations

import importlib.metadata
import re
import threading
from typing import TYPE_CHECKING

import pluggy

from kvstore import hookspecs
from kvstore.errors import BackendNotFoundError, ConfigurationError, PluginLoadError

if TYPE_CHECKING:
    from kvstore.base import BaseStore

__all__ = ["backends", "open_store", "scheme_of"]

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
    """The URL schemes of the installed backends, sorted (no backend is imported)."""
    return sorted(_entry_points())


def scheme_of(url: str) -> str:
    """The lower-cased scheme of ``url``.

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


def _load(scheme: str, point: importlib.metadata.EntryPoint) -> None:
    manager = _plugin_manager()
    with _manager_lock:
        if manager.has_plugin(point.name):
            return
        try:
            plugin = point.load()
            manager.register(plugin, name=point.name)
        except Exception as exc:
            raise PluginLoadError(
                f"open: the backend plugin {point.name!r} ({point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                plugin=point.name,
            ) from exc


def open_store(url: str) -> BaseStore:
    """Open a store from a URL: ``etcd://host:2379``, ``memory://``, or a plugin's scheme.

    Args:
        url: ``scheme://...``; passwords in it are accepted but never echoed.

    Returns:
        The opened store.

    Raises:
        ConfigurationError: ``url`` is malformed.
        BackendNotFoundError: No installed backend serves the scheme; lists the known ones.
        PluginLoadError: The backend's plugin failed to import or register.
    """
    scheme = scheme_of(url)
    points = _entry_points()
    point = points.get(scheme)
    if point is None:
        known = tuple(sorted(points))
        raise BackendNotFoundError(
            f"open: no backend for scheme {scheme!r}; installed: {', '.join(known) or 'none'}",
            scheme=scheme,
            known=known,
        )
    _load(scheme, point)
    store = _plugin_manager().hook.kvstore_open(url=url, scheme=scheme)
    if store is None:
        raise PluginLoadError(
            f"open: the backend plugin {point.name!r} did not open scheme {scheme!r}",
            plugin=point.name,
        )
    return store  # type: ignore[no-any-return]
