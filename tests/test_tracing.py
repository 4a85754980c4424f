"""``TracingStore`` / ``AsyncTracingStore`` on MemoryStore, read with the SDK's in-memory
exporters: one span per primitive, its attributes, errors, metrics, events, no secrets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from tracing_helpers import CANARY_KEY, CANARY_VALUE, Telemetry, recorded_text

import kvstore
from kvstore.base import AsyncBaseStore
from kvstore.errors import ConfigurationError, KeyNotFoundError, LeaseNotFoundError
from kvstore.plugins import events
from kvstore.plugins.hookspecs import hookimpl
from kvstore.testing._sync._support import wait_until
from kvstore.txn import Put, Version
from kvstore.wrappers import CompressedStore, NamespacedStore
from kvstore.wrappers.tracing import (
    EVENT_COUNTERS,
    OPERATION_DURATION,
    AsyncTracingStore,
    TracingStore,
)
from kvstore_memory import AsyncMemoryStore, ManualClock, MemoryStore


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def traced(telemetry: Telemetry) -> Iterator[TracingStore]:
    store = TracingStore(MemoryStore(), **telemetry.providers)
    yield store
    store.close()


def _lease(store: TracingStore) -> int:
    return store.lease_grant(30).id


PRIMITIVES: dict[str, Callable[[TracingStore], object]] = {
    "Range": lambda store: store.kv_range("a"),
    "Put": lambda store: store.put("a", b"1"),
    "DeleteRange": lambda store: store.delete("a"),
    "Txn": lambda store: store.transaction().if_(Version("a") == 0).then(Put("a", b"1")).commit(),
    "Watch": lambda store: store.watch("a").cancel(),
    "LeaseGrant": lambda store: store.lease_grant(5),
    "LeaseRevoke": lambda store: store.lease_revoke(_lease(store)),
    "LeaseKeepAlive": lambda store: store.lease_keepalive_once(_lease(store)),
    "LeaseTimeToLive": lambda store: store.lease_time_to_live(_lease(store)),
    "LeaseLeases": lambda store: store.lease_leases(),
    "Compact": lambda store: store.compact_revision(store.put("c", b"1")),
    "Status": lambda store: store.status(),
    "MemberList": lambda store: store.member_list(),
    "Defragment": lambda store: store.defragment(),
    "Alarm": lambda store: store.alarms(),
    "HashKV": lambda store: store.hash_kv(),
}


@pytest.mark.parametrize("operation", list(PRIMITIVES))
def test_each_primitive_is_one_client_span_named_by_the_conventions(
    traced: TracingStore, telemetry: Telemetry, operation: str
) -> None:
    PRIMITIVES[operation](traced)
    spans = telemetry.spans(operation)
    # helpers (a lease to revoke, a put to compact to) make spans of their own names
    assert len(spans) == 1, [span.name for span in telemetry.spans()]
    span = spans[0]
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert span.attributes is not None
    assert span.attributes["db.system.name"] == "memory"
    assert span.attributes["db.operation.name"] == operation
    assert "server.address" not in span.attributes  # a MemoryStore has no server
    assert telemetry.count(OPERATION_DURATION, db__operation__name=operation) == 1


def test_reads_and_transactions_record_what_they_returned(
    traced: TracingStore, telemetry: Telemetry
) -> None:
    traced.put("p/1", b"1")
    traced.put("p/2", b"2")
    telemetry.clear()
    assert len(traced.list("p/")) == 2
    traced.transaction().if_(Version("p/1") == 0).then(Put("x", b"1")).else_().commit()
    (read,) = telemetry.spans("Range")
    assert read.attributes is not None and read.attributes["db.response.returned_rows"] == 2
    (txn,) = telemetry.spans("Txn")
    assert txn.attributes is not None
    assert txn.attributes["kvstore.txn.succeeded"] is False
    assert txn.attributes["db.operation.batch.size"] == 1


def test_an_error_is_recorded_with_its_kvstore_type_on_span_and_metric(
    traced: TracingStore, telemetry: Telemetry
) -> None:
    with pytest.raises(LeaseNotFoundError):
        traced.lease_revoke(0x1234)
    (span,) = telemetry.spans("LeaseRevoke")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "kvstore.errors.LeaseNotFoundError"
    assert "db.response.status_code" not in span.attributes  # the fake has no status codes
    assert (
        telemetry.count(
            OPERATION_DURATION,
            db__operation__name="LeaseRevoke",
            error__type="kvstore.errors.LeaseNotFoundError",
        )
        == 1
    )


def test_bad_input_is_refused_before_any_request_and_traces_nothing(
    traced: TracingStore, telemetry: Telemetry
) -> None:
    with pytest.raises(kvstore.errors.InvalidKeyError):
        traced.put("", b"x")
    assert telemetry.spans() == []
    assert traced.inner.status().revision == 1  # nothing was stored


def _work_with_the_canary(store: TracingStore | NamespacedStore) -> None:
    store.put(CANARY_KEY, CANARY_VALUE)
    assert store.get(CANARY_KEY) == CANARY_VALUE
    store.list(CANARY_KEY)
    with store.watch(CANARY_KEY):
        pass
    with pytest.raises(KeyNotFoundError):
        store.get(CANARY_KEY + "-missing")
    store.transaction().if_(Version(CANARY_KEY) > 0).then(Put(CANARY_KEY, CANARY_VALUE)).commit()
    store.delete(CANARY_KEY)


def test_no_key_and_no_value_is_recorded_by_default(
    traced: TracingStore, telemetry: Telemetry
) -> None:
    _work_with_the_canary(traced)
    text = recorded_text(telemetry.spans())
    assert "canary" not in text
    assert "Put" in text and "Range" in text  # the spans are there, only without keys
    for point in telemetry.points(OPERATION_DURATION):
        assert "canary" not in repr(dict(point.attributes))


def test_record_keys_records_keys_but_never_values(telemetry: Telemetry) -> None:
    store = TracingStore(MemoryStore(), record_keys=True, **telemetry.providers)
    try:
        _work_with_the_canary(store)
    finally:
        store.close()
    text = recorded_text(telemetry.spans())
    assert f"kvstore.key={CANARY_KEY!r}" in text
    assert CANARY_VALUE.decode() not in text
    # keys go on spans only: a metric with a key per series would grow without bound
    for point in telemetry.points(OPERATION_DURATION):
        assert "canary" not in repr(dict(point.attributes))


def test_arguments_are_checked(telemetry: Telemetry) -> None:
    with pytest.raises(ConfigurationError, match="inner must be a store"):
        TracingStore("memory://")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="record_keys"):
        TracingStore(MemoryStore(), record_keys="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="system"):
        TracingStore(MemoryStore(), system="")
    store = TracingStore(MemoryStore(), system="my-kv", **telemetry.providers)
    store.put("a", b"1")
    (span,) = telemetry.spans("Put")
    assert span.attributes is not None and span.attributes["db.system.name"] == "my-kv"
    store.close()


def test_the_span_is_current_only_while_its_primitive_runs(
    traced: TracingStore, telemetry: Telemetry
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as parent:
        traced.put("a", b"1")
        assert trace.get_current_span() is parent
        traced.get("a")
    request = telemetry.spans("request")[0]
    for name in ("Put", "Range"):
        (span,) = telemetry.spans(name)
        assert span.parent is not None and span.parent.span_id == request.context.span_id
    # a watch's events are not children of anything: its span ended with its creation
    telemetry.clear()
    with traced.watch("w") as watch:
        (watch_span,) = telemetry.spans("Watch")
        assert watch_span.end_time is not None
        traced.put("w", b"1")
        event = watch.next_event(5)
        assert event is not None and event.kv.value == b"1"
    (put,) = telemetry.spans("Put")
    assert put.parent is None


# ---------------------------------------------------------------------------- composition


def test_trace_url_option_puts_the_tracer_directly_on_the_backend() -> None:
    store = kvstore.open("memory://?trace=1&compress=1&namespace=app/")
    try:
        assert isinstance(store, NamespacedStore)
        assert isinstance(store.inner, CompressedStore)
        assert isinstance(store.inner.inner, TracingStore)
        assert isinstance(store.inner.inner.inner, MemoryStore)
        assert store.inner.inner.record_keys is False
    finally:
        store.close()
    keyed = kvstore.open("memory://?trace=1&trace_keys=yes")
    assert isinstance(keyed, TracingStore) and keyed.record_keys is True
    keyed.close()


@pytest.mark.parametrize(
    ("query", "message"),
    [("trace_keys=1", "trace_keys needs trace=1"), ("trace=maybe", "trace must be 1 or 0")],
)
def test_trace_url_options_are_checked(query: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        kvstore.open(f"memory://?{query}")


async def test_open_async_with_trace_gives_the_async_tracing_store() -> None:
    store = kvstore.open_async("memory://?trace=1")
    try:
        assert isinstance(store, AsyncTracingStore)
        assert isinstance(store.inner, AsyncMemoryStore)
        await store.put("a", b"1")
        assert await store.get("a") == b"1"
    finally:
        await store.aclose()


# ---------------------------------------------------------------------------- asyncio


async def test_async_primitives_are_spans_with_no_cross_task_parents(
    telemetry: Telemetry,
) -> None:
    store = AsyncTracingStore(AsyncMemoryStore(), **telemetry.providers)
    tracer = telemetry.tracer_provider.get_tracer("test")

    async def task(index: int) -> None:
        with tracer.start_as_current_span(f"task-{index}"):
            for _ in range(5):
                await store.put(f"k/{index}", b"v")
                await asyncio.sleep(0)
                await store.get(f"k/{index}")

    try:
        await asyncio.gather(*(task(index) for index in range(4)))
        with pytest.raises(LeaseNotFoundError):
            await store.lease_revoke(0x99)
    finally:
        await store.aclose()
    roots = {span.context.span_id: span.name for span in telemetry.spans() if "task" in span.name}
    puts, gets = telemetry.spans("Put"), telemetry.spans("Range")
    assert len(puts) == len(gets) == 20
    for span in puts + gets:
        assert span.parent is not None and span.parent.span_id in roots
        # each task's calls are children of that task's span, never of another task's
        assert span.attributes is not None
    for index in range(4):
        own = [
            span
            for span in puts
            if span.parent is not None and roots[span.parent.span_id] == f"task-{index}"
        ]
        assert len(own) == 5
    (failed,) = telemetry.spans("LeaseRevoke")
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "kvstore.errors.LeaseNotFoundError"
    assert telemetry.count(OPERATION_DURATION, db__operation__name="Put") == 20


# ---------------------------------------------------------------------------- events


class _Recorder:
    """An observer of every store event, as a plugin would be."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def kvstore_keepalive_lost(self, store: object, lease_id: int, reason: str) -> None:
        self.seen.append(("keepalive_lost", {"store": store, "lease": lease_id, "why": reason}))

    @hookimpl
    def kvstore_lock_lost(self, store: object, name: str, kind: str) -> None:
        self.seen.append(("lock_lost", {"store": store, "name": name, "kind": kind}))


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    observer = _Recorder()
    events.register(observer)
    yield observer
    events.unregister(observer)


def test_a_lost_keep_alive_is_counted_and_recorded_as_an_event(
    telemetry: Telemetry, recorder: _Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    memory = MemoryStore(clock=clock)
    store = TracingStore(memory, **telemetry.providers)
    other = TracingStore(MemoryStore(), **Telemetry().providers)  # must count nothing of it
    try:
        lease = store.lease(3)
        keepalive = store.keep_alive(lease)
        memory.lease_revoke(lease.id)  # behind the keep-alive's back: a real loss
        assert wait_until(keepalive.lost.is_set)
        assert wait_until(lambda: telemetry.count(EVENT_COUNTERS["keepalive_lost"]) == 1)
        assert [name for name, _ in recorder.seen] == ["keepalive_lost"]
        assert recorder.seen[0][1]["store"] is store and recorder.seen[0][1]["lease"] == lease.id
        (span,) = telemetry.spans("kvstore.keepalive_lost")
        assert span.kind is SpanKind.INTERNAL
        assert [event.name for event in span.events] == ["kvstore.keepalive_lost"]
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "was lost" in warnings[0].getMessage()
        # the owner's revoke is no loss: no event, no counter, no warning
        quiet = store.lease(3)
        store.keep_alive(quiet)
        quiet.revoke()
        assert telemetry.count(EVENT_COUNTERS["keepalive_lost"]) == 1
        assert len(recorder.seen) == 1
    finally:
        store.close()
        other.close()


def test_a_lost_lock_is_counted_and_reported_to_observers(
    telemetry: Telemetry, recorder: _Recorder
) -> None:
    memory = MemoryStore()
    store = NamespacedStore(TracingStore(memory, **telemetry.providers), "app/")
    lock = store.new_lock("jobs", ttl=5)
    try:
        lock.lock()
        memory.lease_revoke(lock.session.lease.id)  # the lock's lease, revoked by another
        assert wait_until(lock.lost.is_set)
        assert wait_until(lambda: telemetry.count(EVENT_COUNTERS["lock_lost"]) == 1)
        lost = [seen for name, seen in recorder.seen if name == "lock_lost"]
        assert [(seen["kind"], seen["name"]) for seen in lost] == [("lock", "jobs")]
        assert lost[0]["store"] is store
        (span,) = telemetry.spans("kvstore.lock_lost")
        assert "jobs" not in recorded_text([span])  # a lock's name is never recorded
    finally:
        lock.unlock()
        store.close()


def test_a_failing_observer_breaks_no_store(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        @hookimpl
        def kvstore_keepalive_lost(self, lease_id: int) -> None:
            raise RuntimeError("observer bug")

    observer = Broken()
    events.register(observer)
    memory = MemoryStore()
    try:
        lease = memory.lease(3)
        keepalive = memory.keep_alive(lease)
        memory.lease_revoke(lease.id)
        assert wait_until(keepalive.lost.is_set)
        assert wait_until(lambda: "observer of kvstore_keepalive_lost failed" in caplog.text)
        memory.put("still", b"works")
        assert memory.get("still") == b"works"
    finally:
        events.unregister(observer)
        memory.close()
    assert not events.active


def test_observers_are_checked_when_registered() -> None:
    class Wrong:
        @hookimpl
        def kvstore_keepalive_lost(self, lease: int) -> None:  # no such argument
            raise AssertionError("never called")

    with pytest.raises(Exception, match="lease"):
        events.register(Wrong())
    assert not events.active


def test_a_closed_tracing_store_stops_observing() -> None:
    before = len(events._manager.get_plugins())
    store = TracingStore(MemoryStore())
    assert len(events._manager.get_plugins()) == before + 1
    store.close()
    assert len(events._manager.get_plugins()) == before


def test_async_tracing_store_is_an_async_base_store() -> None:
    assert issubclass(AsyncTracingStore, AsyncBaseStore)
