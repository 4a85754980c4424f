"""Serving the UI: uvicorn on 127.0.0.1, and ``run``, what ``kvstore ui`` does.

``UIServer(app, token=...)`` binds its socket at once (a free port unless one is given),
so its ``url`` is known before it serves; ``await server.serve()`` runs until
``server.stop()`` (callable from any thread) or, in the main thread, Ctrl-C / SIGTERM.
Tests run it in a thread of their own, with its own event loop::

    server = UIServer(create_app(store, token=token), token=token)
    thread = threading.Thread(target=asyncio.run, args=(server.serve(),))
"""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import TextIO

import uvicorn
from starlette.types import ASGIApp

from kvstore._async.base import AsyncBaseStore
from kvstore.cli._async.demo import seeded
from kvstore.cli.urls import redact_url
from kvstore.errors import ConfigurationError
from kvstore.keys import ALL_KEYS
from kvstore.plugins.discovery import open_async_base_store
from kvstore.ui.app import create_app, new_token
from kvstore.wrappers._async.namespace import AsyncNamespacedStore
from kvstore.wrappers.compose import split_url
from kvstore.wrappers.encryption import Keyring

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "HOST", "UIServer", "run"]

HOST = "127.0.0.1"
"""The UI listens on loopback only: the token guards a local page, not a network service."""

GRACEFUL_SHUTDOWN_SECONDS = 2
"""How long a stopping server waits for open requests (event streams) before ending them."""


def _bind(port: int | None) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((HOST, port or 0))
    except OSError as exc:
        listener.close()
        raise ConfigurationError(
            f"ui: cannot listen on {HOST}:{port}: {exc.strerror or exc}", operation="ui"
        ) from exc
    listener.listen(128)
    listener.setblocking(False)
    return listener


class UIServer:
    """uvicorn serving ``app`` on 127.0.0.1.

    Args:
        app: The ASGI app (``create_app(...)``).
        token: The app's token, for ``url``.
        port: The port (``None`` or 0: a free one).

    Attributes:
        port: The port it listens on (bound when the object is made).
        url: ``http://127.0.0.1:PORT/?token=...``, the address to open.

    Raises:
        ConfigurationError: The port cannot be bound (in use, privileged ...).
    """

    def __init__(self, app: ASGIApp, *, token: str, port: int | None = None) -> None:
        self._socket = _bind(port)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/?token={token}"
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,  # request lines would carry the token
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)

    def __repr__(self) -> str:
        return f"UIServer(http://{HOST}:{self.port}/)"  # never the token

    @property
    def started(self) -> bool:
        """Whether the server accepts requests."""
        return bool(self._server.started)

    async def serve(self) -> None:
        """Serve until ``stop()`` (or, in the main thread, SIGINT / SIGTERM)."""
        try:
            await self._server.serve(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        """Ask the server to stop (from any thread); ``serve`` returns soon after."""
        self._server.should_exit = True


async def run(
    url: str,
    *,
    keyring: Keyring | None = None,
    namespace: str | None = None,
    compress: bool | None = None,
    write: bool = False,
    port: int | None = None,
    demo: bool = False,
    out: TextIO | None = None,
) -> None:
    """Open the store at ``url``, serve the UI over it until interrupted, close the store.

    The store is opened without its wrapper options (``kvstore.wrappers.compose.split_url``): the
    UI reads the stored bytes itself, so it can show values it cannot decrypt. Its
    ``?namespace=`` is where the key tree opens, its ``?compress=1`` how values are read;
    its ``?encryption_key_file=`` / ``_env`` are the keys, unless ``keyring`` is given.

    Args:
        url: The store URL (``memory://``, ``etcd://host:2379`` ...).
        keyring: The encryption keys (``--key-file``; ``None``: the URL's, if any).
        namespace: Where the key tree opens (``None``: the URL's ``?namespace=``).
        compress: Whether values are compressed (``None``: the URL's ``?compress=``).
        write: Allow changes from the page.
        port: The port (``None``: a free one).
        demo: Seed the store with the demo's sample data first (``kvstore.cli._sync.demo.seeded``).
        out: Where the URL is printed (default stdout).

    Raises:
        ConfigurationError: The URL or its options are malformed, or the port is taken.
        BackendNotFoundError: No backend serves the URL's scheme.
        KVStoreError: The store cannot be reached.
    """
    from kvstore.wrappers.compose import resolve_keyring

    stream = out if out is not None else sys.stdout
    backend_url, options = split_url(url)
    if keyring is None:
        keyring = resolve_keyring(
            key_file=options.get("encryption_key_file"), key_env=options.get("encryption_key_env")
        )
    if namespace is None:
        namespace = options.get("namespace", "")
    if compress is None:
        compress = bool(options.get("compress"))
    store = open_async_base_store(backend_url)
    try:
        await store.kv_range(ALL_KEYS, ALL_KEYS, limit=1, keys_only=True)  # reachable?
        async with contextlib.AsyncExitStack() as stack:
            if demo:
                seeded_store: AsyncBaseStore = (
                    AsyncNamespacedStore(store, namespace) if namespace else store
                )
                await stack.enter_async_context(seeded(seeded_store, keyring=keyring))
            token = new_token()
            app = create_app(
                store,
                token=token,
                write=write,
                keyring=keyring,
                compress=compress,
                prefix=namespace,
                url=backend_url,
            )
            server = UIServer(app, token=token, port=port)
            mode = "read-write" if write else "read-only"
            stream.write(
                f"kvstore ui: {redact_url(backend_url)} ({mode}), on {HOST} only; open this URL "
                "(its token is the key to the page):\n"
            )
            stream.write(f"{server.url}\n")
            stream.write("Press Ctrl-C to stop.\n")
            stream.flush()
            await server.serve()
    finally:
        await store.aclose()
