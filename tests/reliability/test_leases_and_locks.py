"""Leases and locks under faults (SPEC 4.3, 4.4, 12): keepalive survives member restarts,
a holder cut off past its TTL is told ``lost`` and its fenced writes are rejected, and
lock-protected increments stay exact while members are killed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest

from kvstore import IndeterminateError, KVStoreError, Lock, Put
from kvstore_etcd import EtcdStore
from kvstore_etcd.launcher import EtcdCluster

from .conftest import WAIT, wait_until
from .proxy import FaultProxy

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]


def test_keepalive_survives_restarting_every_member(
    etcd_cluster: EtcdCluster, open_store: Callable[..., EtcdStore]
) -> None:
    store = open_store(etcd_cluster.endpoints)
    lease = store.lease(3)
    keepalive = store.keep_alive(lease)
    store.put("lease/key", b"v", lease=lease)
    leader = etcd_cluster.leader()
    for member in [*etcd_cluster.followers(), leader]:
        member.restart()
        etcd_cluster.wait_healthy()
    time.sleep(4)  # longer than the TTL: only renewals keep the key
    assert not keepalive.lost.is_set()
    assert store.get("lease/key") == b"v"
    keepalive.stop()
    assert wait_until(lambda: not store.exists("lease/key")), "the key outlived its lease"


def test_holder_cut_off_past_its_ttl_is_told_lost_and_fenced_out(
    etcd_cluster: EtcdCluster,
    open_store: Callable[..., EtcdStore],
    make_proxy: Callable[[int], FaultProxy],
) -> None:
    member = etcd_cluster.members[0]
    proxy = make_proxy(member.client_port)
    holder_store = open_store([proxy.endpoint])
    other_store = open_store(etcd_cluster.endpoints)
    holder = holder_store.new_lock("jobs", ttl=2)
    holder.lock(timeout=10)
    stale_guard = holder.guard()
    stale_token = holder.fencing_token

    proxy.blackhole()  # the holder is frozen as far as etcd can tell
    rival = other_store.new_lock("jobs", ttl=10)
    try:
        rival.lock(timeout=WAIT)  # only possible once the holder's lease expired
        assert rival.fencing_token > stale_token
        fenced = other_store.transaction().if_(rival.guard()).then(Put("jobs/state", b"rival"))
        assert fenced.commit().succeeded
    finally:
        proxy.pass_through()

    assert holder.lost.wait(WAIT), "the holder was never told it lost the lock"
    assert not holder.is_locked
    # Healing the partition resets the holder's connections (the proxy closes those that
    # lost bytes); its keep-alives run on a stream connection of their own, so its unary
    # connection may learn of the reset only at its next call. A read (retried, as reads
    # are) puts it on a live connection: the stale write below must then be refused, not
    # lost in the reset as an IndeterminateError.
    holder_store.get_kv("jobs/state")
    late = holder_store.transaction().if_(stale_guard).then(Put("jobs/state", b"stale"))
    assert not late.commit().succeeded, "a write fenced with a stale token was applied"
    assert other_store.get("jobs/state") == b"rival"
    rival.unlock()
    holder.unlock()


WORKERS = 4
INCREMENTS = 40


def test_lock_protected_increments_are_exact_while_members_die(
    etcd_cluster: EtcdCluster, open_store: Callable[..., EtcdStore]
) -> None:
    setup = open_store(etcd_cluster.endpoints)
    setup.put("counter", b"0")
    inside = 0
    overlaps: list[int] = []
    failures: list[BaseException] = []
    guard_lock = threading.Lock()

    def increment(store: EtcdStore, worker: int, step: int) -> None:
        nonlocal inside
        deadline = time.monotonic() + WAIT * 2
        while True:
            # A member may die under any call, the session's lease grant included: retry.
            lock: Lock | None = None
            try:
                lock = store.new_lock("counter-lock", ttl=5)
                lock.lock(timeout=WAIT)
                break
            except KVStoreError:
                if lock is not None:
                    with contextlib.suppress(KVStoreError):
                        lock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        try:
            with guard_lock:
                inside += 1
                if inside > 1:
                    overlaps.append(inside)
            value = int(store.get("counter"))
            mine = str(value + 1).encode()
            while True:
                try:
                    store.put("counter", mine)
                    break
                except IndeterminateError:
                    # We hold the lock: nobody else writes, so reading tells the outcome.
                    if store.get("counter") == mine:
                        break
                except KVStoreError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            with guard_lock:
                inside -= 1
        finally:
            for _ in range(50):
                try:
                    lock.close()
                    break
                except KVStoreError:
                    time.sleep(0.1)

    def work(worker: int) -> None:
        store = open_store(etcd_cluster.endpoints, timeout=2.0)
        try:
            for step in range(INCREMENTS):
                increment(store, worker, step)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    follower = etcd_cluster.followers()[0]
    follower.kill()
    time.sleep(0.5)
    follower.start()
    leader = etcd_cluster.leader()
    leader.kill()
    etcd_cluster.leader()
    leader.start()
    assert any(thread.is_alive() for thread in threads), "the faults came after the work"
    for thread in threads:
        thread.join(WAIT * 4)
        assert not thread.is_alive(), "a worker hung"
    assert not failures, failures
    assert not overlaps, f"two holders at once: {overlaps}"
    assert int(setup.get("counter")) == WORKERS * INCREMENTS
