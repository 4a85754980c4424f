"""``TracingStore`` overhead on etcd (SPEC 19), each figure beside its baseline in one run.

Sequential puts and gets of one small key, on one ``EtcdStore``:

- ``plain``: the store itself (the baseline);
- ``no-op``: ``TracingStore`` with OpenTelemetry's no-op tracer and meter providers (what
  an application that installs ``[otel]`` but no SDK gets; target <= 5% slower);
- ``sdk``: ``TracingStore`` with the SDK: every span sampled and exported in batches to
  an exporter that drops them, every duration recorded in an in-memory reader.

The three take turns in short rounds (so machine noise hits them alike), and each figure
is the median of its rounds. Run ``python benchmarks/bench_tracing.py`` (a throwaway etcd,
or ``$KVSTORE_ETCD_ENDPOINTS``); it prints a Markdown table.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_core import _rate  # noqa: E402 - after the path set-up

__all__ = ["bench_tracing", "main"]


def _sdk_providers() -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class _Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(_Drop()))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


def bench_tracing(endpoints: list[str], *, quick: bool = False) -> dict[str, Any]:
    """Puts and gets per second of each variant, and each traced one's overhead."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from kvstore.wrappers.tracing import TracingStore
    from kvstore_etcd import EtcdConfig, EtcdStore

    rounds = 5 if quick else 15
    seconds = 0.2 if quick else 0.4
    store = EtcdStore(EtcdConfig(endpoints=endpoints))
    tracer_provider, meter_provider = _sdk_providers()
    variants = {
        "plain": store,
        "no-op": TracingStore(
            store, tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
        ),
        "sdk": TracingStore(store, tracer_provider=tracer_provider, meter_provider=meter_provider),
    }
    result: dict[str, Any] = {}
    try:
        store.put("bench/tracing/k", b"v" * 16)
        for operation in ("put", "get"):
            calls: dict[str, Callable[[int], object]] = {}
            for name, variant in variants.items():
                if operation == "put":
                    calls[name] = lambda i, s=variant: s.put("bench/tracing/k", b"v" * 16)
                else:
                    calls[name] = lambda i, s=variant: s.get("bench/tracing/k")
            rates: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(rounds):
                for name, call in calls.items():
                    rates[name].append(_rate(call, seconds, 1_000_000))
            medians = {name: statistics.median(values) for name, values in rates.items()}
            plain = medians["plain"]
            result[operation] = {
                **{f"{name}_per_s": rate for name, rate in medians.items()},
                "noop_overhead_pct": (plain / medians["no-op"] - 1) * 100,
                "sdk_overhead_pct": (plain / medians["sdk"] - 1) * 100,
            }
    finally:
        store.close()
        tracer_provider.shutdown()
        meter_provider.shutdown()
    return result


def _rows(result: dict[str, Any]) -> list[str]:
    rows = [
        "| operation | EtcdStore | TracingStore, no-op provider | TracingStore, SDK |",
        "|---|---:|---:|---:|",
    ]
    for operation, figures in result.items():
        rows.append(
            f"| {operation} | {figures['plain_per_s']:,.0f}/s | "
            f"{figures['no-op_per_s']:,.0f}/s ({figures['noop_overhead_pct']:+.1f}%) | "
            f"{figures['sdk_per_s']:,.0f}/s ({figures['sdk_overhead_pct']:+.1f}%) |"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    from etcd_target import etcd_target

    with etcd_target() as target:
        result = bench_tracing(list(target.endpoints), quick=quick)
    print("\n".join(_rows(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
