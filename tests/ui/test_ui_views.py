"""``kvstore.ui.views.held_recipes``: every recipe of ``kvstore.recipes`` read from its keys.

The recipes run for real (asyncio API, on an ``AsyncMemoryStore``); the view is called
directly, without a server or a browser (``test_ui_browser.py`` shows one page of it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recipe_helpers import WAIT

from kvstore import AsyncEncryptedStore, Keyring
from kvstore.errors import InvalidKeyError
from kvstore.recipes import RWLOCK_NAMESPACE
from kvstore.ui.views import ValueCodec, held_recipes
from kvstore_memory import AsyncMemoryStore


@pytest.fixture
async def store() -> AsyncIterator[AsyncMemoryStore]:
    memory = AsyncMemoryStore()
    yield memory
    await memory.aclose()


class Waiters:
    """Recipe waits running as tasks, each started once its key is queued; cancelled at
    the end (a cancelled wait leaves no key behind)."""

    def __init__(self, store: AsyncMemoryStore) -> None:
        self.store = store
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self, wait: Awaitable[Any], prefix: str) -> None:
        """Run ``wait`` in a task and return once one more key is under ``prefix``."""
        before = await self.store.count(prefix)
        self.tasks.append(asyncio.ensure_future(wait))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while await self.store.count(prefix) == before:
            assert loop.time() < deadline, f"no waiter key appeared under {prefix!r}"
            await asyncio.sleep(0.005)

    async def cancel(self) -> None:
        """Cancel the waits still running and wait for them; idempotent."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _keys(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["key"] for entry in entries]


def _by_kind(found: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(recipe["kind"], recipe["name"]): recipe for recipe in found["recipes"]}


async def test_each_recipe_is_shown_by_kind_and_name_with_its_holders_and_waiters(
    store: AsyncMemoryStore,
) -> None:
    waiters = Waiters(store)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(waiters.cancel)
        pool = [store.new_semaphore("pool", 2) for _ in range(3)]
        for holder in pool[:2]:
            assert await holder.acquire()
            stack.push_async_callback(holder.aclose)
        await waiters.start(pool[2].acquire(), "__kvstore/semaphores/")
        rw = store.new_rwlock("config")
        reader = await stack.enter_async_context(rw.read_lock())
        writer = rw.write_lock()
        await waiters.start(writer.acquire(), RWLOCK_NAMESPACE)
        late_reader = rw.read_lock()
        await waiters.start(late_reader.acquire(), RWLOCK_NAMESPACE)
        for member in ("bob", "alice/1"):
            await stack.enter_async_context(store.new_party("workers", member))
        emails = store.new_queue("emails")
        for number in range(3):
            await emails.put(f"item-secret-{number}".encode())
        await store.new_priority_queue("urgent").put(b"now", -5)
        await store.new_counter("hits").add(42)
        await store.new_barrier("gate").hold()
        solo = store.new_double_barrier("solo", 1)
        await solo.enter()
        stack.push_async_callback(solo.leave)
        await waiters.start(store.new_double_barrier("start", 3).enter(), "__kvstore/double-")

        found = await held_recipes(store, ValueCodec(store))
        recipes = _by_kind(found)

        semaphore = recipes["semaphore", "pool"]
        assert semaphore["limit"] == 2
        assert _keys(semaphore["holders"]) == [pool[0].key, pool[1].key]
        assert _keys(semaphore["waiters"]) == [pool[2].key]
        rwlock = recipes["rwlock", "config"]
        assert [(h["key"], h["mode"]) for h in rwlock["holders"]] == [(reader.key, "read")]
        assert [w["mode"] for w in rwlock["waiters"]] == ["write", "read"]
        assert _keys(rwlock["waiters"]) == [writer.key, late_reader.key]
        party = recipes["party", "workers"]
        assert [member["member"] for member in party["holders"]] == ["bob", "alice/1"]
        assert recipes["queue", "emails"]["items"] == 3
        assert recipes["priority_queue", "urgent"]["items"] == 1
        assert recipes["counter", "hits"]["value"] == "NDI="  # base64 of b"42"
        assert recipes["barrier", "gate"]["held"] is True
        assert recipes["double_barrier", "solo"]["ready"] is True
        assert _keys(recipes["double_barrier", "solo"]["holders"]) == [solo.key]
        start = recipes["double_barrier", "start"]
        assert start["ready"] is False and start["holders"] == [] and len(start["waiters"]) == 1
        assert found["locks"] == [] and found["elections"] == [] and not found["truncated"]
        assert "etcd_lock" not in found
        page = json.dumps(found)  # queue items are never read, let alone shown
        assert "item-secret" not in page
        assert base64.b64encode(b"item-secret-0").decode() not in page
        await waiters.cancel()  # before the holders leave, so that no waiter gets in
    # the holders left: what has no lease stays
    left = await held_recipes(store, ValueCodec(store))
    assert sorted(_by_kind(left)) == [
        ("barrier", "gate"),
        ("counter", "hits"),
        ("priority_queue", "urgent"),
        ("queue", "emails"),
    ]


async def test_an_etcd_layout_lock_is_listed_by_its_name_the_oldest_key_holding(
    store: AsyncMemoryStore,
) -> None:
    waiters = Waiters(store)
    holder = store.new_lock("deploy", layout="etcd")
    await holder.lock()
    try:
        waiter = store.new_lock("deploy", layout="etcd")
        await waiters.start(waiter.lock(), "deploy/")
        same_name = store.new_lock("deploy")  # the kvstore layout: another lock
        await same_name.lock()
        try:
            found = await held_recipes(store, ValueCodec(store), etcd_lock="deploy")
        finally:
            await same_name.aclose()
        shown = found["etcd_lock"]
        assert shown["name"] == "deploy" and shown["prefix"] == "deploy/"
        assert shown["lock"]["holder"]["key"] == holder.key == f"deploy/{holder.session.lease_id:x}"
        assert shown["lock"]["holder"]["fencing_token"] == holder.fencing_token
        assert _keys(shown["lock"]["waiters"]) == [waiter.key]
        assert [lock["name"] for lock in found["locks"]] == ["deploy"]
        assert found["locks"][0]["holder"]["key"].startswith("__kvstore/locks/deploy/")
    finally:
        await waiters.cancel()
        await holder.aclose()
    free = await held_recipes(store, ValueCodec(store), etcd_lock="deploy")
    assert free["etcd_lock"]["lock"] is None
    with pytest.raises(InvalidKeyError):
        await held_recipes(store, ValueCodec(store), etcd_lock="")


async def test_values_encrypted_without_the_keys_are_never_shown(store: AsyncMemoryStore) -> None:
    keyring = Keyring.single(Keyring.generate_key(), key_id=4)
    encrypted = AsyncEncryptedStore(store, keyring)
    holders = [encrypted.new_semaphore("pool", 2) for _ in range(2)]
    for holder in holders:
        assert await holder.acquire()
    await encrypted.new_counter("hits").add(42)
    try:
        with_keys = _by_kind(await held_recipes(store, ValueCodec(store, keyring=keyring)))
        without = _by_kind(await held_recipes(store, ValueCodec(store)))
    finally:
        for holder in holders:
            await holder.aclose()
    assert with_keys["semaphore", "pool"]["limit"] == 2
    assert len(with_keys["semaphore", "pool"]["holders"]) == 2
    assert with_keys["counter", "hits"]["value"] == "NDI="
    # without the keys the limit is unknown: the oldest holder is the one sure to hold
    assert without["semaphore", "pool"]["limit"] is None
    assert _keys(without["semaphore", "pool"]["holders"]) == [holders[0].key]
    assert without["counter", "hits"]["value"] is None
    assert "encrypted (key id 4)" in without["counter", "hits"]["error"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["read", "write"]), min_size=1, max_size=12))
def test_rwlock_holders_are_the_readers_before_any_writer_or_a_writer_at_the_head(
    modes: list[str],
) -> None:
    async def shown() -> dict[str, Any]:
        memory = AsyncMemoryStore()
        try:
            for number, mode in enumerate(modes, start=1):
                await memory.put(f"{RWLOCK_NAMESPACE}doc/{mode}/{number:x}", b"")
            return _by_kind(await held_recipes(memory, ValueCodec(memory)))["rwlock", "doc"]
        finally:
            await memory.aclose()

    rwlock = asyncio.run(shown())
    holding = {entry["key"] for entry in rwlock["holders"]}
    for position, mode in enumerate(modes):
        key = f"{RWLOCK_NAMESPACE}doc/{mode}/{position + 1:x}"
        earlier = modes[:position]
        holds = "write" not in earlier if mode == "read" else not earlier
        assert (key in holding) == holds, (modes, position)
    assert len(rwlock["holders"]) + len(rwlock["waiters"]) == len(modes)
