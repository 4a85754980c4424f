"""The mirror (SPEC 17) on etcd, each figure beside its baseline in the same run:

- ``read``: ``mirror.get`` against ``store.get`` of the same key (target >= 100x);
- ``visible``: from a put's return to the mirror reflecting it (``wait_for_revision``),
  p50 / p99, beside the put's own round trip;
- ``initial sync`` of 100,000 keys (``store.mirror(prefix).wait_synced()``) against
  ``store.get_multiple(prefix)`` of the same keys;
- ``memory``: bytes the mirror holds per key (``tracemalloc``, after the listing's pages
  were dropped), beside the key and value bytes themselves.

Run ``python benchmarks/bench_mirror.py`` (a throwaway etcd, or
``$KVSTORE_ETCD_ENDPOINTS``); it prints a Markdown table.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

__all__ = ["bench_mirror", "main"]


def _per_second(operation: Callable[[], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    while True:
        for _ in range(100):
            operation()
        count += 100
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_mirror(endpoints: list[str], *, quick: bool = False) -> dict[str, Any]:
    """Every figure of the module docstring, on a store of ``endpoints``."""
    from kvstore_etcd import EtcdConfig, EtcdStore

    keys = 10_000 if quick else 100_000
    samples = 100 if quick else 500
    seconds = 0.5 if quick else 2.0
    config = EtcdConfig(endpoints=endpoints, request_timeout=60)
    result: dict[str, Any] = {}
    with EtcdStore(config) as store:
        store.delete_prefix("bench/mirror/")
        store.put("bench/mirror/read/k", b"v" * 16)
        with store.mirror("bench/mirror/read/") as mirror:
            mirror.wait_synced(30)
            mirror_reads = _per_second(lambda: mirror.get("bench/mirror/read/k"), seconds)
            store_reads = _per_second(lambda: store.get("bench/mirror/read/k"), seconds)
            result["read"] = {
                "mirror_get_per_s": mirror_reads,
                "store_get_per_s": store_reads,
                "speedup": mirror_reads / store_reads,
            }
            visible: list[float] = []
            puts: list[float] = []
            for index in range(samples):
                began = time.perf_counter()
                revision = store.put("bench/mirror/read/k", str(index).encode())
                acknowledged = time.perf_counter()
                if not mirror.wait_for_revision(revision, 10):
                    raise RuntimeError("the mirror did not see a put")
                visible.append((time.perf_counter() - acknowledged) * 1000)
                puts.append((acknowledged - began) * 1000)
            result["visible"] = {
                "visible_p50_ms": statistics.median(visible),
                "visible_p99_ms": _percentile(visible, 0.99),
                "put_p50_ms": statistics.median(puts),
                "put_p99_ms": _percentile(puts, 0.99),
            }

        value = b"x" * 16
        names = [f"bench/mirror/sync/{index:06d}" for index in range(keys)]
        for start in range(0, keys, 128):
            store.bulk_put({name: value for name in names[start : start + 128]})
        began = time.perf_counter()
        listed = store.get_multiple("bench/mirror/sync/")
        get_multiple_s = time.perf_counter() - began
        assert len(listed) == keys
        del listed
        began = time.perf_counter()
        with store.mirror("bench/mirror/sync/") as mirror:
            if not mirror.wait_synced(120):
                raise RuntimeError("the mirror did not sync")
            sync_s = time.perf_counter() - began
            assert len(mirror) == keys
        # Memory apart: tracemalloc slows every allocation down, so not while timing.
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        with store.mirror("bench/mirror/sync/") as mirror:
            if not mirror.wait_synced(120):
                raise RuntimeError("the mirror did not sync")
            held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        key_bytes = sum(len(name) for name in names) / keys
        result["initial sync"] = {
            "keys": keys,
            "mirror_sync_s": sync_s,
            "get_multiple_s": get_multiple_s,
            "sync_vs_get_multiple": sync_s / get_multiple_s,
        }
        result["memory"] = {
            "bytes_per_key": held / keys,
            "key_and_value_bytes": key_bytes + len(value),
            "overhead_bytes_per_key": held / keys - key_bytes - len(value),
        }
        store.delete_prefix("bench/mirror/")
    return result


def _rows(result: dict[str, Any]) -> list[str]:
    read, visible = result["read"], result["visible"]
    sync, memory = result["initial sync"], result["memory"]
    return [
        "| figure | measured | baseline (same run) | ratio |",
        "|---|---:|---:|---:|",
        f"| mirror.get | {read['mirror_get_per_s']:,.0f}/s | store.get "
        f"{read['store_get_per_s']:,.0f}/s | {read['speedup']:,.0f}x |",
        f"| put to visible in the mirror, p50 / p99 | {visible['visible_p50_ms']:.2f} / "
        f"{visible['visible_p99_ms']:.2f} ms | put {visible['put_p50_ms']:.2f} / "
        f"{visible['put_p99_ms']:.2f} ms | |",
        f"| initial sync of {sync['keys']:,.0f} keys | {sync['mirror_sync_s']:.2f} s | "
        f"get_multiple {sync['get_multiple_s']:.2f} s | {sync['sync_vs_get_multiple']:.2f}x |",
        f"| memory per key | {memory['bytes_per_key']:.0f} B | key + value "
        f"{memory['key_and_value_bytes']:.0f} B | +{memory['overhead_bytes_per_key']:.0f} B |",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    sys.path.insert(0, str(HERE))
    from etcd_target import etcd_target

    with etcd_target() as target:
        result = bench_mirror(list(target.endpoints), quick=quick)
    print("\n".join(_rows(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
