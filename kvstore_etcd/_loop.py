"""The sync ``EtcdStore``'s streams: an event loop on one daemon thread.

The store's watches and kept-alive leases share one Watch stream and one LeaseKeepAlive
stream, run by the same code as the asyncio store's (``kvstore_etcd._async._watch_hub``,
``kvstore_etcd._async._keepalive_stream``) on a private ``AsyncEtcdStore`` of the same
configuration, whose loop runs on the thread ``kvstore-etcd-streams``. The store's unary
calls stay on its own sync channels; the streams have ``grpc.aio`` channels of their own
(one more connection per endpoint). So a sync store runs two threads of its own (this
one, and ``kvstore-keepalive``, which renews its leases), however many watches, leases,
locks and elections it has; a watch with a callback runs it on a thread of that watch's
(``kvstore.watch.run_callback``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from kvstore.errors import UnavailableError
from kvstore_etcd._async._watch_hub import WatchHub
from kvstore_etcd._async.store import AsyncEtcdStore
from kvstore_etcd.config import EtcdConfig

__all__ = ["StreamLoop"]

_T = TypeVar("_T")

_JOIN_SECONDS = 5.0

_SETTLE_SECONDS = 1.0
"""How long closing waits for the loop's tasks to end by themselves, then once cancelled."""


class StreamLoop:
    """An event loop thread running the streams of one sync store (see the module
    docstring). Made by the store on its first watch or keep-alive."""

    def __init__(self, config: EtcdConfig, owner: object) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kvstore-etcd-streams", daemon=True
        )
        self._thread.start()
        self.store = AsyncEtcdStore(config)
        self.store.pool.events_source = owner  # the streams report as the sync store
        self.hub: WatchHub = self.run(self._make_hub())

    async def _make_hub(self) -> WatchHub:
        return self.store.watch_hub()

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        """Run ``coroutine`` on the loop and wait for its result.

        Raises:
            UnavailableError: It did not finish within ``timeout`` seconds.
        """
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise UnavailableError("the store's stream thread did not answer in time") from None

    def close(self) -> None:
        """Close the streams and end the thread."""
        with contextlib.suppress(Exception):
            self.run(self.store.aclose(), timeout=self._config.request_timeout + _JOIN_SECONDS)
        if self._thread is not threading.current_thread():
            with contextlib.suppress(Exception):
                self.run(_end_tasks(), timeout=2 * _SETTLE_SECONDS + 1.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not threading.current_thread():
            self._thread.join(_JOIN_SECONDS)
            if not self._thread.is_alive():
                self._loop.close()


async def _end_tasks() -> None:
    """Let the loop's other tasks end, then cancel those still running, as ``asyncio.run``
    does before it closes its loop.

    A closed store can leave tasks behind: ``grpc.aio`` ends each call's status task only
    once it has run again after the call ended. A task still pending when the loop stops
    is destroyed at exit, and asyncio prints "Task was destroyed but it is pending!" on the
    program's stderr (seen from ``kvstore watch`` on a loaded machine). The tasks are
    first left to end by themselves: a call another thread made through ``run`` as the
    store closed then ends with the store's error, not with ``CancelledError``.
    """
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=_SETTLE_SECONDS)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=_SETTLE_SECONDS)
