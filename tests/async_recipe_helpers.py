"""Helpers for the asyncio tests of the recipes (imported as a plain module, as
``recipe_helpers``): the asyncio stores on memory, tasks run together, and the history
of who was inside a recipe when.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from recipe_helpers import ENCRYPTION_KEY, NAMESPACE, WAIT

from kvstore import AsyncBaseStore, AsyncEncryptedStore, AsyncNamespacedStore
from kvstore_memory import AsyncMemoryStore, ManualClock

T = TypeVar("T")

RECIPE_KEYS = "__kvstore/"
"""The prefix under which every recipe keeps its keys."""


def make_async_store(kind: str, clock: ManualClock) -> AsyncBaseStore:
    """A fresh asyncio store of ``kind`` (one of ``recipe_helpers.STORE_KINDS``) on an
    ``AsyncMemoryStore`` with ``clock``: the asyncio twin of ``recipe_helpers.make_store``."""
    memory = AsyncMemoryStore(clock=clock)
    wrappers: dict[str, Callable[[], AsyncBaseStore]] = {
        "namespaced": lambda: AsyncNamespacedStore(memory, NAMESPACE),
        "encrypted": lambda: AsyncEncryptedStore(memory, ENCRYPTION_KEY),
    }
    return wrappers[kind]() if kind in wrappers else memory


async def run_all(*awaitables: Awaitable[T]) -> list[T]:
    """Run ``awaitables`` (coroutines or tasks) concurrently; their results, or the first error.

    Fails the test after ``WAIT`` seconds; the tasks still running when one fails are
    cancelled, so none outlives the test.
    """
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        return await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def poll_until(predicate: Callable[[], Awaitable[bool]], what: str) -> None:
    """Await ``predicate()`` until it holds; fail the test after ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while not await predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def wait_for_keys(store: AsyncBaseStore, prefix: str, count: int) -> None:
    """Wait until ``count`` keys exist under ``prefix`` (a waiter has queued its key)."""

    async def counted() -> bool:
        return await store.count(prefix) == count

    await poll_until(counted, f"{count} keys under {prefix!r}")


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and check that it ends cancelled (its cleanup has then run)."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class History:
    """The enter and leave events of a recipe's holders, in the order they happened.

    Tasks of one event loop append to it between awaits, so the order is the order in
    which the holders were inside, and the checks below replay it.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def inside(self, kind: str) -> None:
        """Record a holder of ``kind`` (``"reader"``, ``"writer"``, ``"holder"``) entering,
        staying across a few switches of task, and leaving."""
        self.events.append(("enter", kind))
        for _ in range(3):
            await asyncio.sleep(0)
        await asyncio.sleep(0.001)
        self.events.append(("leave", kind))

    def most_inside(self) -> int:
        """The most holders inside at once (checking that every leave had its enter)."""
        inside, most = 0, 0
        for action, _ in self.events:
            inside += 1 if action == "enter" else -1
            assert inside >= 0, f"a leave without an enter in {self.events}"
            most = max(most, inside)
        assert inside == 0, f"holders never left in {self.events}"
        return most

    def writer_overlaps(self) -> list[int]:
        """The indexes of the events where a writer was inside with anyone else."""
        inside = {"reader": 0, "writer": 0}
        overlaps = []
        for index, (action, kind) in enumerate(self.events):
            inside[kind] += 1 if action == "enter" else -1
            if inside["writer"] and (inside["writer"] > 1 or inside["reader"]):
                overlaps.append(index)
        return overlaps
