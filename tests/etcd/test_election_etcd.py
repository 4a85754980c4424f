"""Elections on a real etcd: failover from a killed leader process, observers, proclaim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from recipe_helpers import keepalive_threads

from kvstore import KeyValue, LockNotHeldError, LockTimeoutError, Put
from kvstore.recipes import ELECTION_NAMESPACE
from kvstore_etcd import EtcdStore

pytestmark = pytest.mark.etcd

WORKER = Path(__file__).with_name("lock_worker.py")
REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0
"""Upper bound for waiting on a process or thread; reaching it fails the test."""


def spawn_leader(endpoint: str, name: str, value: str) -> subprocess.Popen[str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WORKER), "--campaign", endpoint, name, "2", value],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=path),
    )


def test_failover_when_the_leader_process_is_killed(
    etcd_endpoints: list[str], etcd_store: EtcdStore
) -> None:
    leader = spawn_leader(etcd_endpoints[0], "db", "process")
    try:
        assert leader.stdout is not None
        line = leader.stdout.readline()
        if not line:
            pytest.fail(f"leader process failed: {leader.communicate(timeout=WAIT)[1]}")
        elected = json.loads(line)
        follower = etcd_store.new_election("db", ttl=10)
        observer = follower.observe()
        first = observer.next_leader(WAIT)
        assert first is not None
        assert (first.key, first.value) == (elected["key"], b"process")
        with pytest.raises(LockTimeoutError):
            follower.campaign(b"here", timeout=0.2)
        assert etcd_store.count(follower.prefix) == 1

        leader.kill()  # no resign: only the lease's expiry ends its leadership
        leader.wait(WAIT)
        follower.campaign(b"here", timeout=30)

        assert follower.is_leader
        assert follower.fencing_token > elected["token"]
        second = observer.next_leader(WAIT)
        assert second is not None
        assert (second.key, second.value) == (follower.key, b"here")
        assert etcd_store.kv_txn([follower.guard()], [Put("config/db", b"v")], []).succeeded
        observer.cancel()
        follower.close()
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
    assert etcd_store.count(ELECTION_NAMESPACE) == 0


def test_one_leader_at_a_time_among_threads(etcd_store: EtcdStore) -> None:
    leading = 0
    most = 0
    led: list[bytes] = []
    errors: list[BaseException] = []
    guard = threading.Lock()

    def run(value: bytes) -> None:
        nonlocal leading, most
        try:
            with etcd_store.new_election("threads", ttl=10) as election:
                election.campaign(value, timeout=WAIT)
                with guard:
                    leading += 1
                    most = max(most, leading)
                    led.append(value)
                with guard:
                    leading -= 1
                election.resign()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"n{i}".encode(),)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert errors == []
    assert most == 1
    assert sorted(led) == [b"n0", b"n1", b"n2"]


def test_observer_sees_proclaims_and_hand_over(etcd_store: EtcdStore) -> None:
    first = etcd_store.new_election("obs", ttl=10)
    second = etcd_store.new_election("obs", ttl=10)
    observer = first.observe()
    first.campaign(b"1")
    first.proclaim(b"2")
    waiting = threading.Thread(target=second.campaign, args=(b"3",), kwargs={"timeout": WAIT})
    waiting.start()
    deadline = time.monotonic() + WAIT
    while etcd_store.count(first.prefix) < 2:
        assert time.monotonic() < deadline, "second candidate did not queue"
        waiting.join(0.01)
    with pytest.raises(LockNotHeldError):
        second.proclaim(b"not yet")
    first.resign()
    waiting.join(WAIT)
    assert second.is_leader
    seen: list[KeyValue] = []
    while len(seen) < 3:
        kv = observer.next_leader(WAIT)
        assert kv is not None
        seen.append(kv)
    assert [(kv.key, kv.value) for kv in seen] == [
        (first.key, b"1"),
        (first.key, b"2"),
        (second.key, b"3"),
    ]
    observer.cancel()
    first.close()
    second.close()


def test_resign_leaves_no_lease_and_no_keepalive_thread(etcd_store: EtcdStore) -> None:
    threads, leases = keepalive_threads(), set(etcd_store.lease_leases())
    election = etcd_store.new_election("cron", ttl=10)
    for index in range(5):
        election.campaign(str(index).encode(), timeout=WAIT)
        assert election.is_leader
        election.resign()
    assert keepalive_threads() == threads
    assert set(etcd_store.lease_leases()) - leases == set()
    election.close()
