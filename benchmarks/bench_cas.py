"""compare_and_swap on etcd: one transaction (now) vs read + guarded write (before).

Run ``python benchmarks/bench_cas.py`` (starts a throwaway local etcd unless
``--endpoint host:port`` is given).

Method: one ``EtcdStore`` on one server, sequential swaps of one key's value between two
values. ``one_txn`` is ``compare_and_swap`` as it is (``Value(key) == old`` and a put that
keeps the lease, one round trip); ``read_then_write`` is the path ``EncryptedStore`` still
takes (a read, then a transaction guarded by the mod revision: two round trips), forced on
the same store by turning its ``value_compares`` off. The raw ``etcd3`` client's
``replace`` (one transaction, without keeping the lease) is the peer baseline. Calls are
timed in blocks of 100, the three alternating, and the figure is the median per-call time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from etcd_target import etcd_target

__all__ = ["main", "measure"]

_BLOCK = 100


def _block(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(_BLOCK):
        function()
    return (time.perf_counter() - start) / _BLOCK


def measure(endpoint: str, *, blocks: int = 20) -> dict[str, Any]:
    """Median microseconds per swap of each path, and their ratios."""
    import etcd3

    from kvstore_etcd import EtcdConfig, EtcdStore

    host, _, port = endpoint.rpartition(":")
    raw = etcd3.client(host=host, port=int(port), timeout=5)
    fast = EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=5.0))
    slow = EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=5.0))
    slow.value_compares = False  # the read-then-guarded-write path
    values = (b"a" * 100, b"b" * 100)

    def swapper(store: EtcdStore | None, key: str) -> Callable[[], object]:
        swaps = [0]

        def swap() -> object:
            old, new = values[swaps[0] % 2], values[(swaps[0] + 1) % 2]
            swaps[0] += 1
            done = (
                raw.replace(key, old, new)
                if store is None
                else store.compare_and_swap(key, old, new)
            )
            assert done, f"{key}: the swap did not happen"
            return done

        return swap

    paths = {
        "one_txn": swapper(fast, "bench/cas/fast"),
        "read_then_write": swapper(slow, "bench/cas/slow"),
        "raw_replace": swapper(None, "bench/cas/raw"),
    }
    samples: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for key in ("bench/cas/fast", "bench/cas/slow", "bench/cas/raw"):
            fast.put(key, values[0])
        for function in paths.values():
            _block(function)
        for round_index in range(blocks):
            order = list(paths.items())
            if round_index % 2:
                order.reverse()
            for name, function in order:
                samples[name].append(_block(function))
    finally:
        fast.close()
        slow.close()
        raw.close()
    medians = {name: statistics.median(times) * 1e6 for name, times in samples.items()}
    return {
        "one_txn_us": medians["one_txn"],
        "read_then_write_us": medians["read_then_write"],
        "raw_replace_us": medians["raw_replace"],
        "speedup": medians["read_then_write"] / medians["one_txn"],
        "vs_raw": medians["one_txn"] / medians["raw_replace"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="host:port of an etcd (default: start one)")
    parser.add_argument("--blocks", type=int, default=20)
    args = parser.parse_args(argv)
    with etcd_target([args.endpoint] if args.endpoint else []) as target:
        result = measure(target.endpoints[0], blocks=args.blocks)
    print(
        f"compare_and_swap on etcd: one txn {result['one_txn_us']:.0f} us, "
        f"read + guarded write {result['read_then_write_us']:.0f} us "
        f"({result['speedup']:.2f}x faster now); raw etcd3 replace "
        f"{result['raw_replace_us']:.0f} us (ours {result['vs_raw']:.2f}x of it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
