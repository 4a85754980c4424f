"""Run every benchmark and write ``benchmarks/RESULTS.md`` and the plots.

    python benchmarks/run.py            # about 2-3 minutes on 2 cores
    python benchmarks/run.py --quick    # shorter measurements, for a smoke run

Starts a throwaway local etcd (``etcd_target.py``; or uses ``$KVSTORE_ETCD_ENDPOINTS``),
runs the core benchmarks (``bench_core.py``) on it and on ``MemoryStore``, then every
other ``bench_*.py`` that exists here (etcd overhead, encryption, locks, async clients),
and writes:

- ``RESULTS.md``: each figure beside its same-run baseline, as a ratio, the targets of
  SPEC sections 11 and 15 with pass/miss, and the machine (cores, CPU, Python, etcd
  version);
- ``throughput.png``: put/get throughput against the number of threads, and of each
  async client at 64 in flight beside the sync ones at 16 threads;
- ``latency.png``: latency percentiles (put, get, put-to-watch-event).

A benchmark module that fails is reported in ``RESULTS.md`` and does not stop the others.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import importlib
import inspect
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

import bench_core  # noqa: E402 - after the path set-up, so the script runs from anywhere
from etcd_target import etcd_target  # noqa: E402

import kvstore  # noqa: E402
from kvstore.base import BaseStore  # noqa: E402
from kvstore_memory import MemoryStore  # noqa: E402

Figures = dict[str, float]

OPTIONAL_MODULES = (
    "bench_etcd_overhead",
    "bench_encryption",
    "bench_lock",
    "bench_async",
    "bench_streams",
    "bench_mirror",
    "bench_tracing",
    "bench_sql",
    "bench_cpu",
)
"""Benchmarks written beside this one; each exposes ``bench_<name>(...)`` and ``main``."""


class Progress:
    """Numbered stage lines with timings on stderr, so a long run shows where it is."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.started = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self.done += 1
        prefix = f"[{self.done:>2}/{self.total}] {label}"
        sys.stderr.write(f"{prefix} ...")
        sys.stderr.flush()
        begin = time.perf_counter()
        try:
            yield
        except Exception:
            sys.stderr.write(" FAILED\n")
            raise
        total = time.perf_counter() - self.started
        sys.stderr.write(f" {time.perf_counter() - begin:.1f}s (total {total:.0f}s)\n")
        sys.stderr.flush()


# ---------------------------------------------------------------------------- machine


def cpu_model() -> str:
    """The CPU model name (from ``/proc/cpuinfo`` on Linux), else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def machine(etcd_version: str) -> dict[str, str]:
    """The facts a reader needs to compare figures across machines."""
    return {
        "CPU": cpu_model(),
        "cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "OS": f"{platform.system()} {platform.release()}",
        "etcd": etcd_version,
        "kvstore": kvstore.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# ---------------------------------------------------------------------------- optional modules


def _load(name: str) -> Any | None:
    if not (HERE / f"{name}.py").exists():
        return None
    return importlib.import_module(name)


def _call_optional(
    function: Callable[..., Any],
    stores: dict[str, BaseStore],
    endpoints: list[str],
    *,
    quick: bool = False,
) -> dict[str, Figures]:
    """Call ``bench_<name>`` with what its signature asks for; results by store name.
    ``quick`` is passed on to a function with a ``quick`` keyword."""
    parameters = inspect.signature(function).parameters
    if "quick" in parameters:
        function = functools.partial(function, quick=quick)
    names = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
    ]
    if names[:1] == ["store"]:
        return {label: _flatten(function(store)) for label, store in stores.items()}
    if names[:1] == ["endpoints"]:
        return {"etcd": _flatten(function(endpoints))}
    if names[:1] == ["url"]:
        return {"etcd": _flatten(function(f"etcd://{','.join(endpoints)}"))}
    if not names:
        keyword = {"endpoints": endpoints} if "endpoints" in parameters else {}
        return {"etcd" if keyword else "result": _flatten(function(**keyword))}
    raise TypeError(f"{function.__name__}{inspect.signature(function)}: unknown parameters")


def _flatten(result: Any, prefix: str = "") -> Figures:
    """``{"a": 1, "b": {"c": 2}}`` -> ``{"a": 1.0, "b.c": 2.0}``; non-numbers are dropped."""
    figures: Figures = {}
    if hasattr(result, "__attrs_attrs__") or hasattr(result, "__dataclass_fields__"):
        result = {name: getattr(result, name) for name in vars(type(result)) if name[0] != "_"}
    if isinstance(result, dict):
        for key, value in result.items():
            figures.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(result, int | float) and not isinstance(result, bool):
        figures[prefix.rstrip(".")] = float(result)
    return figures


# ---------------------------------------------------------------------------- report


def _fmt(value: float) -> str:
    if value != value:  # NaN: not measured
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _find(figures: Figures, *candidates: str) -> float | None:
    """The first of ``candidates`` present in ``figures`` (names of optional modules vary)."""
    for name in candidates:
        if name in figures:
            return figures[name]
    return None


def targets(results: dict[str, dict[str, Figures]]) -> list[tuple[str, str, str, str, bool | None]]:
    """Rows ``(target, measured, baseline, ratio, met)`` for SPEC section 11's targets."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    core_etcd = results.get("core", {})
    bulk = core_etcd.get("etcd bulk_put", {})
    if bulk:
        rows.append(
            (
                "bulk_put of 10,000 keys >= 20x faster than a put loop (etcd)",
                f"{_fmt(bulk['bulk_seconds'])} s",
                f"put loop {_fmt(bulk['loop_seconds'])} s",
                f"{bulk['bulk_speedup']:.1f}x faster",
                bulk["bulk_speedup"] >= 20,
            )
        )
    memory = core_etcd.get("memory vs locked dict", {})
    if memory:
        rows.append(
            (
                "MemoryStore get >= 200,000 ops/s on one thread",
                f"{_fmt(memory['memory_get_per_s'])} ops/s",
                f"locked dict {_fmt(memory['dict_get_per_s'])} ops/s",
                f"{memory['get_vs_dict']:.2f}x the dict",
                memory["memory_get_per_s"] >= 200_000,
            )
        )
    threads = core_etcd.get("etcd threads", {})
    if threads:
        rows.append(
            (
                "16 threads on one store >= 2x the 1-thread put throughput (etcd)",
                f"{_fmt(threads['put_per_s_16'])} puts/s",
                f"1 thread {_fmt(threads['put_per_s_1'])} puts/s",
                f"{threads['put_scaling_16']:.2f}x",
                threads["put_scaling_16"] >= 2,
            )
        )
    overhead = results.get("etcd overhead", {}).get("etcd", {})
    for operation in ("get", "put"):
        row = _ratio_row(
            overhead,
            operation,
            f"EtcdStore {operation} overhead vs raw etcd3 <= 10%",
            limit=1.10,
            measured=("store", "wrapper", "kvstore"),
            baseline=("raw", "etcd3"),
        )
        if row is not None:
            rows.append(row)
    rows += _async_rows(results.get("async clients", {}).get("etcd", {}))
    rows += _stream_rows(results.get("streams", {}).get("etcd", {}))
    rows += _mirror_rows(results.get("mirror", {}).get("etcd", {}))
    rows += _tracing_rows(results.get("tracing", {}).get("etcd", {}))
    rows += sql_rows(results.get("sql", {}).get("etcd", {}))
    cpu = results.get("client CPU per operation", {}).get("etcd", {})
    if cpu:
        import bench_cpu

        rows += bench_cpu.targets(cpu)
    for label, figures in results.get("encryption", {}).items():
        for operation in ("put", "get"):
            row = _ratio_row(
                figures,
                operation,
                f"encryption {operation} overhead on 1 KiB values <= 15% ({label})",
                limit=1.15,
                measured=("encrypted",),
                baseline=("plain",),
            )
            if row is not None:
                if label != "etcd":  # the target is about etcd; this is CPU cost alone
                    name = f"encryption {operation} cost on 1 KiB values ({label}, no target)"
                    row = (name, *row[1:4], None)
                rows.append(row)
    return rows


def _stream_rows(figures: Figures) -> list[tuple[str, str, str, str, bool | None]]:
    """SPEC section 16's targets from ``bench_streams``'s figures, python-etcd3 beside."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    group = "watches_10000"
    peer_setup = figures.get(f"{group}.etcd3.setup_s", math.nan)
    peer_rss = figures.get(f"{group}.etcd3.rss_mb", math.nan)
    for client, label in (("kvstore", "EtcdStore"), ("kvstore_async", "AsyncEtcdStore")):
        setup = figures.get(f"{group}.{client}.setup_s")
        rss = figures.get(f"{group}.{client}.rss_mb")
        if setup is None or rss is None:
            continue
        rows.append(
            (
                f"{label}: 10,000 watches created in < 10 s",
                f"{setup:.2f} s",
                f"python-etcd3 {peer_setup:.2f} s",
                f"{setup / peer_setup:.2f}x its time",
                setup < 10,
            )
        )
        rows.append(
            (
                f"{label}: 10,000 watches in < 300 MB resident",
                f"{rss:.0f} MB",
                f"python-etcd3 {peer_rss:.0f} MB",
                f"{rss / peer_rss:.2f}x",
                rss < 300,
            )
        )
    threads = figures.get(f"{group}.kvstore.threads")
    if threads is not None:
        rows.append(
            (
                "EtcdStore: at most 8 threads with 10,000 watches",
                f"{threads:.0f} threads",
                f"python-etcd3 {figures.get(f'{group}.etcd3.threads', math.nan):.0f}",
                "",
                threads <= 8,
            )
        )
    batch = figures.get("keepalive.stream_per_lease_us")
    once = figures.get("keepalive.once_per_lease_us")
    if batch is not None and once is not None:
        rows.append(
            (
                "keep-alive of 10,000 leases on one stream (no target)",
                f"{batch:.0f} µs a lease",
                f"one call a lease {once:.0f} µs",
                f"{once / batch:.1f}x faster",
                None,
            )
        )
    return rows


def _mirror_rows(figures: Figures) -> list[tuple[str, str, str, str, bool | None]]:
    """SPEC section 17's targets from ``bench_mirror``'s figures."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    speedup = figures.get("read.speedup")
    if speedup is not None:
        rows.append(
            (
                "mirror.get >= 100x store.get (etcd)",
                f"{_fmt(figures['read.mirror_get_per_s'])} gets/s",
                f"store.get {_fmt(figures['read.store_get_per_s'])} gets/s",
                f"{speedup:,.0f}x",
                speedup >= 100,
            )
        )
    p50 = figures.get("visible.visible_p50_ms")
    if p50 is not None:
        rows.append(
            (
                "put acknowledged to visible in a mirror, p50 / p99 (no target)",
                f"{p50:.2f} / {figures['visible.visible_p99_ms']:.2f} ms",
                f"the put: {figures['visible.put_p50_ms']:.2f} / "
                f"{figures['visible.put_p99_ms']:.2f} ms",
                "",
                None,
            )
        )
    sync = figures.get("initial sync.mirror_sync_s")
    if sync is not None:
        rows.append(
            (
                f"initial sync of {_fmt(figures['initial sync.keys'])} keys (no target)",
                f"{sync:.2f} s",
                f"get_multiple {figures['initial sync.get_multiple_s']:.2f} s",
                f"{figures['initial sync.sync_vs_get_multiple']:.2f}x",
                None,
            )
        )
    return rows


_SQL_TARGETS: tuple[tuple[str, str, float | None], ...] = (
    ("put", "insert", 1.5),
    ("get", "select", 1.3),
    ("txn", "swap", None),
)
"""SPEC 22's ratios to the raw driver: operation, raw call, the most allowed (none: no
target)."""

_SQL_RAW_CALLS = {
    "insert": "one-row INSERT + COMMIT",
    "select": "primary-key SELECT",
    "swap": "SELECT + UPDATE + COMMIT",
}


def sql_rows(figures: Figures) -> list[tuple[str, str, str, str, bool | None]]:
    """SPEC section 22's targets from ``bench_sql``'s figures."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    names = {"sqlite": "SQLiteStore", "postgresql": "PostgresStore"}
    for database, store in names.items():
        for operation, raw, limit in _SQL_TARGETS:
            ratio = figures.get(f"{database}_{operation}_vs_raw_{raw}")
            if ratio is None:
                continue
            measured = figures[f"{operation}.{database}.p50_us"]
            baseline = figures[f"{operation}.raw_{database}.p50_us"]
            what = _SQL_RAW_CALLS[raw]
            rows.append(
                (
                    f"{store} {operation} p50 <= {limit}x a raw {what}"
                    if limit is not None
                    else f"{store} {operation} (a version compare, then a put) beside a raw "
                    f"{what} (no target)",
                    f"{_fmt(measured)} µs",
                    f"raw {_fmt(baseline)} µs",
                    f"{ratio:.2f}x",
                    None if limit is None else ratio <= limit,
                )
            )
            floor = figures.get(f"{database}_{operation}_floor_vs_raw_{raw}")
            if floor is not None:
                rows.append(
                    (
                        f"{store} {operation}: its own SQL through the raw driver in the "
                        "fewest round trips (the floor; no target)",
                        f"floor {_fmt(figures[f'{operation}.floor_{database}.p50_us'])} µs",
                        f"raw {_fmt(baseline)} µs",
                        f"floor {floor:.2f}x raw, store "
                        f"{figures[f'{database}_{operation}_vs_floor']:.2f}x floor",
                        None,
                    )
                )
        p99 = figures.get(f"watch.{database}.p99_ms")
        if p99 is not None:
            rows.append(
                (
                    f"{store} watch delivery across processes, p99 <= 50 ms (p50 / p99)",
                    f"{figures[f'watch.{database}.p50_ms']:.1f} / {p99:.1f} ms",
                    f"etcd {figures['watch.etcd.p50_ms']:.1f} / "
                    f"{figures['watch.etcd.p99_ms']:.1f} ms",
                    "",
                    p99 <= 50,
                )
            )
    for operation in ("put", "get", "txn"):
        if f"{operation}.sqlite.p50_us" not in figures:
            continue
        rows.append(
            (
                f"{operation} p50 / p99 and client CPU per call: SQLite, PostgreSQL (no target)",
                " ; ".join(
                    f"{figures[f'{operation}.{db}.p50_us']:,.0f} / "
                    f"{figures[f'{operation}.{db}.p99_us']:,.0f} µs, "
                    f"{figures[f'{operation}.{db}.cpu_us']:,.0f} µs CPU"
                    for db in names
                ),
                f"etcd {figures[f'{operation}.etcd.p50_us']:,.0f} / "
                f"{figures[f'{operation}.etcd.p99_us']:,.0f} µs, "
                f"{figures[f'{operation}.etcd.cpu_us']:,.0f} µs CPU",
                "",
                None,
            )
        )
    size = figures.get("size.file_bytes")
    if size is not None:
        rows.append(
            (
                f"SQLite file after {_fmt(figures['size.overwrites'])} overwrites of "
                f"{_fmt(figures['size.keys'])} keys, auto_compact=1000 (no target)",
                f"{size / 2**20:.2f} MiB + WAL {figures['size.wal_bytes'] / 2**20:.2f} MiB",
                f"live data {figures['size.live_bytes'] / 2**10:.0f} KiB",
                "",
                None,
            )
        )
    return rows


def _tracing_rows(figures: Figures) -> list[tuple[str, str, str, str, bool | None]]:
    """SPEC section 19's target from ``bench_tracing``'s figures."""
    rows: list[tuple[str, str, str, str, bool | None]] = []
    for operation in ("put", "get"):
        noop = figures.get(f"{operation}.noop_overhead_pct")
        if noop is None:
            continue
        plain = _fmt(figures[f"{operation}.plain_per_s"])
        rows.append(
            (
                f"TracingStore {operation} overhead, no-op provider <= 5% (etcd)",
                f"{_fmt(figures[f'{operation}.no-op_per_s'])} {operation}s/s",
                f"EtcdStore {plain} {operation}s/s",
                f"{noop:+.1f}%",
                noop <= 5,
            )
        )
        rows.append(
            (
                f"TracingStore {operation} overhead, SDK exporting every span (no target)",
                f"{_fmt(figures[f'{operation}.sdk_per_s'])} {operation}s/s",
                f"EtcdStore {plain} {operation}s/s",
                f"{figures[f'{operation}.sdk_overhead_pct']:+.1f}%",
                None,
            )
        )
    return rows


ASYNC_LABELS = {
    "kvstore_async": "kvstore async",
    "grpc_aio": "raw grpc.aio",
    "aetcd": "aetcd",
    "etcd3aio": "etcd3aio",
    "etcd_client_py": "etcd-client-py",
    "kvstore_sync": "EtcdStore",
    "etcd3_sync": "raw etcd3",
}
"""``bench_async``'s clients, by the name its figures carry."""


def _async_rows(figures: Figures) -> list[tuple[str, str, str, str, bool | None]]:
    """SPEC section 15's targets from ``bench_async``'s figures (none when it did not run)."""
    if not figures:
        return []
    in_flight, threads = int(figures["in_flight"]), int(figures["threads"])

    def rate(name: str, operation: str) -> float:
        value = figures.get(f"{name}_{operation}_per_s", math.nan)
        return value if figures.get(f"{name}_available") else math.nan

    def shown(name: str, operation: str) -> str:
        value = rate(name, operation)
        return "not available" if math.isnan(value) else f"{_fmt(value)} {operation}s/s"

    def ratio_of(measured: str, baseline: str, operation: str) -> float:
        # the module's ratio: a median of per-round ratios, not a ratio of the medians
        return figures.get(f"{measured}_{operation}_vs_{baseline}", math.nan)

    def row(
        target: str, operation: str, measured: str, baseline: str, limit: float
    ) -> tuple[str, str, str, str, bool | None]:
        ratio = ratio_of(measured, baseline, operation)
        label = ASYNC_LABELS[baseline]
        if baseline.endswith("_sync"):
            label += f", {threads} threads"
        text = "n/a" if math.isnan(ratio) else f"{ratio:.2f}x"
        quartiles = f"{measured}_{operation}_vs_{baseline}_q1"
        if not math.isnan(ratio) and quartiles in figures:  # measured in one process
            text += f" (quartiles {figures[quartiles]:.2f}-{figures[quartiles[:-1] + '3']:.2f})"
        return (
            target,
            shown(measured, operation),
            f"{label}: {shown(baseline, operation)}",
            text,
            None if math.isnan(ratio) else ratio >= limit,
        )

    rows: list[tuple[str, str, str, str, bool | None]] = []
    peers = ("aetcd", "etcd3aio", "etcd_client_py")
    for operation in ("put", "get"):
        measured = [peer for peer in peers if not math.isnan(rate(peer, operation))]
        missing = [ASYNC_LABELS[peer] for peer in peers if peer not in measured]
        ratio = math.nan
        baseline = "no peer measured"
        if measured:
            # the strongest peer: the best rate relative to the raw grpc.aio measured beside
            # it (peers run in processes of their own; their ratios go through grpc.aio)
            def strength(peer: str, operation: str = operation) -> float:
                value = ratio_of(peer, "grpc_aio", operation)
                return -math.inf if math.isnan(value) else value

            best = max(measured, key=strength)
            baseline = f"strongest peer, {ASYNC_LABELS[best]}: {shown(best, operation)}"
            ratio = ratio_of("kvstore_async", best, operation)
        if missing:
            baseline += f" ({', '.join(missing)} not measured)"
        rows.append(
            (
                f"kvstore async {operation}s, {in_flight} in flight >= every async peer "
                "(aetcd, etcd3aio, etcd-client-py)",
                shown("kvstore_async", operation),
                baseline,
                "n/a" if math.isnan(ratio) else f"{ratio:.2f}x",
                None if math.isnan(ratio) or missing else ratio >= 1,
            )
        )
    async_target = f"kvstore async {{}}s, {in_flight} in flight"
    sync_target = f"EtcdStore {{}}s at {threads} threads"
    for target, measured_name, baseline_name, limit in (
        (f"{async_target} >= 0.95x raw grpc.aio stubs", "kvstore_async", "grpc_aio", 0.95),
        (f"{async_target} >= 2x {sync_target}", "kvstore_async", "kvstore_sync", 2.0),
        (f"{sync_target} >= 0.95x raw etcd3 (overhead <= 5%)", "kvstore_sync", "etcd3_sync", 0.95),
    ):
        for operation in ("put", "get"):
            rows.append(
                row(
                    target.format(operation, operation),
                    operation,
                    measured_name,
                    baseline_name,
                    limit,
                )
            )
    return rows


def _ratio_row(
    figures: Figures,
    operation: str,
    target: str,
    *,
    limit: float,
    measured: tuple[str, ...],
    baseline: tuple[str, ...],
) -> tuple[str, str, str, str, bool | None] | None:
    """A target row from a module's figures: a ``{operation}...ratio`` (or ``overhead``)
    figure, read as "time with / time without" when above 0.5, else as a fraction."""
    ratio = next(
        (
            value
            for name, value in figures.items()
            if name.startswith(operation) and ("ratio" in name or "overhead" in name)
        ),
        None,
    )
    if ratio is None:
        return None
    if ratio < 0.5:  # an overhead fraction (0.05), not a ratio (1.05)
        ratio += 1

    def rate(words: tuple[str, ...]) -> str:
        for name, value in figures.items():
            # nested figures (``threads.*``) belong to other measurements of the module
            if "." in name or operation not in name or not any(word in name for word in words):
                continue
            if "per_s" in name:
                return f"{_fmt(value)} ops/s"
            if name.endswith("_us"):
                return f"{_fmt(value)} µs/call"
        return ""

    return (
        target,
        rate(measured),
        rate(baseline),
        f"{(ratio - 1) * 100:+.1f}%",
        ratio <= limit,
    )


def render(
    info: dict[str, str],
    results: dict[str, dict[str, Figures]],
    failures: dict[str, str],
    elapsed: float,
) -> str:
    """The Markdown of ``RESULTS.md``."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `python benchmarks/run.py` (do not edit by hand). Every figure is",
        "measured beside its baseline in the same run; ratios compare the two.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in info.items()],
        f"| run time | {elapsed:.0f} s |",
        "",
        "## Targets (SPEC sections 11, 15, 16, 17, 22 and 23)",
        "",
        "| target | measured | baseline (same run) | ratio | met |",
        "|---|---:|---:|---:|:---:|",
    ]
    for target, measured, baseline, ratio, met in targets(results):
        mark = "n/a" if met is None else "yes" if met else "no"
        lines.append(f"| {target} | {measured} | {baseline} | {ratio} | {mark} |")
    lines += ["", "Plots: [throughput.png](throughput.png), [latency.png](latency.png).", ""]
    for group, tables in results.items():
        lines += [f"## {group}", ""]
        for label, figures in tables.items():
            lines += [f"### {label}", "", "| figure | value |", "|---|---:|"]
            lines += [f"| {name} | {_fmt(value)} |" for name, value in figures.items()]
            lines.append("")
    if failures:
        lines += ["## Benchmarks that failed", ""]
        lines += [f"- `{name}`: {why}" for name, why in failures.items()]
        lines.append("")
    lines += [
        "## Reading the figures",
        "",
        "- `*_per_s`: operations per second; `*_p50_ms` / `*_p99_ms`: latency percentiles.",
        "- `*_scaling_N`: throughput with N threads over the 1-thread throughput.",
        "- `bulk_speedup`: time of a put loop over time of `bulk_put` (`atomic=False`,",
        "  transactions of 128 puts) for the same 10,000 keys; a loop cut short by its time",
        "  bound is extrapolated (`loop_keys_measured`).",
        "- `get_vs_dict` / `put_vs_dict`: MemoryStore over a dict behind a `threading.Lock`.",
        "- MemoryStore serialises every call on one lock and pays for history, revisions and",
        "  watches, so threads do not speed it up (the GIL too); etcd calls wait on the",
        "  network and the disk, so threads overlap them.",
        "- async clients (`bench_async.py`): one event loop, one connection each, 64 calls in",
        "  flight, 256-byte values; the sync clients (`kvstore_sync` = `EtcdStore`,",
        "  `etcd3_sync` = raw `etcd3`) with 16 threads sharing one client. aetcd, etcd3aio and",
        "  etcd3 cannot share a process (each registers etcd's protos in protobuf's default",
        "  pool), so each peer runs in a process of its own, and raw grpc.aio runs in every",
        "  process as the yardstick, taking turns with the client(s) by blocks of 500 calls.",
        "  `A_op_vs_B` is A's rate over B's: for two clients of one process, the median of",
        "  the ratios of neighbouring blocks (`_q1`/`_q3` their quartiles: the noise); across",
        "  processes, through the yardstick. `*_available` 0: not measured (the client is",
        "  not installed, or cannot be imported).",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Figures]], thread_counts: tuple[int, ...]) -> list[Path]:
    """Write ``throughput.png`` and ``latency.png``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    core = results.get("core", {})
    written: list[Path] = []
    clients = results.get("async clients", {}).get("etcd", {})
    if clients:
        figure, (axes, client_axes) = plt.subplots(
            1, 2, figsize=(14, 4.8), gridspec_kw={"width_ratios": [1, 1.4]}
        )
        _plot_clients(client_axes, clients)
    else:
        figure, axes = plt.subplots(figsize=(7, 4.5))
    for store in ("etcd", "memory"):
        figures = core.get(f"{store} threads")
        if not figures:
            continue
        for operation, style in (("put", "-o"), ("get", "--s")):
            axes.plot(
                list(thread_counts),
                [figures[f"{operation}_per_s_{n}"] for n in thread_counts],
                style,
                label=f"{store} {operation}",
            )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xticks(list(thread_counts), [str(n) for n in thread_counts])
    axes.set_xlabel("threads sharing one store")
    axes.set_ylabel("operations per second (log)")
    axes.set_title("Throughput vs threads")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = HERE / "throughput.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)

    series: list[tuple[str, list[float]]] = []
    for store in ("etcd", "memory"):
        threads = core.get(f"{store} threads", {})
        watch = core.get(f"{store} watch", {})
        for operation in ("put", "get"):
            if f"{operation}_p50_ms_1" in threads:
                series.append(
                    (
                        f"{store} {operation}",
                        [threads[f"{operation}_{p}_ms_1"] for p in ("p50", "p90", "p99")],
                    )
                )
        if "event_p50_ms" in watch:
            series.append(
                (
                    f"{store} put-to-event",
                    [watch[f"event_{p}_ms"] for p in ("p50", "p90", "p99")],
                )
            )
    figure, axes = plt.subplots(figsize=(8, 4.5))
    width = 0.25
    for offset, (percentile, color) in enumerate(
        (("p50", "tab:blue"), ("p90", "tab:orange"), ("p99", "tab:red"))
    ):
        axes.bar(
            [index + (offset - 1) * width for index in range(len(series))],
            [values[offset] for _, values in series],
            width,
            label=percentile,
            color=color,
        )
    axes.set_xticks(range(len(series)), [name for name, _ in series], rotation=20)
    axes.set_yscale("log")
    axes.set_ylabel("milliseconds (log)")
    axes.set_title("Latency percentiles (one thread)")
    axes.grid(True, axis="y", which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path = HERE / "latency.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    written.append(path)
    return written


def _plot_clients(axes: Any, figures: Figures) -> None:
    """Bars of each ``bench_async`` client's put and get rate on one etcd."""
    names = list(ASYNC_LABELS)
    in_flight, threads = int(figures["in_flight"]), int(figures["threads"])
    width = 0.38
    for offset, (operation, color) in enumerate((("put", "tab:blue"), ("get", "tab:orange"))):
        positions = [index + (offset - 0.5) * width for index in range(len(names))]
        values = [
            figures.get(f"{name}_{operation}_per_s", math.nan)
            if figures.get(f"{name}_available")
            else 0.0
            for name in names
        ]
        axes.bar(positions, values, width, label=f"{operation}s/s", color=color)
    for index, name in enumerate(names):
        if not figures.get(f"{name}_available"):
            axes.text(index, 0, "not\navailable", ha="center", va="bottom", fontsize=8)
    axes.set_xticks(
        range(len(names)),
        [
            f"{ASYNC_LABELS[name]}\n"
            + (f"{threads} threads" if name.endswith("_sync") else f"{in_flight} in flight")
            for name in names
        ],
        fontsize=8,
    )
    axes.set_ylabel("operations per second")
    axes.set_title(
        f"Clients on one etcd: async at {in_flight} in flight, sync at {threads} threads"
    )
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend()


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, write ``RESULTS.md`` and the plots.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0, or 1 when a benchmark failed.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="short measurements (smoke run)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    scale = 0.3 if args.quick else 1.0
    thread_counts = (1, 4, 16)
    optional = {name: module for name in OPTIONAL_MODULES if (module := _load(name)) is not None}
    progress = Progress(total=8 + len(optional))
    started = time.perf_counter()
    results: dict[str, dict[str, Figures]] = {"core": {}}
    failures: dict[str, str] = {}
    core = results["core"]

    with contextlib.ExitStack() as stack:
        with progress.stage("starting a throwaway etcd"):
            target = stack.enter_context(etcd_target())
        endpoints = target.endpoints
        info = machine(target.version)
        etcd_store = stack.enter_context(kvstore.open(target.url))
        memory_store = stack.enter_context(MemoryStore())
        stores: dict[str, BaseStore] = {"memory": memory_store, "etcd": etcd_store}

        with progress.stage("memory store vs locked dict"):
            core["memory vs locked dict"] = bench_core.bench_memory_vs_dict(seconds=0.5 * scale)
        with progress.stage("bulk_put 10,000 keys vs put loop (memory, etcd)"):
            core["memory bulk_put"] = bench_core.bench_bulk_put(memory_store)
            core["etcd bulk_put"] = bench_core.bench_bulk_put(etcd_store, loop_seconds=10 * scale)
        for label, store in stores.items():
            with progress.stage(f"threads 1/4/16 ({label})"):
                core[f"{label} threads"] = bench_core.bench_threads(
                    store,
                    thread_counts=thread_counts,
                    seconds=(1.0 if label == "etcd" else 0.4) * scale,
                )
        for label, store in stores.items():
            with progress.stage(f"watch delivery and latency ({label})"):
                core[f"{label} watch"] = bench_core.bench_watch(store, seconds=3 * scale)

        names = {
            "bench_etcd_overhead": "etcd overhead",
            "bench_encryption": "encryption",
            "bench_lock": "locks",
            "bench_async": "async clients",
            "bench_streams": "streams",
            "bench_mirror": "mirror",
            "bench_tracing": "tracing",
            "bench_sql": "sql",
            "bench_cpu": "client CPU per operation",
        }
        for name, module in optional.items():
            function = getattr(module, name, None)
            with progress.stage(f"{name}"):
                try:
                    if function is None:
                        raise AttributeError(f"{name}.py has no function {name}()")
                    results[names[name]] = _call_optional(
                        function, stores, endpoints, quick=args.quick
                    )
                except Exception as exc:  # noqa: BLE001 - one broken module must not stop the run
                    failures[name] = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc(file=sys.stderr)

    with progress.stage("plots and RESULTS.md"):
        plot(results, thread_counts)
        missing = [name for name in OPTIONAL_MODULES if name not in optional]
        for name in missing:
            failures[name] = "not found in benchmarks/ (not written yet?)"
        args.output.write_text(
            render(info, results, failures, time.perf_counter() - started), encoding="utf-8"
        )
    sys.stderr.write(f"wrote {args.output}, throughput.png and latency.png\n")
    return 1 if any("not found" not in why for why in failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
