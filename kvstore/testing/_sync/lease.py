# Generated from kvstore/testing/_async/lease.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``LeaseConformance``: grant, keys, refresh, revoke, expiry and keep-alive.

Expiry goes through ``advance_clock``: instant on a backend with a controllable clock, a
real sleep otherwise (etcd's minimum TTL is 2 s), so only a few tests wait for a TTL.
"""

from __future__ import annotations

import pytest

from kvstore._concurrency import Event, wait_event
from kvstore._sync.base import BaseStore
from kvstore._sync.lease import Lease
from kvstore.errors import InvalidArgumentError, LeaseExpiredError, LeaseNotFoundError
from kvstore.testing._sync._support import (
    EVENT_TIMEOUT,
    ConformanceBase,
    current_revision,
    event_summary,
    read_events,
    requires,
    snapshot,
    wait_until,
)
from kvstore.txn import LeaseId, Put
from kvstore.types import EventType

__all__ = ["UNKNOWN_LEASE_ID", "LeaseConformance"]

UNKNOWN_LEASE_ID = 0x7EADBEEF0BADF00D
"""A lease id no store has granted (etcd ids are positive int64)."""


class LeaseConformance(ConformanceBase):
    """Leases as etcd has them: keys go when the lease is revoked or expires."""

    def test_grant(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(3) as lease:
            assert isinstance(lease, Lease)
            assert lease.id > 0
            assert lease.ttl >= 3
            assert 0 < lease.remaining_ttl() <= lease.ttl
            assert lease.id in store.lease_leases()
            info = lease.info()
            assert (info.id, info.granted_ttl) == (lease.id, lease.ttl)

    def test_remaining_ttl_is_truncated_to_whole_seconds(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            self.advance_clock(store, 0.5)
            # etcd reports int(remaining seconds): 9.5 s left reads as 9
            assert lease.remaining_ttl() == lease.ttl - 1

    def test_small_ttl_is_raised_to_the_minimum(self, store: BaseStore) -> None:
        requires(store, "leases")
        # etcd raises any TTL below 2 s to 2 s (SPEC 13); the fake applies the same minimum
        with store.lease(1) as lease:
            assert lease.ttl >= 2
            assert lease.remaining_ttl() >= 1

    def test_distinct_ids(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(5) as first, store.lease(5) as second:
            assert first.id != second.id

    def test_put_with_lease_attaches_the_key(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put_with_lease("a", b"1", lease)
            store.put("b", b"2", lease=lease.id)
            store.put("c", b"3")
            kv = store.get_kv("a")
            assert kv is not None and kv.lease == lease.id
            assert sorted(lease.keys()) == ["a", "b"]
            plain = store.get_kv("c")
            assert plain is not None and plain.lease == 0

    def test_put_without_lease_detaches_the_key(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put("k", b"1", lease=lease)
            store.put("k", b"2")
            kv = store.get_kv("k")
            assert kv is not None and kv.lease == 0
            assert lease.keys() == []
            lease.revoke()
            assert store.get("k") == b"2"

    def test_refresh(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(5) as lease:
            assert lease.refresh() >= 5
            assert 0 < lease.remaining_ttl() <= lease.ttl

    def test_revoke_deletes_keys_in_one_revision(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(10)
        store.put("a", b"1", lease=lease)
        store.put("b", b"2", lease=lease)
        store.put("c", b"3")
        before = current_revision(store)
        store.revoke_lease(lease)
        assert store.list("") == ["c"]
        assert current_revision(store) == before + 1
        assert lease.id not in store.lease_leases()
        with pytest.raises(LeaseNotFoundError):
            lease.remaining_ttl()
        with pytest.raises(LeaseNotFoundError):
            lease.refresh()
        with pytest.raises(LeaseNotFoundError):
            store.revoke_lease(lease)
        lease.revoke()  # the handle's revoke tolerates a gone lease

    def test_revoking_a_lease_without_keys_does_not_bump(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(10)
        revision = store.put("k", b"v")
        lease.revoke()
        assert current_revision(store) == revision

    def test_revoke_emits_delete_events(self, store: BaseStore) -> None:
        requires(store, "leases", "watch")
        lease = store.lease(10)
        store.put("p/b", b"1", lease=lease)
        store.put("p/a", b"2", lease=lease)
        start = current_revision(store)
        with store.watch_prefix("p/", start_revision=start + 1) as watch:
            lease.revoke()
            events = read_events(watch, 2)
            assert [event_summary(event) for event in events] == [
                (EventType.DELETE, "p/a", b"", start + 1),
                (EventType.DELETE, "p/b", b"", start + 1),
            ]

    def test_context_manager_revokes(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put("k", b"v", lease=lease)
        assert not store.exists("k")
        assert lease.id not in store.lease_leases()

    def test_lease_id_compare(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put("k", b"v", lease=lease)
            store.put("plain", b"v")
            assert store.kv_txn([LeaseId("k") == lease.id], [], []).succeeded
            assert store.kv_txn([LeaseId("plain") == 0], [], []).succeeded
            assert not store.kv_txn([LeaseId("plain") == lease.id], [], []).succeeded

    def test_txn_put_with_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.kv_txn([], [Put("k", b"v", lease=lease.id)], [])
            assert lease.keys() == ["k"]

    def test_move_key_keeps_the_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put("old", b"v", lease=lease)
            store.move_key("old", "new")
            kv = store.get_kv("new")
            assert kv is not None and kv.lease == lease.id
            assert lease.keys() == ["new"]

    def test_compare_and_swap_keeps_the_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        with store.lease(10) as lease:
            store.put("k", b"old", lease=lease)
            assert store.compare_and_swap("k", b"old", b"new")
            kv = store.get_kv("k")
            assert kv is not None and (kv.value, kv.lease) == (b"new", lease.id)

    @pytest.mark.parametrize("ttl", [0, -1])
    def test_non_positive_ttl_is_refused(self, store: BaseStore, ttl: int) -> None:
        requires(store, "leases")
        leases = set(store.lease_leases())
        with pytest.raises(InvalidArgumentError):
            store.lease(ttl)
        assert set(store.lease_leases()) == leases

    def test_unknown_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        store.put("k", b"v")
        before = snapshot(store)
        with pytest.raises(LeaseNotFoundError):
            store.put("k", b"new", lease=UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            store.kv_txn([], [Put("other", b"v", lease=UNKNOWN_LEASE_ID)], [])
        with pytest.raises(LeaseNotFoundError):
            store.revoke_lease(UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            store.lease_keepalive_once(UNKNOWN_LEASE_ID)
        with pytest.raises(LeaseNotFoundError):
            store.lease_time_to_live(UNKNOWN_LEASE_ID)
        assert snapshot(store) == before

    # ------------------------------------------------------------------ time

    def test_expiry_deletes_keys_and_emits_delete_events(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(2)
        store.put("leased", b"v", lease=lease)
        store.put("plain", b"v")
        start = current_revision(store)
        watching = "watch" in store.capabilities
        watch = store.watch("leased", start_revision=start + 1) if watching else None
        try:
            self.advance_clock(store, 5)
            assert store.list("") == ["plain"]
            assert current_revision(store) == start + 1
            with pytest.raises(LeaseNotFoundError):
                lease.remaining_ttl()
            assert lease.id not in store.lease_leases()
            if watch is not None:
                (event,) = read_events(watch, 1)
                assert event_summary(event) == (EventType.DELETE, "leased", b"", start + 1)
        finally:
            if watch is not None:
                watch.cancel()

    def test_refresh_postpones_expiry(self, store: BaseStore) -> None:
        requires(store, "leases")
        if not self.fast_clock:
            pytest.skip("needs a controllable clock to step exactly around the TTL")
        lease = store.lease(3)
        store.put("k", b"v", lease=lease)
        self.advance_clock(store, 2)
        lease.refresh()
        self.advance_clock(store, 2)
        assert store.exists("k")
        self.advance_clock(store, 2)
        assert not store.exists("k")

    def test_keep_alive_keeps_the_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(3)
        store.put("k", b"v", lease=lease)
        lost = Event()
        keepalive = store.keep_alive(lease, on_lost=lambda error: lost.set())

        def renewed() -> bool:
            return lease.remaining_ttl() >= 2

        try:
            for _ in range(3):
                self.advance_clock(store, 2)
                # without a renewal the lease has 1 s left; wait until one has happened
                assert wait_until(renewed), "no renewal"
            assert store.exists("k")
            assert not lost.is_set() and not keepalive.lost.is_set()
        finally:
            keepalive.stop()
            lease.revoke()

    def test_keep_alive_reports_a_revoked_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        lease = store.lease(3)
        errors: list[LeaseExpiredError] = []
        keepalive = store.keep_alive(lease, on_lost=errors.append)
        try:
            store.revoke_lease(lease)
            assert wait_event(keepalive.lost, EVENT_TIMEOUT)
            assert wait_until(lambda: len(errors) == 1)
            assert isinstance(errors[0], LeaseExpiredError)
        finally:
            keepalive.stop()

    def test_keep_alive_reports_an_expired_lease(self, store: BaseStore) -> None:
        requires(store, "leases")
        if not self.fast_clock:
            pytest.skip("needs a clock that jumps past the TTL between two renewals")
        lease = store.lease(3)
        store.put("k", b"v", lease=lease)
        errors: list[LeaseExpiredError] = []
        keepalive = store.keep_alive(lease, on_lost=errors.append)
        try:
            self.advance_clock(store, 6)
            assert wait_event(keepalive.lost, EVENT_TIMEOUT)
            assert wait_until(lambda: len(errors) == 1)
            assert not store.exists("k")
        finally:
            keepalive.stop()

    def test_keep_alive_stops_and_reports_loss_when_the_store_closes(
        self, store: BaseStore
    ) -> None:
        # nothing renews the lease after close, so it will expire: holders must hear of it
        # (as Go's session.Done() closes with its client)
        requires(store, "leases")
        lease = store.lease(3)
        errors: list[LeaseExpiredError] = []
        keepalive = store.keep_alive(lease, on_lost=errors.append)
        stopped = store.keep_alive(store.lease(3))
        stopped.stop()
        store.close()
        assert wait_until(lambda: not keepalive.running)
        assert keepalive.lost.is_set()
        assert len(errors) == 1 and "closed" in str(errors[0])
        assert not stopped.lost.is_set()

    def test_a_ttl_over_etcds_maximum_is_refused(self, store: BaseStore) -> None:
        requires(store, "leases")
        # etcd: "etcdserver: too large lease TTL" above lease.MaxLeaseTTL (9e9 s)
        with pytest.raises(InvalidArgumentError):
            store.lease_grant(9_000_000_001)
        grant = store.lease_grant(9_000_000_000)
        try:
            assert grant.ttl == 9_000_000_000
        finally:
            store.lease_revoke(grant.id)
