"""Streams that scale (SPEC 16): many watches and kept-alive leases on one store.

For 1,000 and 10,000 watches on distinct prefixes, each client runs in a fresh
interpreter (so its threads and resident memory are its own) and reports:

- ``setup_s``: the time to create every watch (each registered by etcd);
- ``threads``: the most threads the process ran above its start (the sync clients), or
  the asyncio tasks above the loop's start (the async one);
- ``rss_mb``: the process's resident memory with every watch open;
- ``events_per_s``: one put per prefix, written in transactions of 100 puts, divided by
  the time until every watch has its event; beside it, ``write_only_per_s``, the same
  writes with no watch open (the baseline: what the fan-out costs is their ratio).

Clients: ``EtcdStore`` (sync), ``AsyncEtcdStore``, and python-etcd3 (the peer every
kvstore ``get_client`` hands out; it too multiplexes its watches on one stream).

Keep-alives: 10,000 leases renewed once in one batch on the store's LeaseKeepAlive
stream (``lease_keepalive_many``, what the keep-alives do), against the per-lease round
trip (``lease_keepalive_once`` on 1,000 of them) and python-etcd3's ``refresh_lease``.

Targets: 10,000 watches created in under 10 s, under 300 MB resident.

Run ``python benchmarks/bench_streams.py`` (a throwaway etcd, or
``$KVSTORE_ETCD_ENDPOINTS``); it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

__all__ = ["bench_streams", "main"]

CLIENTS = ("kvstore", "kvstore_async", "etcd3")
BATCH = 100


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _write_all(endpoint: str, keys: Sequence[str]) -> float:
    """Seconds to write one put per key, in transactions of ``BATCH`` puts."""
    from kvstore_etcd import EtcdConfig, EtcdStore

    with EtcdStore(EtcdConfig(endpoints=[endpoint])) as writer:
        begin = time.perf_counter()
        for start in range(0, len(keys), BATCH):
            writer.bulk_put({key: b"x" for key in keys[start : start + BATCH]})
        return time.perf_counter() - begin


def _prefixes(count: int, tag: str) -> list[str]:
    return [f"bench/streams/{tag}/{index:05d}/" for index in range(count)]


def _sync_kvstore(endpoint: str, count: int) -> dict[str, float]:
    from kvstore_etcd import EtcdConfig, EtcdStore

    baseline = threading.active_count()
    prefixes = _prefixes(count, "s")
    with EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=30)) as store:
        begin = time.perf_counter()
        watches = [store.watch_prefix(prefix) for prefix in prefixes]
        setup = time.perf_counter() - begin
        threads = threading.active_count() - baseline
        rss = _rss_mb()
        writer = threading.Thread(target=_write_all, args=(endpoint, [p + "k" for p in prefixes]))
        begin = time.perf_counter()
        writer.start()
        for watch in watches:
            if watch.next_event(60) is None:
                raise RuntimeError("a watch got no event")
        elapsed = time.perf_counter() - begin
        writer.join()
        threads = max(threads, threading.active_count() - baseline - 1)
    return {"setup_s": setup, "threads": threads, "rss_mb": rss, "events_per_s": count / elapsed}


async def _async_kvstore_run(endpoint: str, count: int) -> dict[str, float]:
    from kvstore.txn import WatchRequest
    from kvstore_etcd import AsyncEtcdStore, EtcdConfig

    prefixes = _prefixes(count, "a")
    async with AsyncEtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=30)) as store:
        tasks = len(asyncio.all_tasks())
        begin = time.perf_counter()
        watches = [store.do_watch(WatchRequest(p, p[:-1] + "0")) for p in prefixes]
        await asyncio.gather(*(watch.ready() for watch in watches))
        setup = time.perf_counter() - begin
        tasks = len(asyncio.all_tasks()) - tasks
        rss = _rss_mb()
        begin = time.perf_counter()
        writer = asyncio.create_task(
            asyncio.to_thread(_write_all, endpoint, [p + "k" for p in prefixes])
        )
        for watch in watches:
            if await watch.next_event(60) is None:
                raise RuntimeError("a watch got no event")
        elapsed = time.perf_counter() - begin
        await writer
    return {"setup_s": setup, "tasks": tasks, "rss_mb": rss, "events_per_s": count / elapsed}


def _etcd3(endpoint: str, count: int) -> dict[str, float]:
    import etcd3

    host, _, port = endpoint.rpartition(":")
    baseline = threading.active_count()
    prefixes = _prefixes(count, "p")
    client = etcd3.client(host=host, port=int(port), timeout=30)
    got: set[str] = set()
    every = threading.Event()
    lock = threading.Lock()

    def seen(response: Any) -> None:
        with lock:
            for event in getattr(response, "events", ()):
                got.add(event.key.decode())
            if len(got) >= count:
                every.set()

    begin = time.perf_counter()
    ids = [client.add_watch_prefix_callback(prefix, seen) for prefix in prefixes]
    setup = time.perf_counter() - begin
    threads = threading.active_count() - baseline
    rss = _rss_mb()
    begin = time.perf_counter()
    _write_all(endpoint, [p + "k" for p in prefixes])
    if not every.wait(60):
        raise RuntimeError(f"python-etcd3 delivered {len(got)} of {count} events")
    elapsed = time.perf_counter() - begin
    for watch_id in ids[:100]:
        client.cancel_watch(watch_id)
    client.close()
    return {"setup_s": setup, "threads": threads, "rss_mb": rss, "events_per_s": count / elapsed}


def _write_only(endpoint: str, count: int) -> dict[str, float]:
    return {
        "write_only_per_s": count / _write_all(endpoint, [p + "k" for p in _prefixes(count, "w")])
    }


def _keepalives(endpoint: str, count: int) -> dict[str, float]:
    import etcd3

    from kvstore_etcd import EtcdConfig, EtcdStore

    with EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=30)) as store:

        async def grant_all() -> list[int]:
            from kvstore_etcd import AsyncEtcdStore

            async with AsyncEtcdStore(store.config) as granting:
                grants = []
                for start in range(0, count, 500):
                    batch = [
                        granting.lease_grant(60) for _ in range(start, min(start + 500, count))
                    ]
                    grants.extend(await asyncio.gather(*batch))
                return [grant.id for grant in grants]

        ids = asyncio.run(grant_all())
        store.lease_keepalive_many(ids[:10])  # opens the stream
        begin = time.perf_counter()
        results = store.lease_keepalive_many(ids)
        batch = time.perf_counter() - begin
        if not all(isinstance(result, int) for result in results):
            raise RuntimeError("a renewal failed")
        single = ids[:1000]
        begin = time.perf_counter()
        for lease_id in single:
            store.lease_keepalive_once(lease_id)
        once = (time.perf_counter() - begin) / len(single)
        host, _, port = endpoint.rpartition(":")
        client = etcd3.client(host=host, port=int(port))
        begin = time.perf_counter()
        for lease_id in single:
            list(client.refresh_lease(lease_id))
        peer = (time.perf_counter() - begin) / len(single)
        client.close()
        for lease_id in ids:
            store.lease_revoke(lease_id)
    return {
        "leases": count,
        "stream_batch_s": batch,
        "stream_per_lease_us": batch / count * 1e6,
        "once_per_lease_us": once * 1e6,
        "etcd3_refresh_per_lease_us": peer * 1e6,
    }


_WORKERS = {
    "kvstore": _sync_kvstore,
    "kvstore_async": lambda endpoint, count: asyncio.run(_async_kvstore_run(endpoint, count)),
    "etcd3": _etcd3,
    "write_only": _write_only,
    "keepalives": _keepalives,
}


def _spawn(name: str, endpoint: str, count: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [env.get("PYTHONPATH")])])
    command = [
        sys.executable,
        str(HERE / "bench_streams.py"),
        f"--worker={name}",
        endpoint,
        str(count),
    ]
    try:
        process = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    except subprocess.TimeoutExpired:
        return {"failed": "timed out after 300 s"}
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = process.stderr.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return {"failed": tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def bench_streams(endpoints: list[str], *, quick: bool = False) -> dict[str, Any]:
    """Every client at 1,000 and 10,000 watches, and the keep-alive batch (see above)."""
    counts = (1000,) if quick else (1000, 10_000)
    result: dict[str, Any] = {}
    for count in counts:
        group: dict[str, Any] = {"write_only": _spawn("write_only", endpoints[0], count)}
        for client in CLIENTS:
            group[client] = _spawn(client, endpoints[0], count)
        result[f"watches_{count}"] = group
    result["keepalive"] = _spawn("keepalives", endpoints[0], 1000 if quick else 10_000)
    return result


def _rows(result: dict[str, Any]) -> list[str]:
    header = (
        "| watches | client | set-up s | threads (tasks) | RSS MB | events/s | writes alone/s |"
    )
    lines = [header + " events / writes |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for group_name, group in result.items():
        if not group_name.startswith("watches_"):
            continue
        writes = group.get("write_only", {}).get("write_only_per_s", float("nan"))
        for client in CLIENTS:
            figures = group.get(client, {})
            if "failed" in figures:
                lines.append(
                    f"| {group_name[8:]} | {client} | failed: {figures['failed']} | | | | | |"
                )
                continue
            threads = figures.get("threads", figures.get("tasks", float("nan")))
            events = figures.get("events_per_s", float("nan"))
            lines.append(
                f"| {group_name[8:]} | {client} | {figures.get('setup_s', float('nan')):.2f} | "
                f"{threads:.0f} | {figures.get('rss_mb', float('nan')):.0f} | {events:,.0f} | "
                f"{writes:,.0f} | {events / writes:.2f} |"
            )
    keepalive = result.get("keepalive", {})
    if "failed" not in keepalive and keepalive:
        lines += [
            "",
            f"Keep-alive of {keepalive['leases']:,.0f} leases: one batch on the shared stream "
            f"{keepalive['stream_batch_s']:.2f} s ({keepalive['stream_per_lease_us']:.1f} µs a "
            f"lease); one lease_keepalive_once {keepalive['once_per_lease_us']:.0f} µs; "
            f"python-etcd3 refresh_lease {keepalive['etcd3_refresh_per_lease_us']:.0f} µs.",
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker")
    parser.add_argument("endpoint", nargs="?")
    parser.add_argument("count", nargs="?", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_WORKERS[args.worker](args.endpoint, args.count)), flush=True)
        return 0
    sys.path.insert(0, str(HERE))
    from etcd_target import etcd_target

    with etcd_target() as target:
        result = bench_streams(list(target.endpoints), quick=args.quick)
    print("\n".join(_rows(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
