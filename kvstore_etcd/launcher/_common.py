"""What the launcher's modules share: loopback ports, HTTP calls, and the process registry.

`Launched` is the base of `EtcdServer` and `EtcdCluster`: the binary's version, the
context manager, and the ``atexit`` safety net that closes whatever is still running
when the interpreter exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import re
import socket
import ssl
import threading
import urllib.request
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar

from kvstore.concurrency import Closing
from kvstore_etcd.launcher.binary import etcd_version, version_tuple

__all__ = ["LOOPBACK", "Launched", "free_ports", "http_json", "http_text", "strip_scheme"]

LOOPBACK = "127.0.0.1"

_L = TypeVar("_L", bound="Launched")
"""The address every launched member listens on."""

_HTTP_TIMEOUT = 1.0


def strip_scheme(endpoint: str) -> str:
    """``host:port`` of an endpoint given as ``host:port`` or ``scheme://host:port/``."""
    return re.sub(r"^[a-z]+://", "", endpoint).rstrip("/")


def free_ports(count: int) -> list[int]:
    """Reserve ``count`` distinct free loopback ports (released before returning)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def http_json(
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    timeout: float = _HTTP_TIMEOUT,
    context: ssl.SSLContext | None = None,
) -> Any:
    """GET ``url`` (POST ``body`` as JSON when given) and decode the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        return json.loads(response.read().decode())


def http_text(url: str, *, timeout: float = _HTTP_TIMEOUT) -> str:
    """GET ``url`` and return the answer as text."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text: str = response.read().decode()
        return text


_live: weakref.WeakSet[Launched] = weakref.WeakSet()
_live_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    with _live_lock:
        remaining = list(_live)
    for item in remaining:
        with contextlib.suppress(Exception):  # best effort at interpreter exit
            item.close()


class Launched(Closing):
    """Base of `EtcdServer` and `EtcdCluster`: processes started from `binary`.

    Subclasses call `_track` once built (so ``atexit`` closes them) and `_untrack` in
    ``close``; entering the context manager starts them unless `_running` says so.
    """

    binary: str
    """Path of the etcd binary."""

    @property
    def version(self) -> str:
        """Version of the etcd binary, e.g. ``"3.5.1"``."""
        return etcd_version(self.binary)

    @property
    def version_info(self) -> tuple[int, ...]:
        """`version` as integers, e.g. ``(3, 5, 1)``."""
        return version_tuple(self.version)

    def start(self) -> object:
        """Launch the process(es) and wait until healthy."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the process(es) and remove temporary files; safe to call twice."""
        raise NotImplementedError

    def _running(self) -> bool:
        """Whether entering the context manager has nothing to start."""
        raise NotImplementedError

    def _track(self) -> None:
        with _live_lock:
            _live.add(self)

    def _untrack(self) -> None:
        with _live_lock:
            _live.discard(self)

    def __enter__(self: _L) -> _L:
        if not self._running():
            self.start()
        return self

    def _end_context(self) -> None:
        self.close()
