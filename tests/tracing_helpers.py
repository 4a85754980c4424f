"""Helpers for the tests of ``TracingStore`` (imported as a plain module, as recipe_helpers).

``Telemetry`` is an OpenTelemetry SDK tracer and meter provider with in-memory exporters,
and the readings the tests assert on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

CANARY_KEY = "canary/key-5f1d"
CANARY_VALUE = b"canary-value-9c2e"


class Telemetry:
    """SDK providers whose spans and metrics stay in memory for the test to read."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @property
    def providers(self) -> dict[str, Any]:
        """The keyword arguments of ``TracingStore`` that send everything here."""
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        """The finished spans (named ``name`` only, if given), oldest first."""
        spans = list(self.exporter.get_finished_spans())
        return [span for span in spans if name is None or span.name == name]

    def clear(self) -> None:
        self.exporter.clear()

    def points(self, metric: str) -> list[Any]:
        """The data points of ``metric`` collected now (cumulative since the start)."""
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend(item.data.data_points)
        return found

    def count(self, metric: str, **attributes: Any) -> int:
        """A counter's total, or a histogram's number of measurements, over the points
        whose attributes include ``attributes`` (dots in names written as ``__``)."""
        wanted = {name.replace("__", "."): value for name, value in attributes.items()}
        total = 0
        for point in self.points(metric):
            if wanted.items() <= dict(point.attributes).items():
                total += point.count if hasattr(point, "count") else point.value
        return total


def recorded_text(spans: Iterable[ReadableSpan]) -> str:
    """Everything the spans recorded, as one text: names, attributes, events, status."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(f"{name}={value!r}" for name, value in (span.attributes or {}).items())
        for event in span.events:
            parts.append(event.name)
            parts.extend(f"{name}={value!r}" for name, value in (event.attributes or {}).items())
        parts.append(str(span.status.description))
    return "\n".join(parts)
