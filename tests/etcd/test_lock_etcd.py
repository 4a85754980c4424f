"""Locks on a real etcd: several processes, a paused holder, and the recipe through wrappers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from recipe_helpers import keepalive_threads

from kvstore import (
    CreateRevision,
    Lock,
    LockTimeoutError,
    NamespacedStore,
    Put,
)
from kvstore.recipes import LOCK_NAMESPACE
from kvstore_etcd import EtcdConfig, EtcdStore

pytestmark = pytest.mark.etcd

WORKER = Path(__file__).with_name("lock_worker.py")
REPO = Path(__file__).resolve().parents[2]
PROCESS_WAIT = 120.0
"""Upper bound for a worker process; reaching it fails the test."""


def spawn(*args: str) -> subprocess.Popen[str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=path),
    )


def read_json(process: subprocess.Popen[str]) -> dict[str, object]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        _, stderr = process.communicate(timeout=PROCESS_WAIT)
        pytest.fail(f"worker exited early ({process.returncode}): {stderr}")
    loaded = json.loads(line)
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_four_processes_increment_under_the_lock_to_exactly_200(
    etcd_endpoints: list[str], etcd_store: EtcdStore, processes: list[subprocess.Popen[str]]
) -> None:
    for _ in range(4):
        processes.append(spawn(etcd_endpoints[0], "counter", "50"))
    for process in processes:
        stdout, stderr = process.communicate(timeout=PROCESS_WAIT)
        assert process.returncode == 0, stderr
        assert stdout.strip() == "done"
    assert etcd_store.get("counter/counter") == b"200"
    assert etcd_store.count(LOCK_NAMESPACE) == 0


def test_paused_holder_loses_the_lock_and_its_fenced_write_is_rejected(
    etcd_endpoints: list[str], etcd_store: EtcdStore, processes: list[subprocess.Popen[str]]
) -> None:
    holder = spawn("--hold", etcd_endpoints[0], "paused", "2")
    processes.append(holder)
    held = read_json(holder)
    stale_key, stale_token = str(held["key"]), int(str(held["token"]))
    contender = etcd_store.new_lock("paused", ttl=30)

    holder.send_signal(signal.SIGSTOP)
    try:
        contender.lock(timeout=30)  # the paused holder cannot renew: its lease expires
        assert contender.fencing_token > stale_token
        stale = etcd_store.kv_txn(
            [CreateRevision(stale_key) == stale_token], [Put("resource/paused", b"stale")], []
        )
        assert not stale.succeeded
        fresh = etcd_store.transaction().if_(contender.guard())
        assert fresh.then(Put("resource/paused", b"fresh")).commit().succeeded
    finally:
        holder.send_signal(signal.SIGCONT)

    assert holder.stdin is not None
    holder.stdin.write("go\n")
    holder.stdin.flush()
    outcome = read_json(holder)
    assert outcome == {"written": False, "lost": True, "is_locked": False}
    assert holder.wait(PROCESS_WAIT) == 0
    assert etcd_store.get("resource/paused") == b"fresh"
    assert contender.is_locked
    contender.close()


def test_try_lock_and_timeouts_leave_no_waiter_key(etcd_store: EtcdStore) -> None:
    holder = etcd_store.new_lock("busy", ttl=10)
    other = etcd_store.new_lock("busy", ttl=10)
    assert holder.try_lock()
    revision = etcd_store.kv_range("x").revision
    assert not other.try_lock()
    assert etcd_store.kv_range("x").revision == revision
    with pytest.raises(LockTimeoutError):
        other.lock(timeout=0.2)
    assert etcd_store.list(holder.prefix) == [holder.key]
    holder.unlock()
    other.lock(timeout=10)
    assert other.is_locked
    other.close()
    holder.close()
    assert etcd_store.count(LOCK_NAMESPACE) == 0


def test_names_cannot_collide_by_prefix(etcd_store: EtcdStore) -> None:
    locks = [etcd_store.new_lock(name, ttl=10) for name in ("/a", "/a/b", "a", "a/b")]
    assert all(lock.try_lock() for lock in locks)
    for lock in locks:
        assert etcd_store.list(lock.prefix) == [lock.key]
        lock.close()


def test_fifo_hand_off_between_threads_through_a_namespace(etcd_config: EtcdConfig) -> None:
    inner = EtcdStore(etcd_config)
    with NamespacedStore(inner, "tenant/") as store:
        holder = store.new_lock("q", ttl=10)
        holder.lock()
        order: list[int] = []
        waiters = [store.new_lock("q", ttl=10) for _ in range(3)]
        threads = []
        for index, waiter in enumerate(waiters):

            def run(index: int = index, waiter: Lock = waiter) -> None:
                waiter.lock(timeout=30)
                order.append(index)
                waiter.unlock()

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + PROCESS_WAIT
            while store.count(holder.prefix) < index + 2:
                assert time.monotonic() < deadline, "waiter did not queue"
                thread.join(0.01)
        holder.unlock()
        for thread in threads:
            thread.join(PROCESS_WAIT)
        assert order == [0, 1, 2]
        assert inner.list("tenant/" + LOCK_NAMESPACE) == []
        for lock in (holder, *waiters):
            lock.close()


def test_with_blocks_leave_no_lease_and_no_keepalive_thread(etcd_store: EtcdStore) -> None:
    threads, leases = keepalive_threads(), set(etcd_store.lease_leases())
    for _ in range(10):
        with etcd_store.new_lock("billing", ttl=10) as lock:
            assert lock.is_locked
    other = etcd_store.new_lock("billing", ttl=10)
    with etcd_store.new_lock("billing", ttl=10):
        assert not other.try_lock()
    assert keepalive_threads() == threads
    assert set(etcd_store.lease_leases()) - leases == set()
    other.close()
