"""Async etcd clients at 64 in flight, beside the sync API at 16 threads (SPEC section 15).

Run ``python benchmarks/bench_async.py`` (starts a throwaway local etcd unless
``--endpoint host:port`` is given; ``--quick`` for a short smoke run). ``bench_async()``
returns the figures for ``run.py``.

Measured on one etcd, 256-byte values on 256 keys, puts then gets (of those keys):

- async, one event loop, one connection each, 64 worker coroutines sharing the loop:
  ``kvstore_async`` (``kvstore_etcd.AsyncEtcdStore``, "not available" until it exists),
  ``grpc_aio`` (raw ``grpc.aio`` stubs: the ``etcd3.etcdrpc`` protobuf modules
  ``kvstore_etcd`` uses, no wrapper), and the async peers ``aetcd`` 1.0.0, ``etcd3aio``
  0.3.0 and ``etcd_client_py`` (``etcd-client-py`` 0.5.1, Rust's etcd-client under PyO3:
  its calls run on a tokio runtime on threads of its own, the loop only awaits them);
- sync, 16 threads sharing one client: ``kvstore_sync`` (``kvstore_etcd.EtcdStore``) and
  ``etcd3_sync`` (the raw ``etcd3`` client).

Every figure is bounded by count (``ops``, 4,000 calls) and by time (``seconds``): the
rate is the calls completed over the time taken, after a warm-up of 512 calls on the
same connection. Gets are linearizable for every client (each one's default).

**Processes.** ``aetcd``, ``etcd3aio`` and ``etcd3`` (so ``kvstore_etcd``) each register
the same etcd ``.proto`` messages in protobuf's default descriptor pool, and a process
importing two of them fails (``TypeError: Couldn't build proto file into descriptor pool:
duplicate symbol 'mvccpb.KeyValue'``). So each peer runs in a process of its own (this
file, ``--worker NAME``), one after another on the same etcd, and the two pairs whose
targets are tight and which share etcd3's protos each share one process: kvstore async
with raw grpc.aio, EtcdStore with raw etcd3. In one process the clients take turns by
blocks of 1,000 calls (a b b a ...), so load from elsewhere hits both alike. A fresh
process per group also keeps one client's threads and garbage out of another's figures.

**Rounds** rotate the order of the processes. Rates are medians over rounds; a ratio
``A_op_vs_B`` (A's rate / B's) is the median over rounds of the two rates of one round.
Ratios: ``kvstore_async`` vs each async peer (and ``_vs_best_peer``: the least of those),
vs ``grpc_aio`` and vs ``kvstore_sync``; ``kvstore_sync`` vs ``etcd3_sync``; each peer vs
``grpc_aio``, for context. SPEC 15's targets: kvstore async >= every peer, >= 0.95x raw
grpc.aio, >= 2x the sync API at 16 threads; the sync API >= 0.95x raw etcd3 (overhead
<= 5 %).
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent

__all__ = [
    "ASYNC_PEERS",
    "CLIENTS",
    "ClientInfo",
    "bench_async",
    "main",
    "measure",
]


class ClientInfo(NamedTuple):
    """One measured client."""

    label: str
    """How tables name it."""
    concurrency: str
    """``"async"`` (coroutines on one loop) or ``"threads"``."""


CLIENTS: dict[str, ClientInfo] = {
    "kvstore_async": ClientInfo("kvstore AsyncEtcdStore", "async"),
    "grpc_aio": ClientInfo("raw grpc.aio stubs", "async"),
    "aetcd": ClientInfo("aetcd 1.0.0", "async"),
    "etcd3aio": ClientInfo("etcd3aio 0.3.0", "async"),
    "etcd_client_py": ClientInfo("etcd-client-py 0.5.1", "async"),
    "kvstore_sync": ClientInfo("kvstore EtcdStore", "threads"),
    "etcd3_sync": ClientInfo("raw etcd3", "threads"),
}
"""Every client, by the name its figures carry."""

ASYNC_PEERS = ("aetcd", "etcd3aio", "etcd_client_py")
"""The async Python clients kvstore's async API must match or beat."""

GROUPS = (
    ("kvstore_async", "grpc_aio"),
    ("aetcd",),
    ("etcd3aio",),
    ("etcd_client_py",),
    ("kvstore_sync", "etcd3_sync"),
)
"""Clients measured in one process, taking turns by blocks (each pair shares etcd3's protos:
its ratio, whose target is tight, is then measured under the same load)."""

OPERATIONS = ("put", "get")
VALUE = b"v" * 256
KEY_COUNT = 256
WARMUP_OPS = 512
BLOCK = 1000
"""Calls per timed block; the clients of one process take turns by blocks."""
TIMEOUT = 10.0
"""Per-call deadline of every client, seconds."""


def _keys() -> list[str]:
    return [f"bench/async/{index:03d}" for index in range(KEY_COUNT)]


class Unavailable(Exception):
    """The client cannot be measured here (not installed, not written yet)."""


# ---------------------------------------------------------------------------- clients
# Each yields ``(put, get)``: callables of a call index (the key is ``index % 256``).

Call = Callable[[int], Any]


def _require(module: str, install: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc} (pip install {install})") from exc


@contextlib.asynccontextmanager
async def _kvstore_async(endpoint: str) -> AsyncIterator[tuple[Call, Call]]:
    try:
        from kvstore_etcd import AsyncEtcdStore, EtcdConfig  # type: ignore[attr-defined]
    except ImportError as exc:
        raise Unavailable(f"kvstore_etcd.AsyncEtcdStore is not importable ({exc})") from exc
    keys = _keys()
    store = AsyncEtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=TIMEOUT))

    async def put(index: int) -> object:
        return await store.put(keys[index % KEY_COUNT], VALUE)

    async def get(index: int) -> object:
        return await store.get(keys[index % KEY_COUNT])

    try:
        yield put, get
    finally:
        await store.aclose()


@contextlib.asynccontextmanager
async def _grpc_aio(endpoint: str) -> AsyncIterator[tuple[Call, Call]]:
    _require("etcd3", '"kvstore[etcd]"')
    import grpc
    from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc

    keys = [key.encode() for key in _keys()]
    channel = grpc.aio.insecure_channel(endpoint)
    stub = rpc_pb2_grpc.KVStub(channel)

    async def put(index: int) -> object:
        request = rpc_pb2.PutRequest(key=keys[index % KEY_COUNT], value=VALUE)
        return (await stub.Put(request, timeout=TIMEOUT)).header.revision

    async def get(index: int) -> object:
        request = rpc_pb2.RangeRequest(key=keys[index % KEY_COUNT])
        return (await stub.Range(request, timeout=TIMEOUT)).kvs[0].value

    try:
        yield put, get
    finally:
        await channel.close()


@contextlib.asynccontextmanager
async def _aetcd(endpoint: str) -> AsyncIterator[tuple[Call, Call]]:
    _require("aetcd", "aetcd==1.0.0")
    import aetcd

    host, _, port = endpoint.rpartition(":")
    keys = [key.encode() for key in _keys()]
    async with aetcd.Client(host=host, port=int(port), timeout=int(TIMEOUT)) as client:

        async def put(index: int) -> object:
            return await client.put(keys[index % KEY_COUNT], VALUE)

        async def get(index: int) -> object:
            return (await client.get(keys[index % KEY_COUNT])).value

        yield put, get


@contextlib.asynccontextmanager
async def _etcd3aio(endpoint: str) -> AsyncIterator[tuple[Call, Call]]:
    _require("etcd3aio", "etcd3aio==0.3.0")
    import etcd3aio

    keys = [key.encode() for key in _keys()]
    async with etcd3aio.Etcd3Client([endpoint]) as client:
        kv = client.kv

        async def put(index: int) -> object:
            return await kv.put(keys[index % KEY_COUNT], VALUE, timeout=TIMEOUT)

        async def get(index: int) -> object:
            return (await kv.get(keys[index % KEY_COUNT], timeout=TIMEOUT)).kvs[0].value

        yield put, get


@contextlib.asynccontextmanager
async def _etcd_client_py(endpoint: str) -> AsyncIterator[tuple[Call, Call]]:
    _require("etcd_client", "etcd-client-py==0.5.1")
    import etcd_client

    keys = [key.encode() for key in _keys()]
    options = etcd_client.ConnectOptions().with_timeout(TIMEOUT)
    client = etcd_client.Client([f"http://{endpoint}"], options)
    async with client.connect() as communicator:

        async def put(index: int) -> object:
            return await communicator.put(keys[index % KEY_COUNT], VALUE)

        async def get(index: int) -> object:
            return await communicator.get(keys[index % KEY_COUNT])

        yield put, get


@contextlib.contextmanager
def _kvstore_sync(endpoint: str) -> Iterator[tuple[Call, Call]]:
    try:
        from kvstore_etcd import EtcdConfig, EtcdStore
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
    keys = _keys()
    with EtcdStore(EtcdConfig(endpoints=[endpoint], request_timeout=TIMEOUT)) as store:
        yield (
            lambda index: store.put(keys[index % KEY_COUNT], VALUE),
            lambda index: store.get(keys[index % KEY_COUNT]),
        )


@contextlib.contextmanager
def _etcd3_sync(endpoint: str) -> Iterator[tuple[Call, Call]]:
    _require("etcd3", '"kvstore[etcd]"')
    import etcd3

    host, _, port = endpoint.rpartition(":")
    keys = _keys()
    client = etcd3.client(host=host, port=int(port), timeout=TIMEOUT)
    try:
        yield (
            lambda index: client.put(keys[index % KEY_COUNT], VALUE),
            lambda index: client.get(keys[index % KEY_COUNT])[0],
        )
    finally:
        client.close()


_ASYNC_FACTORIES: dict[str, Callable[[str], contextlib.AbstractAsyncContextManager[Any]]] = {
    "kvstore_async": _kvstore_async,
    "grpc_aio": _grpc_aio,
    "aetcd": _aetcd,
    "etcd3aio": _etcd3aio,
    "etcd_client_py": _etcd_client_py,
}
_SYNC_FACTORIES: dict[str, Callable[[str], contextlib.AbstractContextManager[Any]]] = {
    "kvstore_sync": _kvstore_sync,
    "etcd3_sync": _etcd3_sync,
}


# ---------------------------------------------------------------------------- drivers


async def _drive_async(
    call: Callable[[int], Awaitable[object]], ops: int, seconds: float, in_flight: int
) -> tuple[int, float]:
    """``call(i)`` for ``i`` in ``range(ops)``, ``in_flight`` at a time, none started after
    ``seconds``: the calls completed and the time taken."""
    counter = itertools.count()
    done = 0
    began = time.perf_counter()
    deadline = began + seconds

    async def worker() -> None:
        nonlocal done
        while (index := next(counter)) < ops and time.perf_counter() < deadline:
            await call(index)
            done += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done, time.perf_counter() - began


def _drive_threads(call: Call, ops: int, seconds: float, threads: int) -> tuple[int, float]:
    """``call(i)`` for ``i`` in ``range(ops)`` over ``threads`` threads released at once,
    none started after ``seconds``: the calls completed and the time taken."""
    counter = itertools.count()  # next() on a count is atomic under the GIL
    done = [0] * threads
    gate = threading.Barrier(threads + 1)
    deadline = [0.0]
    errors: list[Exception] = []

    def worker(number: int) -> None:
        gate.wait()
        try:
            while (index := next(counter)) < ops and time.perf_counter() < deadline[0]:
                call(index)
                done[number] += 1
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    gate.wait()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(done), elapsed


def _check(name: str, value: object) -> None:
    """A get of every client returns the value put (so each measures real round trips)."""
    if bytes(value) != VALUE:  # type: ignore[call-overload]
        raise RuntimeError(f"{name}: get returned {value!r:.60}, not the value put")


def _blocks(names: Sequence[str], ops: int) -> Iterator[tuple[str, int]]:
    """``(client, calls)``: ``ops`` calls of each client in blocks of `BLOCK`, the clients
    taking turns, in the order ``a b``, then ``b a``, and so on."""
    for block, start in enumerate(range(0, ops, BLOCK)):
        for name in names if block % 2 == 0 else reversed(names):
            yield name, min(BLOCK, ops - start)


async def _worker_async(
    names: Sequence[str], endpoint: str, ops: int, seconds: float, in_flight: int
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, tuple[Call, Call]] = {}
        for name in names:
            try:
                clients[name] = await stack.enter_async_context(_ASYNC_FACTORIES[name](endpoint))
            except Unavailable as exc:
                results[name] = {"unavailable": str(exc)}
        for index, operation in enumerate(OPERATIONS):
            for name, calls in clients.items():
                await _drive_async(calls[index], WARMUP_OPS, seconds, in_flight)
                if operation == "get":
                    _check(name, await calls[1](0))
            totals = {name: [0, 0.0] for name in clients}
            for name, count in _blocks(list(clients), ops):
                total = totals[name]
                if total[1] < seconds:
                    done, elapsed = await _drive_async(
                        clients[name][index], count, seconds - total[1], in_flight
                    )
                    total[0] += done
                    total[1] += elapsed
            for name, (done, elapsed) in totals.items():
                results.setdefault(name, {})[f"{operation}_per_s"] = done / elapsed
    return results


def _worker_threads(
    names: Sequence[str], endpoint: str, ops: int, seconds: float, threads: int
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        clients: dict[str, tuple[Call, Call]] = {}
        for name in names:
            try:
                clients[name] = stack.enter_context(_SYNC_FACTORIES[name](endpoint))
            except Unavailable as exc:
                results[name] = {"unavailable": str(exc)}
        for index, operation in enumerate(OPERATIONS):
            for name, calls in clients.items():
                _drive_threads(calls[index], WARMUP_OPS, seconds, threads)
                if operation == "get":
                    _check(name, calls[1](0))
            totals = {name: [0, 0.0] for name in clients}
            for name, count in _blocks(list(clients), ops):
                total = totals[name]
                if total[1] < seconds:
                    done, elapsed = _drive_threads(
                        clients[name][index], count, seconds - total[1], threads
                    )
                    total[0] += done
                    total[1] += elapsed
            for name, (done, elapsed) in totals.items():
                results.setdefault(name, {})[f"{operation}_per_s"] = done / elapsed
    return results


def _worker(args: argparse.Namespace) -> int:
    """Measure a group of clients in this process; print one JSON line on stdout."""
    names = args.worker.split(",")
    if CLIENTS[names[0]].concurrency == "async":
        result = asyncio.run(
            _worker_async(names, args.endpoint, args.ops, args.seconds, args.in_flight)
        )
    else:
        result = _worker_threads(names, args.endpoint, args.ops, args.seconds, args.threads)
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------- parent


def _spawn(
    names: Sequence[str], endpoint: str, ops: int, seconds: float, in_flight: int, threads: int
) -> dict[str, dict[str, Any]]:
    """Run ``--worker a,b`` in a fresh interpreter: each client's figures, or why not."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), *filter(None, [env.get("PYTHONPATH")])])
    command = [
        sys.executable,
        str(HERE / "bench_async.py"),
        f"--worker={','.join(names)}",
        f"--endpoint={endpoint}",
        f"--ops={ops}",
        f"--seconds={seconds}",
        f"--in-flight={in_flight}",
        f"--threads={threads}",
    ]
    limit = 60 + 6 * seconds * len(names)
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=limit, check=False
        )
    except subprocess.TimeoutExpired:
        return {name: {"failed": f"timed out after {limit:.0f} s"} for name in names}
    lines = process.stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = process.stderr.strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return {name: {"failed": tail[0]} for name in names}
    result: dict[str, dict[str, Any]] = json.loads(lines[-1])
    return result


def _median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median over rounds of the ratio of two clients' rates in the same round."""
    ratios = [
        top / bottom
        for top, bottom in zip(numerators, denominators, strict=True)
        if not (math.isnan(top) or math.isnan(bottom) or bottom == 0)
    ]
    return statistics.median(ratios) if ratios else math.nan


def _run(
    endpoint: str,
    clients: Sequence[str],
    ops: int,
    seconds: float,
    rounds: int,
    in_flight: int,
    threads: int,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    groups = [[name for name in group if name in clients] for group in GROUPS]
    groups = [group for group in groups if group]
    # rates[client, operation][round]; NaN where not measured
    rates = {(name, op): [math.nan] * rounds for name in clients for op in OPERATIONS}
    notes: dict[str, str] = {}
    for round_index in range(rounds):
        shift = round_index % len(groups)
        order = [*groups[shift:], *groups[:shift]]
        if round_index % 2:
            order.reverse()
        for group in order:
            names = [name for name in group if name not in notes]  # failed once: not again
            if not names:
                continue
            result = _spawn(names, endpoint, ops, seconds, in_flight, threads)
            for name in names:
                figures = result.get(name, {"failed": "no result"})
                if "unavailable" in figures or "failed" in figures:
                    notes[name] = figures.get("unavailable") or f"failed: {figures['failed']}"
                    continue
                for operation in OPERATIONS:
                    rates[name, operation][round_index] = figures[f"{operation}_per_s"]
            if progress is not None:
                shown = {
                    name: notes.get(name)
                    or {op: round(rates[name, op][round_index]) for op in OPERATIONS}
                    for name in names
                }
                progress(f"round {round_index + 1}/{rounds}: {shown}")

    figures: dict[str, Any] = {
        "endpoint": endpoint,
        "ops": ops,
        "seconds": seconds,
        "rounds": rounds,
        "in_flight": in_flight,
        "threads": threads,
        "value_bytes": len(VALUE),
    }
    for name in clients:
        figures[f"{name}_available"] = 0.0 if name in notes else 1.0
        for operation in OPERATIONS:
            values = [value for value in rates[name, operation] if not math.isnan(value)]
            figures[f"{name}_{operation}_per_s"] = statistics.median(values) if values else math.nan

    nan_rounds = [math.nan] * rounds

    def ratio(top: str, bottom: str, operation: str) -> float:
        return _median_ratio(
            rates.get((top, operation), nan_rounds), rates.get((bottom, operation), nan_rounds)
        )

    for operation in OPERATIONS:
        for other in ("grpc_aio", *ASYNC_PEERS, "kvstore_sync"):
            figures[f"kvstore_async_{operation}_vs_{other}"] = ratio(
                "kvstore_async", other, operation
            )
        peers = [figures.get(f"{peer}_{operation}_per_s", math.nan) for peer in ASYNC_PEERS]
        measured = [value for value in peers if not math.isnan(value)]
        figures[f"best_peer_{operation}_per_s"] = max(measured, default=math.nan)
        against_peers = [figures[f"kvstore_async_{operation}_vs_{peer}"] for peer in ASYNC_PEERS]
        # against the peer that does best relative to kvstore: >= 1 means >= every peer
        figures[f"kvstore_async_{operation}_vs_best_peer"] = min(
            (value for value in against_peers if not math.isnan(value)), default=math.nan
        )
        figures[f"kvstore_sync_{operation}_vs_etcd3_sync"] = ratio(
            "kvstore_sync", "etcd3_sync", operation
        )
        for peer in ASYNC_PEERS:
            figures[f"{peer}_{operation}_vs_grpc_aio"] = ratio(peer, "grpc_aio", operation)
        figures[f"grpc_aio_{operation}_vs_etcd3_sync"] = ratio("grpc_aio", "etcd3_sync", operation)
    figures["notes"] = notes
    return figures


def measure(
    endpoint: str | None = None,
    *,
    clients: Sequence[str] = tuple(CLIENTS),
    ops: int = 4000,
    seconds: float = 3.0,
    rounds: int = 3,
    in_flight: int = 64,
    threads: int = 16,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Put and get throughput of each client on one etcd, each in a process of its own.

    Args:
        endpoint: ``host:port`` of an etcd to use; ``None`` starts a local one.
        clients: Names from `CLIENTS` to measure.
        ops: Calls per measurement (after a warm-up of 512).
        seconds: Time bound of each measurement (the rate is taken over what completed).
        rounds: Rounds, each client once per round in a rotated order; medians reported.
        in_flight: Calls in flight for the async clients (worker coroutines).
        threads: Threads sharing one client for the sync clients.
        progress: Called with a line after each measurement (``None``: silent).

    Returns:
        ``{client}_{put,get}_per_s`` (NaN when not measured), ``{client}_available``
        (1 or 0), the ratios ``kvstore_async_{op}_vs_{other}``,
        ``kvstore_async_{op}_vs_best_peer``, ``kvstore_sync_{op}_vs_etcd3_sync``,
        ``{peer}_{op}_vs_grpc_aio``; ``notes``: why a client was not measured; the
        parameters and ``etcd_version``.
    """
    from etcd_target import etcd_target

    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        raise ValueError(f"unknown clients {unknown}; known: {list(CLIENTS)}")
    with etcd_target([endpoint] if endpoint else []) as target:
        result = _run(
            target.endpoints[0], list(clients), ops, seconds, rounds, in_flight, threads, progress
        )
        result["etcd_version"] = target.version
    return result


def bench_async(endpoints: list[str], *, quick: bool = False) -> dict[str, Any]:
    """What ``run.py`` reports: every client's put/get rate on the given etcd, and the
    ratios SPEC section 15 sets targets on.

    Args:
        endpoints: ``host:port`` of the etcd to measure (the first is used).
        quick: Fewer calls, one round (a smoke run).

    Returns:
        `measure`'s figures.
    """
    if quick:
        return measure(endpoints[0], ops=1500, seconds=1.0, rounds=1)
    return measure(endpoints[0])


def _print(result: dict[str, Any]) -> None:
    print(
        f"etcd {result.get('etcd_version', 'external')} at {result['endpoint']}; "
        f"{result['value_bytes']}-byte values, up to {result['ops']:,} calls or "
        f"{result['seconds']} s per figure, median of {result['rounds']} rounds"
    )
    print()
    print("| client | concurrency | puts/s | gets/s |")
    print("|---|---|---:|---:|")
    for name, info in CLIENTS.items():
        if f"{name}_available" not in result:
            continue
        way = f"{result['in_flight']} in flight" if info.concurrency == "async" else ""
        way = way or f"{result['threads']} threads"
        if not result[f"{name}_available"]:
            print(f"| {info.label} | {way} | not available | not available |")
            continue
        print(
            f"| {info.label} | {way} | {result[f'{name}_put_per_s']:,.0f} | "
            f"{result[f'{name}_get_per_s']:,.0f} |"
        )
    print()
    print("| ratio | put | get | target |")
    print("|---|---:|---:|---|")
    rows = [
        *[
            (f"kvstore async / {CLIENTS[p].label}", f"kvstore_async_{{}}_vs_{p}", ">= 1")
            for p in ASYNC_PEERS
        ],
        ("kvstore async / raw grpc.aio", "kvstore_async_{}_vs_grpc_aio", ">= 0.95"),
        ("kvstore async / kvstore sync (16 threads)", "kvstore_async_{}_vs_kvstore_sync", ">= 2"),
        ("kvstore sync / raw etcd3 (16 threads)", "kvstore_sync_{}_vs_etcd3_sync", ">= 0.95"),
        *[(f"{CLIENTS[p].label} / raw grpc.aio", f"{p}_{{}}_vs_grpc_aio", "") for p in ASYNC_PEERS],
        ("raw grpc.aio / raw etcd3 (16 threads)", "grpc_aio_{}_vs_etcd3_sync", ""),
    ]
    for label, pattern, target in rows:
        cells = []
        for operation in OPERATIONS:
            value = result.get(pattern.format(operation), math.nan)
            cells.append("n/a" if math.isnan(value) else f"{value:.2f}x")
        print(f"| {label} | {cells[0]} | {cells[1]} | {target} |")
    for name, why in result.get("notes", {}).items():
        print(f"\n{CLIENTS[name].label}: not measured: {why}")


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as Markdown tables (or, with ``--worker``, measure one client)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="host:port of an existing etcd")
    parser.add_argument("--quick", action="store_true", help="short measurements, one round")
    parser.add_argument("--ops", type=int, default=None, help="calls per figure (4000)")
    parser.add_argument("--seconds", type=float, default=None, help="time bound per figure (3)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (3)")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--clients", default=",".join(CLIENTS), help=f"comma-separated, of {','.join(CLIENTS)}"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a,b: clients of one GROUPS entry
    args = parser.parse_args(argv)
    defaults = (1500, 1.0, 1) if args.quick else (4000, 3.0, 3)
    args.ops = args.ops or defaults[0]
    args.seconds = args.seconds or defaults[1]
    args.rounds = args.rounds or defaults[2]
    if args.worker:
        return _worker(args)
    result = measure(
        args.endpoint,
        clients=[name.strip() for name in args.clients.split(",") if name.strip()],
        ops=args.ops,
        seconds=args.seconds,
        rounds=args.rounds,
        in_flight=args.in_flight,
        threads=args.threads,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
