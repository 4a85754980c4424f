"""Async etcd clients at 64 in flight, beside the sync API at 16 threads (SPEC section 15).

Run ``python benchmarks/bench_async.py`` (starts a throwaway local etcd unless
``--endpoint host:port`` is given; ``--quick`` for a short smoke run). ``bench_async()``
returns the figures for ``run.py``.

Measured on one etcd, 256-byte values on 256 keys, puts then gets (of those keys):

- async, one event loop, one connection each, 64 worker coroutines sharing the loop:
  ``kvstore_async`` (``kvstore_etcd.AsyncEtcdStore``, "not available" until it exists),
  ``grpc_aio`` (raw ``grpc.aio`` stubs: the generated etcd protobuf modules and a
  ``grpc.aio`` channel, no wrapper), and the async peers ``aetcd`` 1.0.0, ``etcd3aio``
  0.3.0 and ``etcd_client_py`` (``etcd-client-py`` 0.5.1: Rust's etcd-client under PyO3,
  run on a tokio runtime on threads of its own; every call of one connection holds a
  lock on the client, so it has one call in flight whatever the caller does);
- sync, 16 threads sharing one client: ``kvstore_sync`` (``kvstore_etcd.EtcdStore``) and
  ``etcd3_sync`` (the raw ``etcd3`` client).

Every figure is bounded by count (``ops``, 4,000 calls) and by time (``seconds``), after
a warm-up of 512 calls on the same connection. Gets are linearizable for every client
(each one's default).

**Processes.** ``aetcd``, ``etcd3aio`` and ``etcd3`` (so ``kvstore_etcd``) each register
the same etcd ``.proto`` messages in protobuf's default descriptor pool, and a process
importing two of them fails (``TypeError: Couldn't build proto file into descriptor pool:
duplicate symbol 'mvccpb.KeyValue'``). So the clients run in processes of their own
(`GROUPS`; this file with ``--worker a,b``), one after another on the same etcd, and
**raw grpc.aio is measured in every process** as the common yardstick, on the stubs that
process can import (``etcd3.etcdrpc``, the ones ``kvstore_etcd`` uses; ``aetcd.rpc``
beside aetcd; etcd3aio's own beside etcd3aio: the same protos and the same ``grpc.aio``).
In a process the clients take turns by blocks of 500 calls (a b, b a, a b, ...), so load
from elsewhere on this shared machine hits neighbouring blocks alike.

**Figures.** Rounds rotate the order of the processes. A rate is the median of a client's
block rates (calls / time of the block) over all rounds, so a stall spoils one block, not
the figure. ``X_op_vs_grpc_aio`` is the median, over all rounds, of the ratio of each of
X's blocks to the raw grpc.aio block beside it in the same process (``_q1`` / ``_q3``:
the quartiles of those ratios, the noise; ``_pairs``: how many);
``kvstore_sync_op_vs_etcd3_sync`` likewise. A ratio of clients of different processes
goes through the yardstick: ``kvstore_async_op_vs_aetcd`` = ``kvstore_async_op_vs_grpc_aio
/ aetcd_op_vs_grpc_aio`` (and so ``_vs_etcd3aio``, ``_vs_etcd_client_py``,
``_vs_kvstore_sync``, ``grpc_aio_op_vs_etcd3_sync``); ``kvstore_async_op_vs_best_peer`` is
the least of those against the peers. SPEC 15's targets: kvstore async >= every peer,
>= 0.95x raw grpc.aio, >= 2x the sync API at 16 threads; the sync API >= 0.95x raw etcd3
(overhead <= 5 %).
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
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent

__all__ = [
    "ASYNC_PEERS",
    "CLIENTS",
    "GROUPS",
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

YARDSTICK = "grpc_aio"
"""Measured in every process; ratios across processes go through it."""

GROUPS = (
    ("kvstore_async", YARDSTICK),
    ("aetcd", YARDSTICK),
    ("etcd3aio", YARDSTICK),
    ("etcd_client_py", YARDSTICK),
    ("kvstore_sync", "etcd3_sync", YARDSTICK),
)
"""The clients of each process (aetcd's and etcd3aio's protos exclude etcd3's)."""

OPERATIONS = ("put", "get")
VALUE = b"v" * 256
KEY_COUNT = 256
WARMUP_OPS = 512
BLOCK = 500
"""Calls per timed block; the clients of one process take turns by blocks."""
TIMEOUT = 10.0
"""Per-call deadline of every client, seconds."""


def _keys() -> list[str]:
    return [f"bench/async/{index:03d}" for index in range(KEY_COUNT)]


class Unavailable(Exception):
    """The client cannot be measured here (not installed, or cannot be imported)."""


# ---------------------------------------------------------------------------- clients
# Each yields ``(put, get)``: callables of a call index (the key is ``index % 256``);
# coroutine functions for the async clients, plain functions for the threaded ones.

Call = Callable[[int], Any]


def _require(module: str, install: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc} (pip install {install})") from exc


@contextlib.asynccontextmanager
async def _kvstore_async(endpoint: str, names: Sequence[str]) -> AsyncIterator[tuple[Call, Call]]:
    try:
        from kvstore_etcd import AsyncEtcdStore, EtcdConfig
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


def _stub_modules(names: Sequence[str]) -> tuple[Any, Any]:
    """``rpc_pb2`` and ``rpc_pb2_grpc`` that a process measuring ``names`` can import."""
    if "aetcd" in names:
        _require("aetcd", "aetcd==1.0.0")
        from aetcd.rpc import rpc_pb2, rpc_pb2_grpc
    elif "etcd3aio" in names:
        _require("etcd3aio", "etcd3aio==0.3.0")
        from etcd3aio._protobuf import rpc_pb2, rpc_pb2_grpc  # type: ignore[attr-defined]
    else:
        _require("etcd3", '"kvstore[etcd]"')
        from etcd3.etcdrpc import rpc_pb2, rpc_pb2_grpc
    return rpc_pb2, rpc_pb2_grpc


@contextlib.asynccontextmanager
async def _grpc_aio(endpoint: str, names: Sequence[str]) -> AsyncIterator[tuple[Call, Call]]:
    rpc_pb2, rpc_pb2_grpc = _stub_modules(names)
    import grpc

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
async def _aetcd(endpoint: str, names: Sequence[str]) -> AsyncIterator[tuple[Call, Call]]:
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
async def _etcd3aio(endpoint: str, names: Sequence[str]) -> AsyncIterator[tuple[Call, Call]]:
    _require("etcd3aio", "etcd3aio==0.3.0")
    import etcd3aio

    keys = [key.encode() for key in _keys()]
    async with etcd3aio.Etcd3Client([endpoint]) as client:
        kv = client.kv
        assert kv is not None  # set by connect()

        async def put(index: int) -> object:
            return await kv.put(keys[index % KEY_COUNT], VALUE, timeout=TIMEOUT)

        async def get(index: int) -> object:
            return (await kv.get(keys[index % KEY_COUNT], timeout=TIMEOUT)).kvs[0].value

        yield put, get


@contextlib.asynccontextmanager
async def _etcd_client_py(endpoint: str, names: Sequence[str]) -> AsyncIterator[tuple[Call, Call]]:
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
def _kvstore_sync(endpoint: str, names: Sequence[str]) -> Iterator[tuple[Call, Call]]:
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
def _etcd3_sync(endpoint: str, names: Sequence[str]) -> Iterator[tuple[Call, Call]]:
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


_FACTORIES: dict[str, Callable[[str, Sequence[str]], Any]] = {
    "kvstore_async": _kvstore_async,
    "grpc_aio": _grpc_aio,
    "aetcd": _aetcd,
    "etcd3aio": _etcd3aio,
    "etcd_client_py": _etcd_client_py,
    "kvstore_sync": _kvstore_sync,
    "etcd3_sync": _etcd3_sync,
}
"""``factory(endpoint, names of the process)``: an (async) context manager of the calls."""


# ---------------------------------------------------------------------------- drivers


async def _drive_async(call: Call, ops: int, seconds: float, in_flight: int) -> tuple[int, float]:
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


async def _measure_group(
    names: Sequence[str], endpoint: str, ops: int, seconds: float, in_flight: int, threads: int
) -> dict[str, dict[str, Any]]:
    """Each client's ``{put,get}_blocks``: the rate of each of its blocks (NaN: no call
    completed), in the order of `_blocks`; or why it was not measured."""
    results: dict[str, dict[str, Any]] = {}
    async with contextlib.AsyncExitStack() as stack:
        clients: dict[str, tuple[Call, Call]] = {}
        for name in names:
            try:
                manager = _FACTORIES[name](endpoint, names)
                if CLIENTS[name].concurrency == "async":
                    clients[name] = await stack.enter_async_context(manager)
                else:
                    clients[name] = stack.enter_context(manager)
            except Unavailable as exc:
                results[name] = {"unavailable": str(exc)}

        async def drive(name: str, call: Call, count: int, budget: float) -> tuple[int, float]:
            if CLIENTS[name].concurrency == "async":
                return await _drive_async(call, count, budget, in_flight)
            return _drive_threads(call, count, budget, threads)  # blocks the idle loop

        for index, operation in enumerate(OPERATIONS):
            for name, calls in clients.items():
                await drive(name, calls[index], WARMUP_OPS, seconds)
                if operation == "get":
                    value = calls[1](0)
                    _check(name, await value if asyncio.iscoroutine(value) else value)
            spent = dict.fromkeys(clients, 0.0)
            rates: dict[str, list[float]] = {name: [] for name in clients}
            for name, count in _blocks(list(clients), ops):
                done, elapsed = 0, 0.0
                if spent[name] < seconds:
                    done, elapsed = await drive(
                        name, clients[name][index], count, seconds - spent[name]
                    )
                    spent[name] += elapsed
                rates[name].append(done / elapsed if done else math.nan)
            for name, values in rates.items():
                results.setdefault(name, {})[f"{operation}_blocks"] = values
    return results


def _worker(args: argparse.Namespace) -> int:
    """Measure one group of clients in this process; print one JSON line on stdout."""
    result = asyncio.run(
        _measure_group(
            args.worker.split(","),
            args.endpoint,
            args.ops,
            args.seconds,
            args.in_flight,
            args.threads,
        )
    )
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


def _median(values: list[float]) -> float:
    values = [value for value in values if not math.isnan(value)]
    return statistics.median(values) if values else math.nan


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (NaN when empty)."""
    values = sorted(value for value in values if not math.isnan(value))
    if len(values) < 2:
        return (values[0],) * 3 if values else (math.nan,) * 3
    first, median, third = statistics.quantiles(values, n=4, method="inclusive")
    return first, median, third


def _pair_ratios(tops: list[float], bottoms: list[float]) -> list[float]:
    """``a / b`` for each block of one client and the same block of another."""
    return [
        a / b
        for a, b in zip(tops, bottoms, strict=False)
        if not (math.isnan(a) or math.isnan(b) or b == 0)
    ]


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
    wanted = {*clients, YARDSTICK}
    groups = [
        [*members, YARDSTICK]
        for group in GROUPS
        if (members := [name for name in group if name in clients and name != YARDSTICK])
    ] or [[YARDSTICK]]
    blocks: dict[tuple[str, str], list[float]] = {}  # every block rate, pooled over rounds
    ratios: dict[tuple[str, str, str], list[float]] = {}  # (a, b, op): block-pair ratios
    notes: dict[str, str] = {}
    for round_index in range(rounds):
        shift = round_index % len(groups)
        order = [*groups[shift:], *groups[:shift]]
        if round_index % 2:
            order.reverse()
        for group in order:
            names = [name for name in group if name not in notes]  # failed once: not again
            if names == [YARDSTICK] != group:
                continue
            result = _spawn(names, endpoint, ops, seconds, in_flight, threads)
            measured: dict[str, dict[str, list[float]]] = {}
            for name in names:
                outcome = result.get(name, {"failed": "no result"})
                if "unavailable" in outcome or "failed" in outcome:
                    if name != YARDSTICK:  # (its stubs may be missing in this process only)
                        notes[name] = outcome.get("unavailable") or f"failed: {outcome['failed']}"
                    continue
                measured[name] = {op: outcome[f"{op}_blocks"] for op in OPERATIONS}
            pairs = [(name, YARDSTICK) for name in measured if name != YARDSTICK]
            if {"kvstore_sync", "etcd3_sync"} <= measured.keys():
                pairs.append(("kvstore_sync", "etcd3_sync"))
            for operation in OPERATIONS:
                for name, rates in measured.items():
                    blocks.setdefault((name, operation), []).extend(rates[operation])
                for top, bottom in pairs:
                    if bottom in measured:
                        ratios.setdefault((top, bottom, operation), []).extend(
                            _pair_ratios(measured[top][operation], measured[bottom][operation])
                        )
            if progress is not None:
                shown = {
                    name: {op: round(_median(rates[op])) for op in OPERATIONS}
                    for name, rates in measured.items()
                }
                skipped = {name: notes[name] for name in names if name in notes}
                progress(f"round {round_index + 1}/{rounds}: {shown} {skipped or ''}".rstrip())

    figures: dict[str, Any] = {
        "endpoint": endpoint,
        "ops": ops,
        "seconds": seconds,
        "rounds": rounds,
        "in_flight": in_flight,
        "threads": threads,
        "value_bytes": len(VALUE),
        "block_calls": BLOCK,
    }
    for name in CLIENTS:
        if name in wanted:
            figures[f"{name}_available"] = 0.0 if name in notes else 1.0
            for operation in OPERATIONS:
                figures[f"{name}_{operation}_per_s"] = _median(blocks.get((name, operation), []))

    def measured_ratio(top: str, bottom: str, operation: str) -> float:
        pooled = ratios.get((top, bottom, operation), [])
        first, median, third = _quartiles(pooled)
        name = f"{top}_{operation}_vs_{bottom}"
        figures[name] = median
        figures[f"{name}_q1"], figures[f"{name}_q3"] = first, third
        figures[f"{name}_pairs"] = float(len(pooled))
        return median

    vs_yardstick = {
        (name, operation): measured_ratio(name, YARDSTICK, operation) if name != YARDSTICK else 1.0
        for name in CLIENTS
        if name in wanted
        for operation in OPERATIONS
    }

    def through_yardstick(top: str, bottom: str, operation: str) -> float:
        a = vs_yardstick.get((top, operation), math.nan)
        b = vs_yardstick.get((bottom, operation), math.nan)
        return math.nan if math.isnan(a) or math.isnan(b) or b == 0 else a / b

    for operation in OPERATIONS:
        for other in (*ASYNC_PEERS, "kvstore_sync"):
            figures[f"kvstore_async_{operation}_vs_{other}"] = through_yardstick(
                "kvstore_async", other, operation
            )
        against = [figures[f"kvstore_async_{operation}_vs_{peer}"] for peer in ASYNC_PEERS]
        figures[f"kvstore_async_{operation}_vs_best_peer"] = min(
            (value for value in against if not math.isnan(value)), default=math.nan
        )
        if {"kvstore_sync", "etcd3_sync"} <= wanted:
            measured_ratio("kvstore_sync", "etcd3_sync", operation)
        figures[f"grpc_aio_{operation}_vs_etcd3_sync"] = through_yardstick(
            YARDSTICK, "etcd3_sync", operation
        )
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
    """Put and get throughput of each client on one etcd, in processes of their own.

    Args:
        endpoint: ``host:port`` of an etcd to use; ``None`` starts a local one.
        clients: Names from `CLIENTS` to measure (raw grpc.aio always is).
        ops: Calls per figure (after a warm-up of 512).
        seconds: Time bound of each figure.
        rounds: Rounds, each process once per round in a rotated order.
        in_flight: Calls in flight for the async clients (worker coroutines).
        threads: Threads sharing one client for the sync clients.
        progress: Called with a line after each process (``None``: silent).

    Returns:
        ``{client}_{put,get}_per_s`` (NaN when not measured), ``{client}_available``
        (1 or 0), the ratios ``{client}_{op}_vs_grpc_aio`` (with ``_q1``, ``_q3``, ``_pairs``),
        ``kvstore_async_{op}_vs_{peer, kvstore_sync, best_peer}``,
        ``kvstore_sync_{op}_vs_etcd3_sync``, ``grpc_aio_{op}_vs_etcd3_sync``; ``notes``:
        why a client was not measured; the parameters and ``etcd_version``.
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
        f"{result['seconds']} s per figure, {result['rounds']} rounds; ratios: median "
        "(quartiles) over pairs of neighbouring blocks of the same process"
    )
    print()
    print("| client | concurrency | puts/s | gets/s | put / raw grpc.aio | get / raw grpc.aio |")
    print("|---|---|---:|---:|---:|---:|")

    def ratio(name: str) -> str:
        if math.isnan(value := result.get(name, math.nan)):
            return "n/a"
        if f"{name}_q1" not in result:
            return f"{value:.2f}x"
        return f"{value:.2f}x ({result[f'{name}_q1']:.2f}-{result[f'{name}_q3']:.2f})"

    for name, info in CLIENTS.items():
        if f"{name}_available" not in result:
            continue
        way = f"{result['in_flight']} in flight" if info.concurrency == "async" else ""
        way = way or f"{result['threads']} threads"
        if not result[f"{name}_available"]:
            print(f"| {info.label} | {way} | not available | | | |")
            continue
        print(
            f"| {info.label} | {way} | {result[f'{name}_put_per_s']:,.0f} | "
            f"{result[f'{name}_get_per_s']:,.0f} | "
            + " | ".join(
                "1" if name == YARDSTICK else ratio(f"{name}_{op}_vs_grpc_aio") for op in OPERATIONS
            )
            + " |"
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
        ("kvstore async / EtcdStore (16 threads)", "kvstore_async_{}_vs_kvstore_sync", ">= 2"),
        ("EtcdStore / raw etcd3 (16 threads)", "kvstore_sync_{}_vs_etcd3_sync", ">= 0.95"),
        ("raw grpc.aio / raw etcd3 (16 threads)", "grpc_aio_{}_vs_etcd3_sync", ""),
    ]
    for label, pattern, target in rows:
        cells = [ratio(pattern.format(operation)) for operation in OPERATIONS]
        print(f"| {label} | {cells[0]} | {cells[1]} | {target} |")
    for name, why in result.get("notes", {}).items():
        print(f"\n{CLIENTS[name].label}: not measured: {why}")


def main(argv: list[str] | None = None) -> int:
    """Print the comparison as Markdown tables (or, with ``--worker``, measure one group)."""
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
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # a,b: one GROUPS entry
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
