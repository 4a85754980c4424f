"""``LeaseConformance``: grant, keys, refresh, revoke, expiry and keep-alive.

Expiry goes through ``advance_clock``: instant on a backend with a controllable clock, a
real sleep otherwise (etcd's minimum TTL is 2 s), so only a few tests wait for a TTL.
"""

from __future__ import annotations

import pytest

from kvstore._async._concurrency import AsyncEvent, wait_event
from kvstore._async.base import AsyncBaseStore
from kvstore._async.lease import AsyncLease
from kvstore.errors import InvalidArgumentError, LeaseExpiredError, LeaseNotFoundError
from kvstore.testing._async._support import (
    EVENT_TIMEOUT,
    AsyncConformanceBase,
    current_revision,
    event_summary,
    read_events,
    requires,
    snapshot,
    wait_until,
)
from kvstore.txn import LeaseId, Put
from kvstore.types import EventType

__all__ = ["AsyncLeaseConformance", "UNKNOWN_LEASE_ID"]

UNKNOWN_LEASE_ID = 0x7EADBEEF0BADF00D
"""A lease id no store has granted (etcd ids are positive int64)."""


class AsyncLeaseConformance(AsyncConformanceBase):
    """Leases as etcd has them: keys go when the lease is revoked or expires."""

    async def test_grant(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(3) as lease:
            assert isinstance(lease, AsyncLease)
            assert lease.id > 0
            assert lease.ttl >= 3
            assert 0 < await lease.remaining_ttl() <= lease.ttl
            assert lease.id in await store.lease_leases()
            info = await lease.info()
            assert (info.id, info.granted_ttl) == (lease.id, lease.ttl)

    async def test_remaining_ttl_is_truncated_to_whole_seconds(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await self.advance_clock(store, 0.5)
            # etcd reports int(remaining seconds): 9.5 s left reads as 9
            assert await lease.remaining_ttl() == lease.ttl - 1

    async def test_small_ttl_is_raised_to_the_minimum(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        # etcd raises any TTL below 2 s to 2 s (SPEC 13); the fake applies the same minimum
        async with await store.lease(1) as lease:
            assert lease.ttl >= 2
            assert await lease.remaining_ttl() >= 1

    async def test_distinct_ids(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(5) as first, await store.lease(5) as second:
            assert first.id != second.id

    async def test_put_with_lease_attaches_the_key(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put_with_lease("a", b"1", lease)
            await store.put("b", b"2", lease=lease.id)
            await store.put("c", b"3")
            kv = await store.get_kv("a")
            assert kv is not None and kv.lease == lease.id
            assert sorted(await lease.keys()) == ["a", "b"]
            plain = await store.get_kv("c")
            assert plain is not None and plain.lease == 0

    async def test_put_without_lease_detaches_the_key(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put("k", b"1", lease=lease)
            await store.put("k", b"2")
            kv = await store.get_kv("k")
            assert kv is not None and kv.lease == 0
            assert await lease.keys() == []
            await lease.revoke()
            assert await store.get("k") == b"2"

    async def test_refresh(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(5) as lease:
            assert await lease.refresh() >= 5
            assert 0 < await lease.remaining_ttl() <= lease.ttl

    async def test_revoke_deletes_keys_in_one_revision(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(10)
        await store.put("a", b"1", lease=lease)
        await store.put("b", b"2", lease=lease)
        await store.put("c", b"3")
        before = await current_revision(store)
        await store.revoke_lease(lease)
        assert await store.list("") == ["c"]
        assert await current_revision(store) == before + 1
        assert lease.id not in await store.lease_leases()
        with pytest.raises(LeaseNotFoundError):
            await lease.remaining_ttl()
        with pytest.raises(LeaseNotFoundError):
            await lease.refresh()
        with pytest.raises(LeaseNotFoundError):
            await store.revoke_lease(lease)
        await lease.revoke()  # the handle's revoke tolerates a gone lease

    async def test_revoking_a_lease_without_keys_does_not_bump(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(10)
        revision = await store.put("k", b"v")
        await lease.revoke()
        assert await current_revision(store) == revision

    async def test_revoke_emits_delete_events(self, store: AsyncBaseStore) -> None:
        requires(store, "leases", "watch")
        lease = await store.lease(10)
        await store.put("p/b", b"1", lease=lease)
        await store.put("p/a", b"2", lease=lease)
        start = await current_revision(store)
        async with store.watch_prefix("p/", start_revision=start + 1) as watch:
            await lease.revoke()
            events = await read_events(watch, 2)
            assert [event_summary(event) for event in events] == [
                (EventType.DELETE, "p/a", b"", start + 1),
                (EventType.DELETE, "p/b", b"", start + 1),
            ]

    async def test_context_manager_revokes(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put("k", b"v", lease=lease)
        assert not await store.exists("k")
        assert lease.id not in await store.lease_leases()

    async def test_lease_id_compare(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put("k", b"v", lease=lease)
            await store.put("plain", b"v")
            assert (await store.kv_txn([LeaseId("k") == lease.id], [], [])).succeeded
            assert (await store.kv_txn([LeaseId("plain") == 0], [], [])).succeeded
            assert not (await store.kv_txn([LeaseId("plain") == lease.id], [], [])).succeeded

    async def test_txn_put_with_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.kv_txn([], [Put("k", b"v", lease=lease.id)], [])
            assert await lease.keys() == ["k"]

    async def test_move_key_keeps_the_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put("old", b"v", lease=lease)
            await store.move_key("old", "new")
            kv = await store.get_kv("new")
            assert kv is not None and kv.lease == lease.id
            assert await lease.keys() == ["new"]

    async def test_compare_and_swap_keeps_the_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        async with await store.lease(10) as lease:
            await store.put("k", b"old", lease=lease)
            assert await store.compare_and_swap("k", b"old", b"new")
            kv = await store.get_kv("k")
            assert kv is not None and (kv.value, kv.lease) == (b"new", lease.id)

    @pytest.mark.parametrize("ttl", [0, -1])
    async def test_non_positive_ttl_is_refused(self, store: AsyncBaseStore, ttl: int) -> None:
        requires(store, "leases")
        leases = set(await store.lease_leases())
        with pytest.raises(InvalidArgumentError):
            await store.lease(ttl)
        assert set(await store.lease_leases()) == leases

    async def test_unknown_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        await store.put("k", b"v")
        before = await snapshot(store)
        with pytest.raises(LeaseNotFoundError):
            await store.put("k", b"new", lease=UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            await store.kv_txn([], [Put("other", b"v", lease=UNKNOWN_LEASE_ID)], [])
        with pytest.raises(LeaseNotFoundError):
            await store.revoke_lease(UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            await store.lease_keepalive_once(UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            await store.lease_time_to_live(UNKNOWN_LEASE_ID)
        assert await snapshot(store) == before

    # ------------------------------------------------------------------ time

    async def test_expiry_deletes_keys_and_emits_delete_events(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(2)
        await store.put("leased", b"v", lease=lease)
        await store.put("plain", b"v")
        start = await current_revision(store)
        watching = "watch" in store.capabilities
        watch = store.watch("leased", start_revision=start + 1) if watching else None
        try:
            await self.advance_clock(store, 5)
            assert await store.list("") == ["plain"]
            assert await current_revision(store) == start + 1
            with pytest.raises(LeaseNotFoundError):
                await lease.remaining_ttl()
            assert lease.id not in await store.lease_leases()
            if watch is not None:
                (event,) = await read_events(watch, 1)
                assert event_summary(event) == (EventType.DELETE, "leased", b"", start + 1)
        finally:
            if watch is not None:
                await watch.cancel()

    async def test_refresh_postpones_expiry(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        if not self.fast_clock:
            pytest.skip("needs a controllable clock to step exactly around the TTL")
        lease = await store.lease(3)
        await store.put("k", b"v", lease=lease)
        await self.advance_clock(store, 2)
        await lease.refresh()
        await self.advance_clock(store, 2)
        assert await store.exists("k")
        await self.advance_clock(store, 2)
        assert not await store.exists("k")

    async def test_keep_alive_keeps_the_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(3)
        await store.put("k", b"v", lease=lease)
        lost = AsyncEvent()
        keepalive = await store.keep_alive(lease, on_lost=lambda error: lost.set())

        async def renewed() -> bool:
            return await lease.remaining_ttl() >= 2

        try:
            for _ in range(3):
                await self.advance_clock(store, 2)
                # without a renewal the lease has 1 s left; wait until one has happened
                assert await wait_until(renewed), "no renewal"
            assert await store.exists("k")
            assert not lost.is_set() and not keepalive.lost.is_set()
        finally:
            await keepalive.stop()
            await lease.revoke()

    async def test_keep_alive_reports_a_revoked_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        lease = await store.lease(3)
        errors: list[LeaseExpiredError] = []
        keepalive = await store.keep_alive(lease, on_lost=errors.append)
        try:
            await store.revoke_lease(lease)
            assert await wait_event(keepalive.lost, EVENT_TIMEOUT)
            assert await wait_until(lambda: len(errors) == 1)
            assert isinstance(errors[0], LeaseExpiredError)
        finally:
            await keepalive.stop()

    async def test_keep_alive_reports_an_expired_lease(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        if not self.fast_clock:
            pytest.skip("needs a clock that jumps past the TTL between two renewals")
        lease = await store.lease(3)
        await store.put("k", b"v", lease=lease)
        errors: list[LeaseExpiredError] = []
        keepalive = await store.keep_alive(lease, on_lost=errors.append)
        try:
            await self.advance_clock(store, 6)
            assert await wait_event(keepalive.lost, EVENT_TIMEOUT)
            assert await wait_until(lambda: len(errors) == 1)
            assert not await store.exists("k")
        finally:
            await keepalive.stop()

    async def test_keep_alive_stops_and_reports_loss_when_the_store_closes(
        self, store: AsyncBaseStore
    ) -> None:
        # nothing renews the lease after close, so it will expire: holders must hear of it
        # (as Go's session.Done() closes with its client)
        requires(store, "leases")
        lease = await store.lease(3)
        errors: list[LeaseExpiredError] = []
        keepalive = await store.keep_alive(lease, on_lost=errors.append)
        stopped = await store.keep_alive(await store.lease(3))
        await stopped.stop()
        await store.aclose()
        assert await wait_until(lambda: not keepalive.running)
        assert keepalive.lost.is_set()
        assert len(errors) == 1 and "closed" in str(errors[0])
        assert not stopped.lost.is_set()

    async def test_a_ttl_over_etcds_maximum_is_refused(self, store: AsyncBaseStore) -> None:
        requires(store, "leases")
        # etcd: "etcdserver: too large lease TTL" above lease.MaxLeaseTTL (9e9 s)
        with pytest.raises(InvalidArgumentError):
            await store.lease_grant(9_000_000_001)
        grant = await store.lease_grant(9_000_000_000)
        try:
            assert grant.ttl == 9_000_000_000
        finally:
            await store.lease_revoke(grant.id)
