"""What the sync and asyncio demos share (``kvstore.cli._sync.demo``, ``kvstore.cli._async.demo``):
the error a misbehaving step raises and the throwaway local etcd."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TextIO

from kvstore.errors import KVStoreError
from kvstore.plugins.discovery import start_local_server

__all__ = ["DemoError", "throwaway_etcd"]


class DemoError(Exception):
    """A demo step did not behave as documented (the store is not conforming)."""


@contextlib.contextmanager
def throwaway_etcd(out: TextIO) -> Iterator[str]:
    """Start a local etcd through its backend plugin and yield its URL; remove it after."""
    try:
        server = start_local_server("etcd")
    except KVStoreError as exc:
        raise DemoError(
            f"demo: could not start a local etcd ({exc}); or use --url memory://"
        ) from exc
    with server:
        out.write(
            f"Started a throwaway {server.description} at {server.url} "
            "(development only; removed at the end).\n"
        )
        yield server.url
