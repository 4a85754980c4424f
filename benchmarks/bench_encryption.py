"""Benchmark of ``EncryptedStore``: encrypted vs plain put/get of 1 KiB values.

Both sides run in the same process on the same backing store, in alternating rounds (so
drift in the machine or the server hits both alike); the figure that matters is the
ratio. Target on etcd: encrypted at most 15% slower (ratio <= 1.15) for put and get.

Run ``python benchmarks/bench_encryption.py [host:port ...]``: MemoryStore always, and
etcd on the given endpoints, on ``$KVSTORE_ETCD_ENDPOINTS``, or on a throwaway local
etcd when the binary is available. It prints a Markdown table.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable

from etcd_target import optional_etcd_store

from kvstore import EncryptedStore, Keyring
from kvstore.base import BaseStore
from kvstore_memory import MemoryStore

__all__ = ["VALUE_BYTES", "bench_encryption", "main"]

VALUE_BYTES = 1024


def _timed(operation: Callable[[str], object], keys: list[str]) -> float:
    """Seconds ``operation(key)`` takes for every key."""
    start = time.perf_counter()
    for key in keys:
        operation(key)
    return time.perf_counter() - start


def bench_encryption(store: BaseStore, *, ops: int = 2000, chunk: int = 50) -> dict[str, float]:
    """Measure put and get on ``store`` bare and through ``EncryptedStore``.

    The two sides alternate every ``chunk`` operations and their times are summed, so
    load from elsewhere on the machine or the server is shared fairly between them.

    Args:
        store: The backing store (its ``bench/`` keys are deleted afterwards).
        ops: Operations per side and kind.
        chunk: Operations per turn of one side.

    Returns:
        Operations per second for each side and the ratios ``plain / encrypted`` rate
        (how many times slower encryption is: 1.15 = 15% overhead).
    """
    encrypted = EncryptedStore(store, Keyring.single(Keyring.generate_key()))
    value = os.urandom(VALUE_BYTES)
    sides: dict[str, BaseStore] = {"plain": store, "encrypted": encrypted}
    keys = {side: [f"bench/{side}/{i}" for i in range(ops)] for side in sides}
    for side, target in sides.items():  # warm up connections and caches
        for key in keys[side][:chunk]:
            target.put(key, value)
            target.get(key)
    seconds = {f"{side}_{kind}": 0.0 for side in sides for kind in ("put", "get")}
    for kind in ("put", "get"):
        for first in range(0, ops, chunk):
            for side, target in sides.items():
                batch = keys[side][first : first + chunk]
                if kind == "put":
                    seconds[f"{side}_put"] += _timed(
                        functools.partial(target.put, value=value), batch
                    )
                else:
                    seconds[f"{side}_get"] += _timed(target.get, batch)
    store.delete_prefix("bench/")
    rates = {f"{name}_per_s": ops / spent for name, spent in seconds.items()}
    return {
        **rates,
        "put_overhead_ratio": seconds["encrypted_put"] / seconds["plain_put"],
        "get_overhead_ratio": seconds["encrypted_get"] / seconds["plain_get"],
    }


def _table(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| store | plain put/s | encrypted put/s | put overhead | plain get/s "
        "| encrypted get/s | get overhead |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in results.items():
        lines.append(
            f"| {name} | {row['plain_put_per_s']:.0f} | {row['encrypted_put_per_s']:.0f} "
            f"| {row['put_overhead_ratio']:.3f}x | {row['plain_get_per_s']:.0f} "
            f"| {row['encrypted_get_per_s']:.0f} | {row['get_overhead_ratio']:.3f}x |"
        )
    return "\n".join(lines)


def main(endpoints: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run on MemoryStore and, when available, etcd; print a Markdown table.

    Args:
        endpoints: etcd endpoints (``host:port``); default the command line arguments.

    Returns:
        The figures by store name.
    """
    results: dict[str, dict[str, float]] = {}
    memory = MemoryStore()
    try:
        results["memory"] = bench_encryption(memory, ops=20000)
    finally:
        memory.close()
    with optional_etcd_store(sys.argv[1:] if endpoints is None else endpoints) as etcd:
        if etcd is not None:
            results["etcd"] = bench_encryption(etcd)
    print(f"Encryption overhead, {VALUE_BYTES}-byte values (ratio = plain / encrypted rate)\n")
    print(_table(results))
    return results


if __name__ == "__main__":
    main()
