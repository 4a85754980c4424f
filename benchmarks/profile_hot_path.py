"""Profile ``AsyncEtcdStore`` get / put at 64 in flight (SPEC section 23's hot path).

Run under py-spy: ``py-spy record --format raw -o get.txt -- python
benchmarks/profile_hot_path.py get`` (``put``; ``--coalesce`` to keep read coalescing
on), then ``python benchmarks/profile_hot_path.py --top get.txt`` prints the functions
with the most samples of their own (self) and including their callees (total).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import re
import sys
import time

VALUE = b"v" * 256


async def _run(endpoint: str, operation: str, seconds: float, coalesce: bool) -> int:
    from kvstore_etcd import AsyncEtcdStore, EtcdConfig

    options = {"coalesce_reads": coalesce} if hasattr(EtcdConfig(), "coalesce_reads") else {}
    store = AsyncEtcdStore(EtcdConfig(endpoints=[endpoint], **options))
    keys = [f"bench/profile/{n:03d}" for n in range(256)]
    for key in keys:
        await store.put(key, VALUE)
    counter = itertools.count()
    deadline = time.perf_counter() + seconds
    call = store.get if operation == "get" else None

    async def worker() -> None:
        while time.perf_counter() < deadline:
            key = keys[next(counter) % 256]
            if call is not None:
                await call(key)
            else:
                await store.put(key, VALUE)

    await asyncio.gather(*(worker() for _ in range(64)))
    await store.aclose()
    return next(counter)


def _top(path: str, count: int = 25) -> None:
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    with open(path) as lines:
        for line in lines:
            stack, _, number = line.rstrip().rpartition(" ")
            # one entry a function, whatever its line
            frames = [re.sub(r":\d+\)$", ")", frame) for frame in stack.split(";")]
            weight = int(number)
            samples += weight
            own[frames[-1]] += weight
            for frame in set(frames):
                total[frame] += weight
    print(f"{samples} samples")
    print("self %  | function")
    for frame, weight in own.most_common(count):
        print(f"{100 * weight / samples:6.1f} | {frame}")
    print("total % | function (kvstore_etcd / kvstore only)")
    shown = [(f, w) for f, w in total.most_common() if "kvstore" in f]
    for frame, weight in shown[:count]:
        print(f"{100 * weight / samples:6.1f} | {frame}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("operation", help="get or put, or with --top the py-spy raw file")
    parser.add_argument("--endpoint", help="host:port of an etcd (default: start one)")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--coalesce", action="store_true")
    parser.add_argument("--top", action="store_true")
    args = parser.parse_args()
    if args.top:
        _top(args.operation)
        return 0
    if args.endpoint:
        done = asyncio.run(_run(args.endpoint, args.operation, args.seconds, args.coalesce))
    else:
        from kvstore_etcd.launcher import EtcdServer

        with EtcdServer() as server:
            done = asyncio.run(
                _run(server.endpoints[0], args.operation, args.seconds, args.coalesce)
            )
    print(f"{done} {args.operation}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
