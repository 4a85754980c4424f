"""Shared pieces of the reliability scenarios: store factory, watch recorder, proxies.

Every scenario runs against its own local etcd processes on loopback (the launcher's
``etcd_cluster`` fixture or an ``EtcdServer``), bounded in time: waits have explicit
limits and the fault proxies stop by themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kvstore import KVStoreError, WatchEvent
from kvstore.keys import ALL_KEYS
from kvstore.watch import Watch
from kvstore_etcd import EtcdConfig, EtcdStore

from .proxy import FaultProxy

WAIT = 30.0
"""Upper bound of any wait in a scenario; reached only when the scenario fails."""


def wait_until(condition: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll ``condition`` every 20 ms for at most ``timeout`` seconds.

    Returns:
        Whether the condition became true in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def current_revision(store: EtcdStore) -> int:
    """The store revision (a count-only read)."""
    return store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision


class WatchRecorder:
    """Reads a watch on a thread and keeps every event, and the error that ended it."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.events: list[WatchEvent] = []
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="watch-recorder", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.watch:
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        except KVStoreError as exc:
            with self._changed:
                self.error = exc
                self._changed.notify_all()

    @property
    def last_revision(self) -> int:
        """The mod revision of the last event (0 before any)."""
        with self._changed:
            return self.events[-1].kv.mod_revision if self.events else 0

    def wait_for_revision(self, revision: int, timeout: float = WAIT) -> bool:
        """Wait until an event at ``revision`` or later arrived, or the watch failed.

        Returns:
            Whether the revision was reached.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.events and self.events[-1].kv.mod_revision >= revision:
                    return True
                remaining = deadline - time.monotonic()
                if self.error is not None or remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def stop(self) -> None:
        """Cancel the watch and join the thread."""
        self.watch.cancel()
        self._thread.join(10)


@pytest.fixture
def open_store() -> Iterator[Callable[..., EtcdStore]]:
    """A factory of ``EtcdStore`` s, all closed after the test.

    ``open_store(endpoints, timeout=2.0, **config_fields)``: fields are ``EtcdConfig``
    keyword arguments (``dial_keepalive_time=1`` ...).
    """
    stores: list[EtcdStore] = []

    def factory(endpoints: list[str], timeout: float = 2.0, **fields: Any) -> EtcdStore:
        config = EtcdConfig(
            endpoints=endpoints, request_timeout=timeout, dial_timeout=timeout, **fields
        )
        store = EtcdStore(config)
        stores.append(store)
        return store

    yield factory
    for store in stores:
        store.close()


@pytest.fixture
def make_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    """A factory of started ``FaultProxy`` s to a loopback port, closed after the test."""
    proxies: list[FaultProxy] = []

    def factory(port: int) -> FaultProxy:
        proxy = FaultProxy(port, lifetime=300).start()
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        proxy.close()
