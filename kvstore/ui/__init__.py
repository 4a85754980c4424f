"""``kvstore ui``: a local web page to see (and, with ``write=True``, change) a store.

An ASGI app (Starlette, served by uvicorn on 127.0.0.1 only) over the asyncio API: the
key tree by prefix with paging, a key's value (text, pretty JSON, hex) with its
revisions, version and lease, the key's history, a live panel of changes (server-sent
events fed by a watch), the leases with their TTL counting down and their keys, the
locks and elections held (holder, fencing token, waiters), the other coordination recipes
(semaphores, readers-writer locks, barriers, queues, counters, parties) and one
etcd-layout lock by name, and, where the backend has them, cluster status, members and
alarms. The page is plain HTML, JavaScript and CSS
shipped in the package (``kvstore/ui/static``): no build step. Data is always rendered
as text, never as HTML.

Every request needs the random token printed in the URL (then a cookie); without it,
or with a wrong one, the answer is 403. Read-only unless ``write=True``::

    from kvstore.ui import UIServer, create_app, new_token

    token = new_token()
    server = UIServer(create_app(store, token=token, write=True), token=token)
    print(server.url)            # http://127.0.0.1:PORT/?token=...
    await server.serve()         # until server.stop()

It needs the ``[ui]`` extra (``pip install "kvstore[ui]"``): without Starlette and
uvicorn, importing this package raises ``ConfigurationError`` saying so.
"""

from __future__ import annotations

from kvstore.errors import ConfigurationError

UI_EXTRA = 'pip install "kvstore[ui]"'
"""The command that installs what the UI needs (Starlette, uvicorn)."""

_UI_PACKAGES = frozenset({"starlette", "uvicorn"})

try:
    from kvstore.ui.app import create_app, new_token
    from kvstore.ui.server import UIServer, run
except ImportError as exc:  # pragma: no cover - exercised by the bare-install test
    if (exc.name or "").split(".")[0] not in _UI_PACKAGES:
        raise
    raise ConfigurationError(
        f"ui: kvstore ui needs the web server libraries (starlette, uvicorn), which are not "
        f"installed: {UI_EXTRA} ({exc})",
        operation="ui",
    ) from exc

__all__ = ["UI_EXTRA", "UIServer", "create_app", "new_token", "run"]
