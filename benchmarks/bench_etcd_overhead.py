"""EtcdStore vs the raw ``etcd3`` client: get and put on the same etcd, in the same run.

Run ``python benchmarks/bench_etcd_overhead.py`` (starts a throwaway local etcd unless
``--endpoint host:port`` is given). ``measure()`` returns the numbers for the results table.

Method: one client of each kind on one server, sequential single-key calls. Calls are
timed in blocks of 100, raw and store blocks alternating (and which goes first), so load
from other processes hits both; the reported figure is the median per-call time over all
blocks, and the ratio is store / raw (1.10 = 10 % overhead).

``--threads`` (``measure_threads()``) compares the two clients' put and get throughput
with 1, 4 and 16 threads sharing one client, as ``bench_core.bench_threads`` measures it
(calls completed in a fixed time, all threads released at once), rounds alternating
which client goes first; the figures are medians over rounds. The scaling (N threads over
1 thread) of EtcdStore should match the raw client's: our call path takes no lock, so
only the GIL and the server limit it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from etcd_target import etcd_target

__all__ = ["main", "measure", "measure_threads"]

_BLOCK = 100
"""Calls per timed block; blocks of the two clients alternate."""


def _time_per_call(function: Callable[[int], object], ops: int) -> float:
    start = time.perf_counter()
    for index in range(ops):
        function(index)
    return (time.perf_counter() - start) / ops


def _run(endpoint: str, ops: int, rounds: int) -> dict[str, Any]:
    import etcd3

    from kvstore_etcd import EtcdConfig, EtcdStore

    host, _, port = endpoint.rpartition(":")
    raw = etcd3.client(host=host, port=int(port), timeout=5)
    store = EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=5.0))
    value = b"v" * 100
    keys = [f"bench/overhead/{index % 100:03d}" for index in range(ops)]
    try:
        for key in keys[:100]:
            raw.put(key, value)

        def raw_get(index: int) -> object:
            return raw.get(keys[index])

        def store_get(index: int) -> object:
            return store.get(keys[index])

        def raw_put(index: int) -> object:
            return raw.put(keys[index], value)

        def store_put(index: int) -> object:
            return store.put(keys[index], value)

        for warm in (raw_get, store_get, raw_put, store_put):
            _time_per_call(warm, min(ops, 200))
        samples: dict[str, list[float]] = {
            name: [] for name in ("raw_get", "store_get", "raw_put", "store_put")
        }
        pairs = (
            ("raw_get", raw_get, "store_get", store_get),
            ("raw_put", raw_put, "store_put", store_put),
        )
        # Short alternating blocks: load from other processes hits both clients alike.
        blocks = max(ops // _BLOCK, 1)
        for round_index in range(rounds * blocks):
            for first_name, first, second_name, second in pairs:
                order = [(first_name, first), (second_name, second)]
                if round_index % 2:
                    order.reverse()
                for name, function in order:
                    samples[name].append(_time_per_call(function, _BLOCK))
        medians = {name: statistics.median(times) for name, times in samples.items()}
    finally:
        store.close()
        raw.close()
    return {
        "endpoint": endpoint,
        "ops_per_round": ops,
        "rounds": rounds,
        "get_raw_us": medians["raw_get"] * 1e6,
        "get_store_us": medians["store_get"] * 1e6,
        "get_ratio": medians["store_get"] / medians["raw_get"],
        "put_raw_us": medians["raw_put"] * 1e6,
        "put_store_us": medians["store_put"] * 1e6,
        "put_ratio": medians["store_put"] / medians["raw_put"],
    }


def measure(endpoint: str | None = None, *, ops: int = 2000, rounds: int = 7) -> dict[str, Any]:
    """Time raw etcd3 and EtcdStore get/put against one etcd.

    Args:
        endpoint: ``host:port`` of an etcd to use; ``None`` starts a local one.
        ops: Calls per client per round.
        rounds: Rounds; the median per-call time over rounds is reported.

    Returns:
        ``get_raw_us``, ``get_store_us``, ``get_ratio``, ``put_raw_us``, ``put_store_us``,
        ``put_ratio`` (store / raw), plus the etcd version and parameters.
    """
    with etcd_target([endpoint] if endpoint else []) as target:
        result = _run(target.endpoints[0], ops, rounds)
        result["etcd_version"] = target.version
    return result


def _run_threads(
    endpoint: str, thread_counts: tuple[int, ...], seconds: float, rounds: int
) -> dict[str, Any]:
    import etcd3
    from bench_core import _threaded

    from kvstore_etcd import EtcdConfig, EtcdStore

    host, _, port = endpoint.rpartition(":")
    raw = etcd3.client(host=host, port=int(port), timeout=5)
    store = EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=5.0))
    value = b"v" * 100
    names = [f"bench/threads/{index:04d}" for index in range(256)]
    operations: dict[str, Callable[[int, int], object]] = {
        "raw_put": lambda thread, index: raw.put(names[(thread * 16 + index) % 256], value),
        "store_put": lambda thread, index: store.put(names[(thread * 16 + index) % 256], value),
        "raw_get": lambda thread, index: raw.get(names[(thread * 16 + index) % 256]),
        "store_get": lambda thread, index: store.get(names[(thread * 16 + index) % 256]),
    }
    rates: dict[str, list[float]] = {}
    try:
        for name in names:
            raw.put(name, value)
        for operation in operations.values():
            _threaded(operation, 4, 0.3)
        for round_index in range(rounds):
            for count in thread_counts:
                for kind in ("put", "get"):
                    order = ["raw", "store"] if round_index % 2 == 0 else ["store", "raw"]
                    for client in order:
                        rate, _ = _threaded(operations[f"{client}_{kind}"], count, seconds)
                        rates.setdefault(f"{client}_{kind}_per_s_{count}", []).append(rate)
    finally:
        store.close()
        raw.close()
    result: dict[str, Any] = {"endpoint": endpoint, "rounds": rounds, "seconds": seconds}
    result.update({name: statistics.median(values) for name, values in rates.items()})
    base = thread_counts[0]
    for client in ("raw", "store"):
        for kind in ("put", "get"):
            for count in thread_counts:
                result[f"{client}_{kind}_scaling_{count}"] = (
                    result[f"{client}_{kind}_per_s_{count}"]
                    / result[f"{client}_{kind}_per_s_{base}"]
                )
    return result


def measure_threads(
    endpoint: str | None = None,
    *,
    thread_counts: tuple[int, ...] = (1, 4, 16),
    seconds: float = 1.5,
    rounds: int = 3,
) -> dict[str, Any]:
    """Put and get throughput of raw etcd3 and EtcdStore with 1/4/16 threads, same run.

    Args:
        endpoint: ``host:port`` of an etcd to use; ``None`` starts a local one.
        thread_counts: The thread counts; the first is the scaling baseline.
        seconds: Duration of each measurement.
        rounds: Rounds (alternating which client goes first); medians are reported.

    Returns:
        ``{raw,store}_{put,get}_per_s_{n}`` and ``{raw,store}_{put,get}_scaling_{n}``.
    """
    with etcd_target([endpoint] if endpoint else []) as target:
        result = _run_threads(target.endpoints[0], thread_counts, seconds, rounds)
        result["etcd_version"] = target.version
    return result


def bench_etcd_overhead(endpoints: list[str]) -> dict[str, Any]:
    """What ``run.py`` reports: the get/put overhead and the 1/4/16-thread scaling of both
    clients on the given etcd.

    Args:
        endpoints: ``host:port`` of the etcd to measure (the first is used).

    Returns:
        ``measure``'s figures, plus ``measure_threads``' under ``threads``.
    """
    result = measure(endpoints[0])
    result["threads"] = measure_threads(endpoints[0], seconds=1.0, rounds=1)
    return result


def _print_threads(result: dict[str, Any], thread_counts: tuple[int, ...]) -> None:
    print(f"etcd {result.get('etcd_version', 'external')} at {result['endpoint']}, ", end="")
    print(f"{result['seconds']} s per point, median of {result['rounds']} rounds")
    print()
    print("| operation | threads | raw etcd3 (ops/s) | scaling | EtcdStore (ops/s) | scaling |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in ("put", "get"):
        for count in thread_counts:
            print(
                f"| {kind} | {count} | {result[f'raw_{kind}_per_s_{count}']:,.0f} | "
                f"{result[f'raw_{kind}_scaling_{count}']:.2f}x | "
                f"{result[f'store_{kind}_per_s_{count}']:,.0f} | "
                f"{result[f'store_{kind}_scaling_{count}']:.2f}x |"
            )


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="host:port of an existing etcd")
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--threads", action="store_true", help="throughput with 1/4/16 threads instead"
    )
    args = parser.parse_args(argv)
    if args.threads:
        counts = (1, 4, 16)
        _print_threads(measure_threads(args.endpoint, thread_counts=counts), counts)
        return 0
    result = measure(args.endpoint, ops=args.ops, rounds=args.rounds)
    version = result.get("etcd_version", "external")
    print(f"etcd {version} at {result['endpoint']}, {args.ops} ops x {args.rounds} rounds")
    print()
    print("| operation | raw etcd3 (us/op) | EtcdStore (us/op) | ratio |")
    print("|---|---:|---:|---:|")
    for operation in ("get", "put"):
        print(
            f"| {operation} | {result[f'{operation}_raw_us']:.1f} | "
            f"{result[f'{operation}_store_us']:.1f} | {result[f'{operation}_ratio']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
