"""Helpers for the tests of the lock and election recipes (imported as a plain module).

``tests/`` is on ``sys.path`` during the test run (pytest puts the directory of the
rootmost ``conftest.py`` there), so test files, also under ``tests/etcd/``, use
``from recipe_helpers import ...``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from kvstore import BaseStore, EncryptedStore, NamespacedStore
from kvstore_memory import ManualClock, MemoryStore

WAIT = 10.0
"""Upper bound for waiting on background threads; reaching it fails the test."""

STORE_KINDS = ("memory", "namespaced", "encrypted")
"""The stores the recipes are tested on: MemoryStore, and the wrappers around it."""


NAMESPACE = "app/"
"""The prefix of the ``namespaced`` stores."""
ENCRYPTION_KEY = bytes(range(32))
"""The key of the ``encrypted`` stores."""


def make_store(kind: str, clock: ManualClock) -> BaseStore:
    """A fresh store of ``kind`` (one of ``STORE_KINDS``) on a MemoryStore with ``clock``."""
    memory = MemoryStore(clock=clock)
    if kind == "namespaced":
        return NamespacedStore(memory, NAMESPACE)
    if kind == "encrypted":
        return EncryptedStore(memory, ENCRYPTION_KEY)
    return memory


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.005)


def keepalive_threads() -> int:
    """How many lease keep-alive threads run in this process now."""
    return sum(thread.name.startswith("kvstore-keepalive") for thread in threading.enumerate())


class Worker(threading.Thread):
    """Runs ``target`` on a thread and re-raises its exception in ``result()``."""

    def __init__(self, target: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None
        self.value: object = None

    def run(self) -> None:
        try:
            self.value = self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def result(self) -> object:
        """Wait for the thread and return what ``target`` returned, or raise what it raised."""
        self.join(WAIT)
        assert not self.is_alive(), "worker did not finish"
        if self.error is not None:
            raise self.error
        return self.value
