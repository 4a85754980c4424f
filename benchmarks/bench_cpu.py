"""Client CPU per operation beside throughput, for every etcd client (SPEC section 23).

Run ``python benchmarks/bench_cpu.py`` (starts a throwaway local etcd unless
``--endpoint host:port`` is given; ``--quick`` for a short smoke run; ``--json`` for the
figures). ``bench_cpu()`` returns the figures for ``run.py``.

The client and etcd share the machine's cores, so what a client controls is its own
cost: **CPU per operation**, the user + system time of the client process (every thread
of it: grpc's own included) over the timed section, divided by the operations done.
It is also steadier than throughput on a shared machine. Both are reported.

- async, one event loop, one connection, ``in_flight`` (64) worker coroutines:
  ``grpc_aio`` (raw ``grpc.aio`` stubs: the floor), ``kvstore_async``
  (``AsyncEtcdStore``, read coalescing on: the default), ``kvstore_async_nc``
  (``AsyncEtcdStore``, ``coalesce_reads=False``), ``aetcd`` 1.0.0, ``etcd3aio`` 0.3.0,
  ``etcd_client_py`` 0.5.1;
- threads, ``threads`` (16) sharing one client: ``kvstore_sync`` (``EtcdStore``) and
  ``etcd3_sync`` (raw python3-etcd3).

Operations: ``put`` and ``get`` of 256-byte values on 256 keys for every client; for
kvstore's stores and the raw stubs also ``bulk_put`` (100 keys a call, figures per key),
``get_multiple`` and ``list`` of a 100-key prefix (per call), and ``watch`` delivery
(per event: one watch on a prefix, 100-key transactions written by raw stubs in the
same process, so every client pays the same writer).

Each client runs in a process of its own (aetcd's and etcd3aio's generated protos cannot
share a process with etcd3's), the processes one after another on the same etcd,
``rounds`` times in a rotated order; a figure is the median over the rounds.
Install the peers with ``pip install -e ".[bench]"``; a peer that cannot be imported
is reported as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

__all__ = ["CLIENTS", "bench_cpu", "main", "measure", "targets"]

CLIENTS: dict[str, str] = {
    "grpc_aio": "raw grpc.aio stubs",
    "kvstore_async": "kvstore AsyncEtcdStore (coalescing on)",
    "kvstore_async_nc": "kvstore AsyncEtcdStore (coalescing off)",
    "aetcd": "aetcd 1.0.0",
    "etcd3aio": "etcd3aio 0.3.0",
    "etcd_client_py": "etcd-client-py 0.5.1",
    "kvstore_sync": "kvstore EtcdStore (coalescing on)",
    "kvstore_sync_nc": "kvstore EtcdStore (coalescing off)",
    "etcd3_sync": "raw etcd3 (python3-etcd3)",
}
THREADED = ("kvstore_sync", "kvstore_sync_nc", "etcd3_sync")
OPERATIONS = ("put", "get", "bulk_put", "get_multiple", "list", "watch")
PER_KEY = {"bulk_put": 100, "watch": 1}
"""Operations counted per key (bulk_put: 100 keys a call)."""

VALUE = b"v" * 256
KEY_COUNT = 256
PREFIX_KEYS = 100
TIMEOUT = 10.0
WARMUP = 300


def _keys() -> list[str]:
    return [f"bench/cpu/{index:03d}" for index in range(KEY_COUNT)]


PREFIX = "bench/cpu/prefix/"
WATCH_PREFIX = "bench/cpu/watch/"


class Unavailable(Exception):
    """The client cannot be measured here."""


Ops = dict[str, Callable[[int], Any]]


def _stubs(name: str) -> tuple[Any, Any]:
    try:
        if name == "aetcd":
            from aetcd.rpc import rpc_pb2, rpc_pb2_grpc
        elif name == "etcd3aio":
            from etcd3aio._protobuf import rpc_pb2, rpc_pb2_grpc  # type: ignore[attr-defined]
        else:
            from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
    return rpc_pb2, rpc_pb2_grpc


class _Raw:
    """Raw grpc.aio stubs: the floor, and the watch writer of every process."""

    def __init__(self, endpoint: str, name: str) -> None:
        import grpc

        self.pb, pb_grpc = _stubs(name)
        self.channel = grpc.aio.insecure_channel(endpoint)
        self.kv = pb_grpc.KVStub(self.channel)
        self.watch_stub = pb_grpc.WatchStub(self.channel)
        self.keys = [key.encode() for key in _keys()]

    async def write_batch(self, prefix: str, start: int, count: int) -> None:
        pb = self.pb
        ops = [
            pb.RequestOp(
                request_put=pb.PutRequest(key=f"{prefix}{start + n:06d}".encode(), value=VALUE)
            )
            for n in range(count)
        ]
        await self.kv.Txn(pb.TxnRequest(success=ops), timeout=TIMEOUT)

    def ops(self) -> Ops:
        pb, kv, keys = self.pb, self.kv, self.keys
        prefix = PREFIX.encode()
        end = prefix[:-1] + bytes([prefix[-1] + 1])

        async def put(i: int) -> object:
            return (
                await kv.Put(pb.PutRequest(key=keys[i % KEY_COUNT], value=VALUE), timeout=TIMEOUT)
            ).header.revision

        async def get(i: int) -> object:
            return (
                (await kv.Range(pb.RangeRequest(key=keys[i % KEY_COUNT]), timeout=TIMEOUT))
                .kvs[0]
                .value
            )

        async def bulk_put(i: int) -> object:
            base = (i * 100) % KEY_COUNT
            ops = [
                pb.RequestOp(
                    request_put=pb.PutRequest(key=keys[(base + n) % KEY_COUNT], value=VALUE)
                )
                for n in range(100)
            ]
            return (await kv.Txn(pb.TxnRequest(success=ops), timeout=TIMEOUT)).header.revision

        async def get_multiple(i: int) -> object:
            response = await kv.Range(pb.RangeRequest(key=prefix, range_end=end), timeout=TIMEOUT)
            return {kv.key.decode(): kv.value for kv in response.kvs}

        async def list_(i: int) -> object:
            response = await kv.Range(
                pb.RangeRequest(key=prefix, range_end=end, keys_only=True), timeout=TIMEOUT
            )
            return [kv.key.decode() for kv in response.kvs]

        return {
            "put": put,
            "get": get,
            "bulk_put": bulk_put,
            "get_multiple": get_multiple,
            "list": list_,
        }

    @contextlib.asynccontextmanager
    async def watch(self) -> AsyncIterator[AsyncIterator[int]]:
        """Events of a watch on `WATCH_PREFIX`, counted per response."""
        pb = self.pb
        prefix = WATCH_PREFIX.encode()
        end = prefix[:-1] + bytes([prefix[-1] + 1])
        queue: asyncio.Queue[Any] = asyncio.Queue()
        await queue.put(
            pb.WatchRequest(create_request=pb.WatchCreateRequest(key=prefix, range_end=end))
        )

        async def requests() -> AsyncIterator[Any]:
            while True:
                yield await queue.get()

        call = self.watch_stub.Watch(requests())

        async def events() -> AsyncIterator[int]:
            async for response in call:
                if response.events:
                    for event in response.events:
                        _ = (event.kv.key.decode(), event.kv.value)
                    yield len(response.events)

        try:
            yield events()
        finally:
            call.cancel()

    async def close(self) -> None:
        await self.channel.close()


@contextlib.asynccontextmanager
async def _client(name: str, endpoint: str, raw: _Raw) -> AsyncIterator[tuple[Ops, Any]]:
    """``(operations, watch factory or None)`` of an async client."""
    keys = _keys()
    if name == "grpc_aio":
        yield raw.ops(), raw.watch
        return
    if name in ("kvstore_async", "kvstore_async_nc"):
        from kvstore_etcd import AsyncEtcdStore, EtcdConfig

        options: dict[str, Any] = {"endpoints": [endpoint], "request_timeout": TIMEOUT}
        if name == "kvstore_async_nc":
            if not hasattr(EtcdConfig(), "coalesce_reads"):
                raise Unavailable("EtcdConfig has no coalesce_reads here")
            options["coalesce_reads"] = False
        store = AsyncEtcdStore(EtcdConfig(**options))

        async def put(i: int) -> object:
            return await store.put(keys[i % KEY_COUNT], VALUE)

        async def get(i: int) -> object:
            return await store.get(keys[i % KEY_COUNT])

        async def bulk_put(i: int) -> object:
            base = (i * 100) % KEY_COUNT
            return await store.bulk_put({keys[(base + n) % KEY_COUNT]: VALUE for n in range(100)})

        async def get_multiple(i: int) -> object:
            return await store.get_multiple(PREFIX)

        async def list_(i: int) -> object:
            return await store.list(PREFIX)

        @contextlib.asynccontextmanager
        async def watch() -> AsyncIterator[AsyncIterator[int]]:
            async with store.watch_prefix(WATCH_PREFIX) as watcher:

                async def events() -> AsyncIterator[int]:
                    async for event in watcher:
                        _ = (event.kv.key, event.kv.value)
                        yield 1

                yield events()

        try:
            yield (
                {
                    "put": put,
                    "get": get,
                    "bulk_put": bulk_put,
                    "get_multiple": get_multiple,
                    "list": list_,
                },
                watch,
            )
        finally:
            await store.aclose()
        return
    if name == "aetcd":
        try:
            import aetcd
        except ImportError as exc:
            raise Unavailable(f"{exc} (pip install aetcd==1.0.0)") from exc
        host, _, port = endpoint.rpartition(":")
        bkeys = [key.encode() for key in keys]
        async with aetcd.Client(host=host, port=int(port), timeout=int(TIMEOUT)) as client:

            async def aput(i: int) -> object:
                return await client.put(bkeys[i % KEY_COUNT], VALUE)

            async def aget(i: int) -> object:
                return (await client.get(bkeys[i % KEY_COUNT])).value

            yield {"put": aput, "get": aget}, None
        return
    if name == "etcd3aio":
        try:
            import etcd3aio
        except ImportError as exc:
            raise Unavailable(f"{exc} (pip install etcd3aio==0.3.0)") from exc
        bkeys = [key.encode() for key in keys]
        async with etcd3aio.Etcd3Client([endpoint]) as client:
            kv = client.kv
            assert kv is not None

            async def eput(i: int) -> object:
                return await kv.put(bkeys[i % KEY_COUNT], VALUE, timeout=TIMEOUT)

            async def eget(i: int) -> object:
                return (await kv.get(bkeys[i % KEY_COUNT], timeout=TIMEOUT)).kvs[0].value

            yield {"put": eput, "get": eget}, None
        return
    if name == "etcd_client_py":
        try:
            import etcd_client
        except ImportError as exc:
            raise Unavailable(f"{exc} (pip install etcd-client-py==0.5.1)") from exc
        bkeys = [key.encode() for key in keys]
        options_ = etcd_client.ConnectOptions().with_timeout(TIMEOUT)
        client_ = etcd_client.Client([f"http://{endpoint}"], options_)
        async with client_.connect() as communicator:

            async def cput(i: int) -> object:
                return await communicator.put(bkeys[i % KEY_COUNT], VALUE)

            async def cget(i: int) -> object:
                return await communicator.get(bkeys[i % KEY_COUNT])

            yield {"put": cput, "get": cget}, None
        return
    raise Unavailable(f"unknown client {name}")


@contextlib.contextmanager
def _sync_client(name: str, endpoint: str) -> Iterator[Ops]:
    keys = _keys()
    if name in ("kvstore_sync", "kvstore_sync_nc"):
        from kvstore_etcd import EtcdConfig, EtcdStore

        options: dict[str, Any] = {"endpoints": [endpoint], "request_timeout": TIMEOUT}
        if name == "kvstore_sync_nc":
            if not hasattr(EtcdConfig(), "coalesce_reads"):
                raise Unavailable("EtcdConfig has no coalesce_reads here")
            options["coalesce_reads"] = False
        with EtcdStore(EtcdConfig(**options)) as store:
            yield {
                "put": lambda i: store.put(keys[i % KEY_COUNT], VALUE),
                "get": lambda i: store.get(keys[i % KEY_COUNT]),
            }
        return
    import etcd3

    host, _, port = endpoint.rpartition(":")
    client = etcd3.client(host=host, port=int(port), timeout=TIMEOUT)
    try:
        yield {
            "put": lambda i: client.put(keys[i % KEY_COUNT], VALUE),
            "get": lambda i: client.get(keys[i % KEY_COUNT])[0],
        }
    finally:
        client.close()


# ---------------------------------------------------------------------------- drivers


def _cpu() -> float:
    return time.process_time()


async def _drive_async(call: Callable[[int], Any], ops: int, in_flight: int) -> None:
    counter = itertools.count()

    async def worker() -> None:
        while (index := next(counter)) < ops:
            await call(index)

    await asyncio.gather(*(worker() for _ in range(in_flight)))


def _drive_threads(call: Callable[[int], Any], ops: int, threads: int) -> None:
    counter = itertools.count()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            while (index := next(counter)) < ops:
                call(index)
        except Exception as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise errors[0]


def _figure(ops: int, cpu: float, wall: float, unit: int = 1) -> dict[str, float]:
    return {"cpu_us": cpu / (ops * unit) * 1e6, "per_s": ops * unit / wall}


async def _measure_watch(raw: _Raw, factory: Any, events: int) -> dict[str, float]:
    async with factory() as stream:
        await asyncio.sleep(0.2)  # the watch is registered before the writes
        received = 0
        cpu0, wall0 = _cpu(), time.perf_counter()

        async def writer() -> None:
            for start in range(0, events, 100):
                await raw.write_batch(WATCH_PREFIX, start, 100)

        task = asyncio.ensure_future(writer())
        async for count in stream:
            received += count
            if received >= events:
                break
        await task
        cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    return _figure(received, cpu, wall)


async def _worker_async(name: str, endpoint: str, ops: int, in_flight: int) -> dict[str, Any]:
    raw = _Raw(endpoint, name if name in ("aetcd", "etcd3aio") else "etcd3")
    result: dict[str, Any] = {}
    try:
        # the data the reads read
        for n in range(KEY_COUNT):
            await raw.kv.Put(raw.pb.PutRequest(key=raw.keys[n], value=VALUE), timeout=TIMEOUT)
        await raw.write_batch(PREFIX + "x", 0, PREFIX_KEYS)
        async with _client(name, endpoint, raw) as (calls, watch):
            floor = raw.ops()
            for operation, call in calls.items():
                count = max(ops // 100, 50) if operation in PER_KEY else ops
                if operation in ("get_multiple", "list"):
                    count = max(ops // 10, 200)
                await _drive_async(call, min(WARMUP, count), in_flight)
                if name == "grpc_aio" or operation not in ("put", "get"):
                    cpu0, wall0 = _cpu(), time.perf_counter()
                    await _drive_async(call, count, in_flight)
                    result[operation] = _figure(
                        count, _cpu() - cpu0, time.perf_counter() - wall0, PER_KEY.get(operation, 1)
                    )
                    continue
                # puts and gets: blocks of the client and of raw grpc.aio stubs (the
                # yardstick) in turns, a b b a ..., so both see the same machine
                await _drive_async(floor[operation], WARMUP, in_flight)
                spent = {"client": [0.0, 0.0], "raw": [0.0, 0.0]}
                block = max(count // 4, 1)
                for turn in ("client", "raw", "raw", "client", "client", "raw", "raw", "client"):
                    function = call if turn == "client" else floor[operation]
                    cpu0, wall0 = _cpu(), time.perf_counter()
                    await _drive_async(function, block, in_flight)
                    spent[turn][0] += _cpu() - cpu0
                    spent[turn][1] += time.perf_counter() - wall0
                result[operation] = _figure(block * 4, *spent["client"])
                result[f"raw_{operation}"] = _figure(block * 4, *spent["raw"])
            if watch is not None:
                result["watch"] = await _measure_watch(raw, watch, max(ops, 2000))
    finally:
        await raw.close()
    return result


def _worker_threads(name: str, endpoint: str, ops: int, threads: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        calls = stack.enter_context(_sync_client(name, endpoint))
        # EtcdStore takes turns with raw etcd3 in its process (the yardstick)
        floor = (
            stack.enter_context(_sync_client("etcd3_sync", endpoint))
            if name != "etcd3_sync"
            else None
        )
        for operation, call in calls.items():
            _drive_threads(call, WARMUP, threads)
            if floor is None:
                cpu0, wall0 = _cpu(), time.perf_counter()
                _drive_threads(call, ops, threads)
                result[operation] = _figure(ops, _cpu() - cpu0, time.perf_counter() - wall0)
                continue
            _drive_threads(floor[operation], WARMUP, threads)
            spent = {"client": [0.0, 0.0], "raw": [0.0, 0.0]}
            block = max(ops // 4, 1)
            for turn in ("client", "raw", "raw", "client", "client", "raw", "raw", "client"):
                function = call if turn == "client" else floor[operation]
                cpu0, wall0 = _cpu(), time.perf_counter()
                _drive_threads(function, block, threads)
                spent[turn][0] += _cpu() - cpu0
                spent[turn][1] += time.perf_counter() - wall0
            result[operation] = _figure(block * 4, *spent["client"])
            result[f"raw_{operation}"] = _figure(block * 4, *spent["raw"])
    return result


def _worker(args: argparse.Namespace) -> int:
    try:
        if args.worker in THREADED:
            result = _worker_threads(args.worker, args.endpoint, args.ops, args.threads)
        else:
            result = asyncio.run(
                _worker_async(args.worker, args.endpoint, args.ops, args.in_flight)
            )
    except Unavailable as exc:
        result = {"unavailable": str(exc)}
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------- parent


def _spawn(name: str, endpoint: str, ops: int, in_flight: int, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("GRPC_VERBOSITY", "ERROR")
    command = [
        sys.executable,
        str(HERE / "bench_cpu.py"),
        f"--worker={name}",
        f"--endpoint={endpoint}",
        f"--ops={ops}",
        f"--in-flight={in_flight}",
        f"--threads={threads}",
    ]
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=600, check=False
        )
    except subprocess.TimeoutExpired:
        return {"failed": "timed out"}
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = process.stderr.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return {"failed": tail[0]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def measure(
    endpoint: str | None = None,
    *,
    clients: tuple[str, ...] = tuple(CLIENTS),
    ops: int = 6000,
    rounds: int = 3,
    in_flight: int = 64,
    threads: int = 16,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """CPU per operation and throughput of each client, medians over ``rounds``.

    Returns:
        ``{client}_{op}_cpu_us`` and ``{client}_{op}_per_s`` (medians; absent when not
        measured), ``notes`` (why a client was not measured), the parameters and
        ``etcd_version``.
    """
    from etcd_target import etcd_target

    samples: dict[tuple[str, str, str], list[float]] = {}
    notes: dict[str, str] = {}
    with etcd_target([endpoint] if endpoint else []) as target:
        address = target.endpoints[0]
        names = list(clients)
        for round_index in range(rounds):
            shift = round_index % len(names)
            order = names[shift:] + names[:shift]
            for name in order:
                if name in notes:
                    continue
                outcome = _spawn(name, address, ops, in_flight, threads)
                if "unavailable" in outcome or "failed" in outcome:
                    notes[name] = outcome.get("unavailable") or f"failed: {outcome['failed']}"
                    continue
                for operation, figure in outcome.items():
                    for field, value in figure.items():
                        samples.setdefault((name, operation, field), []).append(value)
                if progress is not None:
                    shown = {
                        op: f"{f['cpu_us']:.1f}us {f['per_s']:,.0f}/s" for op, f in outcome.items()
                    }
                    progress(f"round {round_index + 1}/{rounds} {name}: {shown}")
        figures: dict[str, Any] = {
            "endpoint": address,
            "etcd_version": target.version,
            "ops": ops,
            "rounds": rounds,
            "in_flight": in_flight,
            "threads": threads,
        }
    for (name, operation, field), values in samples.items():
        figures[f"{name}_{operation}_{field}"] = statistics.median(values)
        figures[f"{name}_{operation}_{field}_all"] = values
    # ratios to the yardstick measured in the same process, in turns: median over rounds
    for name in clients:
        for operation in ("put", "get"):
            for field in ("cpu_us", "per_s"):
                mine = samples.get((name, operation, field), [])
                floor = samples.get((name, f"raw_{operation}", field), [])
                ratios = [a / b for a, b in zip(mine, floor, strict=False) if b]
                if ratios:
                    figures[f"{name}_{operation}_{field}_vs_raw"] = statistics.median(ratios)
    figures["notes"] = notes
    return figures


def bench_cpu(endpoints: list[str], *, quick: bool = False) -> dict[str, Any]:
    """What ``run.py`` reports: `measure` on the given etcd (``quick``: one short round)."""
    result = measure(endpoints[0], ops=2000, rounds=1) if quick else measure(endpoints[0])
    return {name: value for name, value in result.items() if not name.endswith("_all")}


PEERS = ("aetcd", "etcd3aio", "etcd_client_py")

Row = tuple[str, str, str, str, "bool | None"]


def targets(figures: dict[str, Any]) -> list[Row]:
    """SPEC section 23's targets as rows ``(target, measured, baseline, ratio, met)``.

    Ratios of clients of one process are medians over rounds of the client over the
    yardstick measured in turns beside it; ratios across processes go through the
    yardstick (kvstore / aetcd = (kvstore / raw) / (aetcd / raw)).
    """
    rows: list[Row] = []

    def value(name: str) -> float:
        found = figures.get(name)
        return math.nan if found is None else float(found)

    def vs_raw(client: str, operation: str, field: str) -> float:
        if client == "grpc_aio":
            return 1.0
        return value(f"{client}_{operation}_{field}_vs_raw")

    def add(target: str, measured: str, baseline: str, ratio: float, met: bool) -> None:
        shown = "n/a" if math.isnan(ratio) else f"{ratio:.2f}x"
        rows.append((target, measured, baseline, shown, None if math.isnan(ratio) else met))

    def cpu(client: str, operation: str) -> str:
        figure = value(f"{client}_{operation}_cpu_us")
        return "n/a" if math.isnan(figure) else f"{figure:.1f} us/{operation}"

    def rate(client: str, operation: str) -> str:
        figure = value(f"{client}_{operation}_per_s")
        return "n/a" if math.isnan(figure) else f"{figure:,.0f} {operation}s/s"

    for operation in ("put", "get"):
        ratio = vs_raw("kvstore_async_nc", operation, "cpu_us")
        add(
            f"AsyncEtcdStore, coalescing off: CPU per {operation} <= 1.10x raw grpc.aio",
            cpu("kvstore_async_nc", operation),
            f"raw grpc.aio in turns, same process: {cpu('kvstore_async_nc', 'raw_' + operation)}",
            ratio,
            ratio <= 1.10,
        )
        for peer in PEERS:
            mine = vs_raw("kvstore_async_nc", operation, "cpu_us")
            theirs = vs_raw(peer, operation, "cpu_us")
            ratio = mine / theirs if theirs else math.nan
            add(
                f"AsyncEtcdStore, coalescing off: CPU per {operation} < {CLIENTS[peer]}'s",
                cpu("kvstore_async_nc", operation),
                f"{CLIENTS[peer]}: {cpu(peer, operation)}",
                ratio,
                ratio < 1,
            )
            mine = vs_raw("kvstore_async_nc", operation, "per_s")
            theirs = vs_raw(peer, operation, "per_s")
            ratio = mine / theirs if theirs else math.nan
            add(
                f"AsyncEtcdStore, coalescing off: {operation}s/s >= {CLIENTS[peer]}'s",
                rate("kvstore_async_nc", operation),
                f"{CLIENTS[peer]}: {rate(peer, operation)}",
                ratio,
                ratio >= 1,
            )
    ratio = vs_raw("kvstore_async", "get", "per_s")
    add(
        "AsyncEtcdStore, coalescing on: gets/s >= 3x raw grpc.aio",
        rate("kvstore_async", "get"),
        f"raw grpc.aio in turns, same process: {rate('kvstore_async', 'raw_get')}",
        ratio,
        ratio >= 3,
    )
    ratio = vs_raw("kvstore_async", "get", "cpu_us")
    add(
        "AsyncEtcdStore, coalescing on: CPU per get <= 0.33x raw grpc.aio",
        cpu("kvstore_async", "get"),
        f"raw grpc.aio in turns, same process: {cpu('kvstore_async', 'raw_get')}",
        ratio,
        ratio <= 0.33,
    )
    for client in ("kvstore_sync", "kvstore_sync_nc"):
        for operation in ("put", "get"):
            ratio = vs_raw(client, operation, "cpu_us")
            add(
                f"{CLIENTS[client]}, 16 threads: CPU per {operation} <= 1.10x raw etcd3",
                cpu(client, operation),
                f"raw etcd3 in turns, same process: {cpu(client, 'raw_' + operation)}",
                ratio,
                ratio <= 1.10,
            )
    return rows


def table(result: dict[str, Any]) -> str:
    """The figures as a Markdown table: CPU us/op and ops/s for each client and operation."""
    lines = [
        "| client | " + " | ".join(f"{op} CPU us | {op}/s" for op in OPERATIONS) + " |",
        "|---|" + "---:|---:|" * len(OPERATIONS),
    ]
    for name, label in CLIENTS.items():
        if name in result.get("notes", {}):
            lines.append(f"| {label} | not measured: {result['notes'][name]} |")
            continue
        cells = []
        for operation in OPERATIONS:
            cpu = result.get(f"{name}_{operation}_cpu_us")
            rate = result.get(f"{name}_{operation}_per_s")
            if cpu is None or rate is None or math.isnan(cpu):
                cells += ["", ""]
            else:
                cells += [f"{cpu:.1f}", f"{rate:,.0f}"]
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Against the yardstick measured in turns in the same process (raw grpc.aio stubs "
        "for the async clients, raw etcd3 for EtcdStore), medians over rounds:",
        "",
        "| client | put CPU / yardstick | puts/s / yardstick | get CPU / yardstick "
        "| gets/s / yardstick |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in CLIENTS.items():
        cells = [
            result.get(f"{name}_{operation}_{field}_vs_raw")
            for operation in ("put", "get")
            for field in ("cpu_us", "per_s")
        ]
        if any(cell is not None for cell in cells):
            shown = ["" if cell is None else f"{cell:.2f}x" for cell in cells]
            lines.append(f"| {label} | " + " | ".join(shown) + " |")
    lines += [
        "",
        "| target (SPEC 23) | measured | baseline | ratio | met |",
        "|---|---:|---|---:|:---:|",
    ]
    for target, measured, baseline, ratio, met in targets(result):
        verdict = "n/a" if met is None else ("yes" if met else "no")
        lines.append(f"| {target} | {measured} | {baseline} | {ratio} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table (or, with ``--worker``, measure one client)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="host:port of an existing etcd")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ops", type=int, default=None, help="calls per figure (6000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (3)")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.ops = args.ops or (2000 if args.quick else 6000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.worker:
        return _worker(args)
    result = measure(
        args.endpoint,
        clients=tuple(name.strip() for name in args.clients.split(",") if name.strip()),
        ops=args.ops,
        rounds=args.rounds,
        in_flight=args.in_flight,
        threads=args.threads,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
