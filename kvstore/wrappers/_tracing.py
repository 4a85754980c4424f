"""What ``TracingStore`` and ``AsyncTracingStore`` share: spans, metrics, event counters.

Both stores (``kvstore/_async/tracing.py`` and its generated twin) wrap each primitive in
``with self._telemetry.operation(...)``; everything OpenTelemetry is done here, once.
See ``kvstore.wrappers.tracing`` for what is recorded.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from kvstore.errors import ConfigurationError
from kvstore.plugins.events import hookimpl, register, unregister

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError as _missing:  # pragma: no cover - exercised by the bare-install test
    raise ConfigurationError(
        "TracingStore needs OpenTelemetry: pip install 'kvstore[otel]'", operation="open"
    ) from _missing

__all__ = ["EVENT_COUNTERS", "OPERATION_DURATION", "Telemetry", "Operation", "server_attributes"]

OPERATION_DURATION = "db.client.operation.duration"
"""The histogram of every primitive's duration in seconds (OpenTelemetry's name)."""

EVENT_COUNTERS: Mapping[str, str] = {
    "retry": "kvstore.client.retries",
    "endpoint_switch": "kvstore.client.endpoint_switches",
    "watch_resume": "kvstore.client.watch_resumes",
    "keepalive_lost": "kvstore.client.keepalive_losses",
    "lock_lost": "kvstore.client.lock_losses",
}
"""The counter of each ``kvstore.plugins.events`` event."""

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""The histogram's bucket bounds, as the database semantic conventions advise."""

_CLIENT = SpanKind.CLIENT
_INTERNAL = SpanKind.INTERNAL


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kvstore")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        return "0"


def _endpoint_owner(store: Any) -> Any:
    """The first store of ``store``'s ``inner`` chain that names its endpoint in use
    (``current_endpoint``: the etcd stores), or ``None``."""
    while store is not None:
        if isinstance(getattr(type(store), "current_endpoint", None), property):
            return store
        store = getattr(store, "inner", None)
    return None


def server_attributes(endpoint: str) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of ``"host:port"`` (``[v6]:port`` too)."""
    host, _, port = endpoint.rpartition(":")
    if host and port.isdigit():
        return {"server.address": host.strip("[]"), "server.port": int(port)}
    return {"server.address": endpoint}


def system_of(store: Any) -> str:
    """``db.system.name`` of a store: the innermost store's ``system_name`` attribute if it
    has one (``"sqlite"``, ``"postgresql"``: OpenTelemetry's names), else its class's name
    (``"etcd"``, ``"memory"`` ...)."""
    while getattr(store, "inner", None) is not None:
        store = store.inner
    declared = getattr(store, "system_name", None)
    if isinstance(declared, str) and declared:
        return declared
    name: str = type(store).__name__.lower().removeprefix("async").removesuffix("store")
    return name or "kvstore"


def _status_code(error: BaseException) -> str | None:
    """The backend's own status code of an error (etcd: the gRPC code), if it kept one."""
    cause = error.__cause__
    while cause is not None:
        code = getattr(cause, "code", None)
        if callable(code):
            try:
                value = code()
            except Exception:  # noqa: BLE001 - not a gRPC error after all
                return None
            name = getattr(value, "name", None)
            return name if isinstance(name, str) else None
        cause = cause.__cause__
    return None


class Operation:
    """One primitive's span and duration: ``with telemetry.operation(...) as op:``."""

    __slots__ = ("_attributes", "_start", "_telemetry", "_token", "span")

    def __init__(
        self, telemetry: Telemetry, name: str, attributes: dict[str, Any], keys: dict[str, str]
    ) -> None:
        self._telemetry = telemetry
        self._attributes = attributes  # the metric's: never a key (nor any high cardinality)
        span_attributes = {**attributes, **keys} if keys else attributes
        self.span = telemetry.tracer.start_span(name, kind=_CLIENT, attributes=span_attributes)
        # A no-op provider's span carries no context: nothing to make current then.
        self._token = (
            otel_context.attach(trace.set_span_in_context(self.span))
            if self.span.get_span_context().is_valid
            else None
        )
        self._start = time.perf_counter()

    def __enter__(self) -> Operation:
        return self

    def set(self, name: str, value: Any) -> None:
        """Record one more attribute on the span (never a value, never a key)."""
        self.span.set_attribute(name, value)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        telemetry = self._telemetry
        attributes = self._attributes
        span = self.span
        try:
            server = telemetry.server()
            if server:
                span.set_attributes(server)
                attributes = {**attributes, **server}
            if exc is not None:
                attributes = telemetry.failed(span, exc, attributes)
            telemetry.duration.record(elapsed, attributes)
        finally:
            span.end()
            if self._token is not None:
                otel_context.detach(self._token)


class Telemetry:
    """The tracer, meter and instruments of one tracing store.

    Args:
        store: The tracing store (its ``inner`` chain names the backend).
        tracer_provider: Where spans go (the global provider if ``None``).
        meter_provider: Where metrics go (the global provider if ``None``).
        record_keys: Record keys and range ends as span attributes.
        system: ``db.system.name`` (the backend's name if ``None``).
    """

    def __init__(
        self,
        store: Any,
        *,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        record_keys: bool,
        system: str | None,
    ) -> None:
        if not isinstance(record_keys, bool):
            raise ConfigurationError(
                f"TracingStore: record_keys must be True or False, not {record_keys!r}",
                operation="open",
            )
        if system is not None and (not isinstance(system, str) or not system):
            raise ConfigurationError(
                "TracingStore: system must be a non-empty name such as 'etcd'", operation="open"
            )
        self.record_keys = record_keys
        self.system = system if system is not None else system_of(store)
        self._store = store
        self._endpoint_owner = _endpoint_owner(store)
        self._servers: dict[str, dict[str, Any]] = {}
        version = _version()
        self.tracer = trace.get_tracer("kvstore", version, tracer_provider=tracer_provider)
        meter = metrics.get_meter("kvstore", version, meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            OPERATION_DURATION,
            unit="s",
            description="Duration of database client operations.",
            explicit_bucket_boundaries_advisory=list(_BUCKETS),
        )
        self.counters = {
            event: meter.create_counter(name, unit="{event}", description=f"kvstore {event} events")
            for event, name in EVENT_COUNTERS.items()
        }
        self._observer = _Observer(self)
        register(self._observer)

    def close(self) -> None:
        """Stop counting the store's events (the store closes)."""
        unregister(self._observer)

    def base(self, operation: str) -> dict[str, Any]:
        """The attributes every span and measurement of ``operation`` starts with."""
        return {"db.system.name": self.system, "db.operation.name": operation}

    def server(self) -> dict[str, Any]:
        """``server.address`` / ``server.port`` of the endpoint in use, if there is one.

        Read when a primitive ends: after a failover it names the endpoint that answered.
        """
        owner = self._endpoint_owner
        if owner is None:
            return {}
        endpoint = owner.current_endpoint
        attributes = self._servers.get(endpoint)
        if attributes is None:
            attributes = self._servers[endpoint] = server_attributes(endpoint)
        return attributes

    def operation(
        self, operation: str, key: str | None = None, range_end: str | None = None
    ) -> Operation:
        """Start the span of one primitive; the ``with`` block ends it and records it."""
        keys: dict[str, str] = {}
        if self.record_keys and key is not None:
            keys["kvstore.key"] = key
            if range_end is not None:
                keys["kvstore.range_end"] = range_end
        return Operation(self, operation, self.base(operation), keys)

    def failed(
        self, span: trace.Span, error: BaseException, attributes: dict[str, Any]
    ) -> dict[str, Any]:
        """Record ``error`` on ``span``; ``attributes`` with the error's, for the metric.

        The error's message is recorded only with ``record_keys`` (messages name keys).
        """
        kind = type(error)
        error_type = f"{kind.__module__}.{kind.__qualname__}"
        failure = {"error.type": error_type}
        code = _status_code(error)
        if code is not None:
            failure["db.response.status_code"] = code
        span.set_attributes(failure)
        if self.record_keys:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        else:
            span.set_status(Status(StatusCode.ERROR, kind.__name__))
        return {**attributes, **failure}

    def covers(self, store: object) -> bool:
        """Whether an event reported by ``store`` is about the traced store: ``store`` is
        the tracing store, below it (its backend), or above it (a wrapper of it)."""
        below: Any = self._store
        while below is not None:
            if below is store:
                return True
            below = getattr(below, "inner", None)
        above: Any = store
        while above is not None:
            if above is self._store:
                return True
            above = getattr(above, "inner", None)
        return False

    def event(self, event: str, attributes: dict[str, Any]) -> None:
        """Count ``event`` and record it on the current span (else on a span of its own)."""
        self.counters[event].add(1, {"db.system.name": self.system})
        name = f"kvstore.{event}"
        current = trace.get_current_span()
        if current.is_recording():
            current.add_event(name, attributes)
            return
        span = self.tracer.start_span(
            name, kind=_INTERNAL, attributes={"db.system.name": self.system}
        )
        span.add_event(name, attributes)
        span.end()


class _Observer:
    """The ``kvstore.plugins.events`` observer of one ``Telemetry`` (holding it weakly)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self._telemetry = weakref.ref(telemetry)

    def _take(self, store: object, event: str, attributes: dict[str, Any]) -> None:
        telemetry = self._telemetry()
        if telemetry is not None and telemetry.covers(store):
            telemetry.event(event, attributes)

    @hookimpl
    def kvstore_retry(self, store: object, operation: str, endpoint: str, reason: str) -> None:
        self._take(
            store,
            "retry",
            {
                "kvstore.operation": operation,
                "kvstore.endpoint": endpoint,
                "kvstore.reason": reason,
            },
        )

    @hookimpl
    def kvstore_endpoint_switch(self, store: object, previous: str, current: str) -> None:
        self._take(
            store,
            "endpoint_switch",
            {"kvstore.previous_endpoint": previous, "kvstore.endpoint": current},
        )

    @hookimpl
    def kvstore_watch_resume(self, store: object, watches: int, endpoint: str) -> None:
        self._take(
            store, "watch_resume", {"kvstore.watches": watches, "kvstore.endpoint": endpoint}
        )

    @hookimpl
    def kvstore_keepalive_lost(self, store: object, lease_id: int) -> None:
        self._take(store, "keepalive_lost", {"kvstore.lease": lease_id})

    @hookimpl
    def kvstore_lock_lost(self, store: object, kind: str) -> None:
        # the lock's name is an application's key material: like keys, not recorded
        self._take(store, "lock_lost", {"kvstore.recipe": kind})
