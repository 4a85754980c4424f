"""pluggy hook specifications for kvstore backend plugins.

A backend plugin is a module (or object) with ``@hookimpl`` functions, named in the
``kvstore`` entry-point group under the URL scheme it serves::

    [project.entry-points.kvstore]
    mybackend = "my_package.plugin"

The module is imported only when a URL with that scheme is opened (``kvstore_open``) or a
local server for it is asked for (``kvstore_local_server``). A plugin implements the hooks
it supports; every hook returns ``None`` for schemes the plugin does not serve.

``PROJECT_NAME`` and the markers ``hookimpl`` and ``hookspec`` are declared in
``kvstore.plugins.events`` (the lowest layer, which the core imports) and re-exported
here, for plugins and observers alike. The store events (``kvstore_retry`` ...) are
hooks too, declared in ``kvstore.plugins.events``: an observer registered with
``kvstore.plugins.events.register`` implements them, a backend plugin reports them with
``kvstore.plugins.events.report``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kvstore._sync._context import Closing
from kvstore.plugins.events import PROJECT_NAME, hookimpl, hookspec

if TYPE_CHECKING:
    from kvstore._async.base import AsyncBaseStore
    from kvstore._sync.base import BaseStore

__all__ = ["PROJECT_NAME", "LocalServer", "hookimpl", "hookspec"]


class LocalServer(Closing):
    """A running development server that a plugin started; stop it with `stop` or ``with``.

    A plugin's ``kvstore_local_server`` builds one around its server process, so callers
    (``kvstore serve``, ``kvstore demo``) need not know which backend runs.

    Args:
        url: The URL that ``kvstore.open`` takes to reach the server, for example
            ``"etcd://127.0.0.1:2379"``; it must carry no credentials.
        description: What runs, for example ``"etcd 3.5.1"``.
        stop: Stops the server and removes what it owns; called at most once.
        is_running: Whether the server process is still alive.
        warning: A caveat to show wherever the server is started (for example a known
            bug in this server version), or ``None``.
        data_dir: Where the server keeps its data, if it has a directory.
        log_path: Where the server writes its log, if anywhere.
    """

    __slots__ = (
        "_is_running",
        "_lock",
        "_stop",
        "_stopped",
        "data_dir",
        "description",
        "log_path",
        "url",
        "warning",
    )

    def __init__(
        self,
        url: str,
        *,
        description: str,
        stop: Callable[[], None],
        is_running: Callable[[], bool],
        warning: str | None = None,
        data_dir: str | None = None,
        log_path: str | None = None,
    ) -> None:
        self.url = url
        self.description = description
        self.warning = warning
        self.data_dir = data_dir
        self.log_path = log_path
        self._stop = stop
        self._is_running = is_running
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def is_running(self) -> bool:
        """Whether the server is still serving (false once stopped or if it died)."""
        return not self._stopped and self._is_running()

    def stop(self) -> None:
        """Stop the server and remove what it owns; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stop()

    def _end_context(self) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<LocalServer {self.description} at {self.url} {state}>"


@hookspec(firstresult=True)
def kvstore_open(url: str, scheme: str) -> BaseStore | None:
    """Open a store for ``url`` if this plugin serves ``scheme``, else return ``None``.

    Args:
        url: The whole URL, for example ``"etcd://h1:2379,h2:2379?request_timeout=5"``.
        scheme: The URL's scheme, lower-cased.

    Returns:
        The opened store, not connected yet, or ``None`` when this plugin does not serve ``scheme``.

    Raises:
        ConfigurationError: The URL is malformed for this backend.
    """


@hookspec(firstresult=True)
def kvstore_open_async(url: str, scheme: str) -> AsyncBaseStore | None:
    """Open an asyncio store for ``url`` if this plugin serves ``scheme``, else ``None``.

    Same URL as ``kvstore_open``. It must return at once, without connecting (the store
    connects on first use, inside the caller's event loop). A plugin without an asyncio
    store leaves this hook out: ``kvstore.open_async`` then says so.

    Returns:
        The asyncio store, or ``None`` when this plugin does not serve ``scheme``.

    Raises:
        ConfigurationError: The URL is malformed for this backend.
    """


@hookspec(firstresult=True)
def kvstore_local_server(
    scheme: str, port: int | None, data_dir: str | None, binary: str | None
) -> LocalServer | None:
    """Start a local development server for ``scheme``, or return ``None`` if not served.

    The server is running when this returns; the caller stops it with
    ``LocalServer.stop()`` or by leaving its ``with`` block.

    Args:
        scheme: The URL scheme to serve, lower-cased.
        port: The client port on 127.0.0.1; ``None`` picks a free one.
        data_dir: Keep the server's data here (left in place on stop); ``None`` uses a
            temporary directory that stopping removes.
        binary: The server executable; ``None`` means the plugin's default.

    Returns:
        The running ``LocalServer`` (its ``url`` opens a store on it), or ``None`` when this plugin
        does not serve ``scheme``.

    Raises:
        ConfigurationError: No server executable is found, or an argument is unusable.
        BackendError: The server did not start.
    """
