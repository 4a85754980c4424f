"""No acknowledged write is lost while the leader is SIGKILLed and restarted (SPEC 12)."""

from __future__ import annotations

import collections
import random
import threading
from collections.abc import Callable

import pytest

from kvstore import EventType, IndeterminateError, KVStoreError, UnavailableError
from kvstore_etcd import EtcdStore
from kvstore_etcd.launcher import EtcdCluster

from .conftest import WAIT, WatchRecorder, wait_until

pytestmark = [pytest.mark.reliability, pytest.mark.etcd]

THREADS = 8
PUTS_PER_THREAD = 500
KEYS = 64
"""Threads share these keys, so the final state is a real replay of interleaved writes."""

SAMPLED_REVISION_READS = 300


def test_no_acknowledged_write_is_lost_across_leader_kills(
    etcd_cluster: EtcdCluster, open_store: Callable[..., EtcdStore]
) -> None:
    writer = open_store(etcd_cluster.endpoints, timeout=2.0)
    reader = open_store(
        etcd_cluster.endpoints, timeout=2.0, dial_keepalive_time=1.0, dial_keepalive_timeout=1.0
    )
    recorder = WatchRecorder(reader.watch_prefix("w/", start_revision=1))

    lock = threading.Lock()
    acknowledged: list[tuple[str, bytes, int]] = []
    indeterminate: list[tuple[str, bytes]] = []
    unavailable: list[tuple[str, bytes]] = []
    unexpected: list[tuple[str, bytes, KVStoreError]] = []
    done = collections.Counter[str]()

    def work(thread: int) -> None:
        for index in range(PUTS_PER_THREAD):
            key = f"w/{(thread * PUTS_PER_THREAD + index) % KEYS:02}"
            value = f"{thread}:{index}".encode()
            try:
                revision = writer.put(key, value)
            except IndeterminateError:
                with lock:
                    indeterminate.append((key, value))
            except UnavailableError:
                with lock:
                    unavailable.append((key, value))
            except KVStoreError as exc:
                with lock:
                    unexpected.append((key, value, exc))
            else:
                with lock:
                    acknowledged.append((key, value, revision))
            with lock:
                done["puts"] += 1

    total = THREADS * PUTS_PER_THREAD
    workers = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(THREADS)]
    for worker in workers:
        worker.start()
    kills = 0
    for fraction in (0.2, 0.55):
        target = total * fraction
        assert wait_until(lambda: done["puts"] >= target), "writers stalled"  # noqa: B023
        leader = etcd_cluster.leader()
        leader.kill()
        kills += 1
        etcd_cluster.leader()  # a new one is elected while the old one is down
        leader.start()
    for worker in workers:
        worker.join(WAIT * 4)
        assert not worker.is_alive(), "a writer thread hung"

    # One linearizable read fixes the end of the history: the state of every key at a revision.
    final = writer.kv_range("w/", "w0")
    final_revision = final.revision
    assert recorder.wait_for_revision(final_revision), (
        f"the watch stopped at {recorder.last_revision} of {final_revision}: {recorder.error!r}"
    )
    recorder.stop()
    assert recorder.error is None
    events = list(recorder.events)
    print(
        f"{len(acknowledged)} acknowledged, {len(indeterminate)} indeterminate, "
        f"{len(unavailable)} unavailable, {kills} leader kills, revision {final_revision}"
    )

    assert not unexpected, (
        f"writes failed with errors other than the documented ones: {unexpected[:5]}"
    )
    # Nothing else writes to this fresh cluster: every revision is one of our puts, seen once.
    # The watch may run past the snapshot: a put whose caller got IndeterminateError can still
    # be committed later (a follower forwards the proposal to the next leader), which is what
    # "indeterminate" means; such a late put must be one of those, applied at most once.
    assert [event.kv.mod_revision for event in events] == list(range(2, len(events) + 2))
    assert all(event.type is EventType.PUT for event in events)
    history = [event for event in events if event.kv.mod_revision <= final_revision]
    assert [event.kv.mod_revision for event in history] == list(range(2, final_revision + 1))
    seen = collections.Counter(event.kv.value for event in events)
    by_value = {event.kv.value: event for event in events}
    indeterminate_values = {value for _, value in indeterminate}
    for event in events[len(history) :]:
        assert event.kv.value in indeterminate_values, f"{event} was applied after the snapshot"

    for key, value, revision in acknowledged:
        assert seen[value] == 1, f"acknowledged put {key}={value!r} seen {seen[value]} times"
        event = by_value[value]
        assert (event.kv.key, event.kv.mod_revision) == (key, revision)
        assert revision <= final_revision
    for key, value in indeterminate:
        assert seen[value] <= 1, f"indeterminate put {key}={value!r} applied {seen[value]} times"
    for key, value in unavailable:
        assert seen[value] == 0, f"put {key}={value!r} raised UnavailableError but was applied"
    assert sum(seen.values()) == len(events)

    replay: dict[str, tuple[bytes, int]] = {}
    for event in history:
        replay[event.kv.key] = (event.kv.value, event.kv.mod_revision)
    assert {kv.key: (kv.value, kv.mod_revision) for kv in final.kvs} == replay

    for key, value, revision in random.Random(6).sample(
        acknowledged, min(SAMPLED_REVISION_READS, len(acknowledged))
    ):
        assert writer.get_with_revision(key, revision) == value
