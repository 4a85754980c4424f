"""Core benchmarks: MemoryStore vs a locked dict, bulk_put vs a put loop, threads, watches.

Every figure is returned beside the baseline it is judged against, measured in the same
run on the same store:

- ``bench_memory_vs_dict``: ``MemoryStore`` get/put on one thread vs a ``dict`` behind a
  ``threading.Lock`` (the cheapest thread-safe store there is).
- ``bench_bulk_put``: ``bulk_put`` of 10,000 keys (``atomic=False``: transactions of
  ``max_txn_ops`` puts) vs a loop of single puts.
- ``bench_threads``: put and get throughput with 1, 4 and 16 threads sharing one store,
  with per-call latency percentiles.
- ``bench_watch``: watch delivery rate (events/s for a burst of puts) and put-to-event
  latency (one put at a time, time until its event is read).

Loops are bounded by time as well as by count, so a slow machine finishes in bounded time;
figures computed from a cut-short loop say so (``*_keys_measured``).

Run ``python benchmarks/bench_core.py`` for MemoryStore only (``benchmarks/run.py`` runs
everything, on etcd too, and writes ``RESULTS.md``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kvstore.base import BaseStore
from kvstore_memory import MemoryStore

__all__ = [
    "bench_bulk_put",
    "bench_memory_vs_dict",
    "bench_threads",
    "bench_watch",
    "main",
    "percentiles",
]

VALUE = b"x" * 100


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 of ``samples`` (seconds), in milliseconds.

    Args:
        samples: Latencies in seconds; at least one.

    Returns:
        ``{"p50": ..., "p90": ..., "p99": ...}`` in ms.
    """
    ordered = sorted(samples)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99)}


def _rate(operation: Callable[[int], object], seconds: float, max_ops: int) -> float:
    """Calls per second of ``operation(i)`` over ``seconds`` (or ``max_ops`` calls)."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while count < max_ops:
        operation(count)
        count += 1
        if count % 64 == 0 and time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - start)


class _LockedDict:
    """The baseline: a dict behind a lock, with the same get/put shape as a store."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = value

    def get(self, key: str) -> bytes:
        with self._lock:
            return self._data[key]


def bench_memory_vs_dict(*, seconds: float = 0.5, keys: int = 1000) -> dict[str, float]:
    """``MemoryStore`` get/put on one thread against a locked dict.

    Args:
        seconds: Duration of each of the four measurements.
        keys: Distinct keys cycled through.

    Returns:
        ``memory_get_per_s``, ``dict_get_per_s``, ``memory_put_per_s``,
        ``dict_put_per_s`` and the ratios ``get_vs_dict``, ``put_vs_dict`` (store/dict).
    """
    names = [f"bench/{index:05d}" for index in range(keys)]
    baseline = _LockedDict()
    with MemoryStore() as store:
        for name in names:
            store.put(name, VALUE)
            baseline.put(name, VALUE)
        memory_get = _rate(lambda i: store.get(names[i % keys]), seconds, 10**8)
        dict_get = _rate(lambda i: baseline.get(names[i % keys]), seconds, 10**8)
        memory_put = _rate(lambda i: store.put(names[i % keys], VALUE), seconds, 10**8)
        dict_put = _rate(lambda i: baseline.put(names[i % keys], VALUE), seconds, 10**8)
    return {
        "memory_get_per_s": memory_get,
        "dict_get_per_s": dict_get,
        "get_vs_dict": memory_get / dict_get,
        "memory_put_per_s": memory_put,
        "dict_put_per_s": dict_put,
        "put_vs_dict": memory_put / dict_put,
    }


def bench_bulk_put(
    store: BaseStore, *, keys: int = 10_000, loop_seconds: float = 8.0
) -> dict[str, float]:
    """``bulk_put`` of ``keys`` keys against a loop of single puts of the same keys.

    The put loop stops after ``loop_seconds``; its time for all ``keys`` is then
    extrapolated from the keys it wrote (``loop_keys_measured`` says how many).

    Args:
        store: The store (its ``bench/`` keys are deleted).
        keys: Keys written by each method.
        loop_seconds: Time bound of the put loop.

    Returns:
        ``bulk_seconds``, ``loop_seconds``, ``loop_keys_measured``, ``bulk_keys_per_s``,
        ``loop_keys_per_s`` and ``bulk_speedup`` (loop time / bulk time).
    """
    mapping = {f"bench/bulk/{index:06d}": VALUE for index in range(keys)}
    store.delete_prefix("bench/")
    start = time.perf_counter()
    store.bulk_put(mapping, atomic=False)
    bulk = time.perf_counter() - start
    store.delete_prefix("bench/")
    written = 0
    start = time.perf_counter()
    deadline = start + loop_seconds
    for key, value in mapping.items():
        store.put(key, value)
        written += 1
        if written % 50 == 0 and time.perf_counter() >= deadline:
            break
    loop = (time.perf_counter() - start) * keys / written
    store.delete_prefix("bench/")
    return {
        "bulk_seconds": bulk,
        "loop_seconds": loop,
        "loop_keys_measured": float(written),
        "bulk_keys_per_s": keys / bulk,
        "loop_keys_per_s": keys / loop,
        "bulk_speedup": loop / bulk,
    }


def _threaded(
    operation: Callable[[int, int], object], threads: int, seconds: float
) -> tuple[float, list[float]]:
    """Total calls/s of ``operation(thread, i)`` over ``threads`` threads, and latencies."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start_gate = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(number: int) -> None:
        mine = latencies[number]
        start_gate.wait()
        index = 0
        while not stop.is_set():
            begin = time.perf_counter()
            operation(number, index)
            mine.append(time.perf_counter() - begin)
            index += 1

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    start_gate.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    merged = [sample for samples in latencies for sample in samples]
    return len(merged) / elapsed, merged


def bench_threads(
    store: BaseStore, *, thread_counts: tuple[int, ...] = (1, 4, 16), seconds: float = 1.5
) -> dict[str, float]:
    """Put and get throughput with several threads sharing ``store``, with latencies.

    Args:
        store: The store (its ``bench/`` keys are deleted).
        thread_counts: The thread counts measured; the first is the baseline.
        seconds: Duration of each measurement.

    Returns:
        For each count ``n``: ``put_per_s_{n}``, ``get_per_s_{n}``, ``put_p50_ms_{n}``,
        ``put_p99_ms_{n}``, ``get_p50_ms_{n}``, ``get_p99_ms_{n}``; and
        ``put_scaling_{n}`` / ``get_scaling_{n}``: throughput over the baseline count's.
    """
    results: dict[str, float] = {}
    names = [f"bench/threads/{index:04d}" for index in range(256)]
    store.bulk_put(dict.fromkeys(names, VALUE), atomic=False)
    for count in thread_counts:

        def put(thread: int, index: int) -> None:
            store.put(names[(thread * 16 + index) % len(names)], VALUE)

        def get(thread: int, index: int) -> None:
            store.get(names[(thread * 16 + index) % len(names)])

        for name, operation in (("put", put), ("get", get)):
            rate, latencies = _threaded(operation, count, seconds)
            points = percentiles(latencies)
            results[f"{name}_per_s_{count}"] = rate
            results[f"{name}_p50_ms_{count}"] = points["p50"]
            results[f"{name}_p90_ms_{count}"] = points["p90"]
            results[f"{name}_p99_ms_{count}"] = points["p99"]
    base = thread_counts[0]
    for count in thread_counts:
        for name in ("put", "get"):
            results[f"{name}_scaling_{count}"] = (
                results[f"{name}_per_s_{count}"] / results[f"{name}_per_s_{base}"]
            )
    store.delete_prefix("bench/")
    return results


def bench_watch(
    store: BaseStore, *, burst: int = 2000, samples: int = 200, seconds: float = 5.0
) -> dict[str, float]:
    """Watch delivery rate for a burst of puts, and put-to-event latency one put at a time.

    Args:
        store: The store (its ``bench/`` keys are deleted).
        burst: Puts in the burst (written by one thread as fast as it can).
        samples: Latency samples (each: put, then wait for its event).
        seconds: Time bound of each part.

    Returns:
        ``events_per_s`` (burst events delivered per second, from the first put to the
        last event read), ``put_per_s`` (the same puts without a watch: the baseline),
        ``delivery_vs_put`` (their ratio), ``events_delivered``, and the put-to-event
        latency percentiles ``event_p50_ms``, ``event_p90_ms``, ``event_p99_ms`` beside
        the plain put latency ``put_p50_ms``, ``put_p99_ms``.
    """
    store.delete_prefix("bench/")
    names = [f"bench/watch/{index % 100:03d}" for index in range(burst)]
    start = time.perf_counter()
    deadline = start + seconds
    written = 0
    for name in names:
        store.put(name, VALUE)
        written += 1
        if written % 50 == 0 and time.perf_counter() >= deadline:
            break
    put_rate = written / (time.perf_counter() - start)

    received = 0
    with store.watch_prefix("bench/watch/") as watch:
        start = time.perf_counter()
        for name in names[:written]:
            store.put(name, VALUE)
        while received < written:
            if watch.next_event(timeout=max(deadline + seconds - time.perf_counter(), 0.1)):
                received += 1
            elif time.perf_counter() > deadline + seconds:
                break
        event_rate = received / (time.perf_counter() - start)

    event_latencies: list[float] = []
    put_latencies: list[float] = []
    with store.watch("bench/latency") as watch:
        stop_at = time.perf_counter() + seconds
        for index in range(samples):
            begin = time.perf_counter()
            store.put("bench/latency", str(index).encode())
            put_latencies.append(time.perf_counter() - begin)
            event = watch.next_event(timeout=5)
            if event is None:
                break
            event_latencies.append(time.perf_counter() - begin)
            if time.perf_counter() > stop_at:
                break
    store.delete_prefix("bench/")
    events = percentiles(event_latencies or [float("nan")])
    puts = percentiles(put_latencies)
    return {
        "events_per_s": event_rate,
        "put_per_s": put_rate,
        "delivery_vs_put": event_rate / put_rate,
        "events_delivered": float(received),
        "event_p50_ms": events["p50"],
        "event_p90_ms": events["p90"],
        "event_p99_ms": events["p99"],
        "put_p50_ms": puts["p50"],
        "put_p99_ms": puts["p99"],
    }


def main() -> dict[str, dict[str, float]]:
    """Run the core benchmarks on ``MemoryStore`` and print the figures.

    Returns:
        The figures by benchmark name.
    """
    results: dict[str, dict[str, float]] = {"memory_vs_dict": bench_memory_vs_dict()}
    with MemoryStore() as store:
        results["bulk_put"] = bench_bulk_put(store)
        results["threads"] = bench_threads(store, seconds=0.5)
        results["watch"] = bench_watch(store)
    for name, figures in results.items():
        print(f"{name}:")
        for metric, value in figures.items():
            print(f"  {metric:<22} {value:,.3f}")
    return results


if __name__ == "__main__":
    main()
