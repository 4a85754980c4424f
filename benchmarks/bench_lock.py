"""Benchmark of the lock recipe: uncontended acquire+release, and hand-off under contention.

Each figure stands next to a baseline measured in the same run on the same store: a bare
``put`` round trip. An uncontended ``lock()`` + ``unlock()`` on a lock with a shared
``Session`` is two writes (the acquiring transaction and the delete), so its ideal ratio
to a put is about 2. A lock with its own session (``with store.new_lock(...)``) also
grants, first renews and revokes that session's lease and starts and stops its
keep-alive thread on every acquisition, so its ideal is about 5. A hand-off is the
holder's delete, the watch event reaching the next waiter, and the waiter's re-read, so
its ideal is about 2-3 put round trips.

Run ``python benchmarks/bench_lock.py`` (MemoryStore, plus etcd when a binary or
``$KVSTORE_ETCD_ENDPOINTS`` is available); it prints a Markdown table.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from etcd_target import optional_etcd_store

from kvstore import BaseStore, Lock, Session
from kvstore_memory import MemoryStore

__all__ = ["bench_lock", "main"]


def _per_second(operation: Callable[[], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def _lock_unlock(lock: Lock) -> None:
    lock.lock()
    lock.unlock()


def _put_latency(store: BaseStore, samples: int) -> float:
    times = []
    for index in range(samples):
        start = time.perf_counter()
        store.put("bench/lock/baseline", str(index).encode())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _hand_off_latency(store: BaseStore, threads: int, hand_offs: int) -> float:
    """Median time from a holder's ``unlock()`` call to the next waiter's ``lock()`` return."""
    released: list[float] = []
    acquired: list[float] = []
    record = threading.Lock()
    budget = [hand_offs + 1]
    locks = [store.new_lock("bench/hand-off") for _ in range(threads)]

    def contend(index: int) -> None:
        lock = locks[index]
        while True:
            lock.lock()
            now = time.perf_counter()
            with record:
                if budget[0] <= 0:
                    lock.unlock()
                    return
                budget[0] -= 1
                acquired.append(now)
            time.sleep(0.0005)  # let the others queue up behind the holder
            with record:
                released.append(time.perf_counter())
            lock.unlock()

    workers = [threading.Thread(target=contend, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for lock in locks:
        lock.close()
    # acquisition k+1 follows release k: the lock is held by one thread at a time
    gaps = [after - before for before, after in zip(released, acquired[1:], strict=False)]
    return statistics.median(gaps)


def bench_lock(
    store: BaseStore, *, seconds: float = 1.0, threads: int = 4, hand_offs: int = 200
) -> dict[str, float]:
    """Measure the lock recipe and its put baseline on ``store``.

    Args:
        store: The store to measure (left as it was found, apart from ``bench/`` keys).
        seconds: Duration of each throughput measurement.
        threads: Contending threads (each with its own ``Lock``) for the hand-off figure.
        hand_offs: Hand-offs measured.

    Returns:
        ``put_per_s``, ``lock_unlock_per_s`` and ``lock_unlock_vs_put`` (time per
        lock+unlock over time per put) for a lock with its own session,
        ``shared_lock_unlock_per_s`` and ``shared_lock_unlock_vs_put`` for a lock on a
        shared session, ``put_latency_ms``, ``hand_off_ms`` and ``hand_off_vs_put``.
    """
    store.put("bench/lock/baseline", b"0")
    put_per_s = _per_second(lambda: store.put("bench/lock/baseline", b"1"), seconds)
    own = store.new_lock("bench/uncontended")
    lock_per_s = _per_second(lambda: _lock_unlock(own), seconds)
    own.close()
    with Session(store) as session:
        shared = store.new_lock("bench/uncontended", session=session)
        shared_per_s = _per_second(lambda: _lock_unlock(shared), seconds)
        shared.close()
    put_latency = _put_latency(store, 200)
    hand_off = _hand_off_latency(store, threads, hand_offs)
    store.delete_prefix("bench/lock/")
    return {
        "put_per_s": put_per_s,
        "lock_unlock_per_s": lock_per_s,
        "lock_unlock_vs_put": put_per_s / lock_per_s,
        "shared_lock_unlock_per_s": shared_per_s,
        "shared_lock_unlock_vs_put": put_per_s / shared_per_s,
        "put_latency_ms": put_latency * 1000,
        "hand_off_ms": hand_off * 1000,
        "hand_off_vs_put": hand_off / put_latency,
    }


def _table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| store | put/s | lock+unlock/s | lock+unlock vs put | shared session: lock+unlock/s "
        "| vs put | put ms | hand-off ms | hand-off vs put |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['put_per_s']:.0f} | {row['lock_unlock_per_s']:.0f} "
            f"| {row['lock_unlock_vs_put']:.2f}x | {row['shared_lock_unlock_per_s']:.0f} "
            f"| {row['shared_lock_unlock_vs_put']:.2f}x | {row['put_latency_ms']:.3f} "
            f"| {row['hand_off_ms']:.3f} | {row['hand_off_vs_put']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> dict[str, dict[str, float]]:
    """Run the benchmark on MemoryStore and, when available, etcd; print a Markdown table."""
    results: dict[str, dict[str, float]] = {}
    with MemoryStore() as memory:
        results["memory"] = bench_lock(memory)
    with optional_etcd_store() as etcd:
        if etcd is not None:
            results["etcd"] = bench_lock(etcd)
    print(_table(results))
    return results


if __name__ == "__main__":
    main()
