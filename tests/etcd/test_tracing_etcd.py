"""``TracingStore`` / ``AsyncTracingStore`` on real etcd: spans name the server and etcd's
status codes; retries, endpoint switches, watch resumes and keep-alive losses are counted,
recorded as span events and reported to ``kvstore.plugins.events`` observers."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from reliability.proxy import FaultProxy
from tracing_helpers import CANARY_KEY, CANARY_VALUE, Telemetry, recorded_text

from kvstore.errors import LeaseNotFoundError
from kvstore.testing._sync._support import wait_until
from kvstore.wrappers.tracing import (
    EVENT_COUNTERS,
    OPERATION_DURATION,
    AsyncTracingStore,
    TracingStore,
)
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer

pytestmark = [pytest.mark.etcd]


def _host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def test_spans_name_etcd_its_server_and_its_status_code(
    etcd_config: EtcdConfig, etcd_endpoints: list[str]
) -> None:
    telemetry = Telemetry()
    store = TracingStore(EtcdStore(etcd_config), **telemetry.providers)
    try:
        store.put(CANARY_KEY, CANARY_VALUE)
        assert store.get(CANARY_KEY) == CANARY_VALUE
        with pytest.raises(LeaseNotFoundError):
            store.lease_revoke(0x7E57)
        store.delete(CANARY_KEY)
    finally:
        store.close()
    host, port = _host_port(etcd_endpoints[0])
    for name in ("Put", "Range", "LeaseRevoke", "DeleteRange"):
        (span,) = telemetry.spans(name)
        assert span.kind is SpanKind.CLIENT
        assert span.attributes is not None
        assert span.attributes["db.system.name"] == "etcd"
        assert span.attributes["db.operation.name"] == name
        assert span.attributes["server.address"] == host
        assert span.attributes["server.port"] == port
    (failed,) = telemetry.spans("LeaseRevoke")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "kvstore.errors.LeaseNotFoundError"
    assert failed.attributes["db.response.status_code"] == "NOT_FOUND"
    assert "canary" not in recorded_text(telemetry.spans())
    assert telemetry.count(OPERATION_DURATION, db__operation__name="Put", server__port=port) == 1


async def test_async_spans_on_etcd(etcd_config: EtcdConfig, etcd_endpoints: list[str]) -> None:
    telemetry = Telemetry()
    store = AsyncTracingStore(AsyncEtcdStore(etcd_config), **telemetry.providers)
    try:
        await store.put("traced/a", b"1")
        assert await store.get("traced/a") == b"1"
        with pytest.raises(LeaseNotFoundError):
            await store.lease_revoke(0x7E58)
        lease = await store.lease(10)
        await lease.revoke()
    finally:
        await store.aclose()
    host, _ = _host_port(etcd_endpoints[0])
    names = [span.name for span in telemetry.spans()]
    assert names == ["Put", "Range", "LeaseRevoke", "LeaseGrant", "LeaseRevoke"]
    for span in telemetry.spans():
        assert span.attributes is not None and span.attributes["server.address"] == host
    assert telemetry.spans()[2].attributes is not None
    assert telemetry.spans()[2].attributes["db.response.status_code"] == "NOT_FOUND"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_endpoint_switch_is_counted_and_the_span_names_the_endpoint_that_answered(
    etcd_endpoints: list[str],
) -> None:
    dead = f"127.0.0.1:{_free_port()}"  # nothing listens there
    telemetry = Telemetry()
    config = EtcdConfig(endpoints=[dead, *etcd_endpoints], dial_timeout=5.0)
    store = TracingStore(EtcdStore(config), **telemetry.providers)
    try:
        store.put("switch/a", b"1")
    finally:
        store.close()
    assert telemetry.count(EVENT_COUNTERS["endpoint_switch"], db__system__name="etcd") >= 1
    (put,) = telemetry.spans("Put")
    assert put.attributes is not None
    assert put.attributes["server.port"] == _host_port(etcd_endpoints[0])[1]
    switches = [event for event in put.events if event.name == "kvstore.endpoint_switch"]
    assert switches and switches[0].attributes is not None
    assert switches[0].attributes["kvstore.previous_endpoint"] == dead


def test_a_retry_is_an_event_on_the_span_of_its_call_and_a_count(
    etcd_server: EtcdServer,
) -> None:
    telemetry = Telemetry()
    with FaultProxy(etcd_server.client_port, lifetime=60) as proxy:
        config = EtcdConfig(endpoints=[proxy.endpoint], request_timeout=10.0)
        store = TracingStore(EtcdStore(config), **telemetry.providers)
        try:
            store.put("retry/a", b"1")
            # The read is on the wire (held back by the proxy) when its connection resets:
            # it fails as unavailable and is sent again on a new connection.
            proxy.delay(600)
            reset = threading.Timer(0.2, proxy.close_connections)
            reset.start()
            try:
                assert store.get("retry/a") == b"1"
            finally:
                reset.join()
                proxy.pass_through()
        finally:
            store.close()
    (read,) = telemetry.spans("Range")
    retries = [event for event in read.events if event.name == "kvstore.retry"]
    assert retries and retries[0].attributes is not None
    assert retries[0].attributes["kvstore.reason"] == "unavailable"
    assert retries[0].attributes["kvstore.endpoint"] == proxy.endpoint
    assert telemetry.count(EVENT_COUNTERS["retry"], db__system__name="etcd") == len(retries)


@pytest.fixture
def own_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """A single-member etcd of these tests alone (they stop and restart it)."""
    with EtcdServer(etcd_binary) as server:
        yield server


def test_a_watch_resume_and_a_lost_keep_alive_are_events_and_counters(
    own_server: EtcdServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kvstore")
    telemetry = Telemetry()
    # A renewal waits for an endpoint up to request_timeout: below the TTL, the loss is
    # seen soon after the TTL runs out.
    config = EtcdConfig(endpoints=own_server.endpoints, request_timeout=1.5, dial_timeout=1.5)
    store = TracingStore(EtcdStore(config), **telemetry.providers)
    try:
        # A watch resumes after a restart: one resume event, counted once.
        with store.watch_prefix("events/") as watch:
            watch.ready()
            store.put("events/1", b"1")
            assert watch.next_event(10) is not None
            own_server.restart()
            assert wait_until(
                lambda: telemetry.count(EVENT_COUNTERS["watch_resume"]) == 1, timeout=20
            )
            store.put("events/2", b"2")
            event = watch.next_event(10)
            assert event is not None and event.kv.key == "events/2"
        (resume,) = telemetry.spans("kvstore.watch_resume")
        assert resume.kind is SpanKind.INTERNAL  # from the stream thread: a span of its own
        assert resume.events[0].attributes is not None
        assert resume.events[0].attributes["kvstore.watches"] == 1

        # A lease its keep-alive cannot renew before its TTL runs out is lost: one
        # warning, one event, one count; a lease its owner revokes is none of these.
        quiet = store.lease(30)
        quiet_keepalive = store.keep_alive(quiet)
        quiet.revoke()
        assert wait_until(quiet_keepalive.lost.is_set)
        lease = store.lease(2)
        keepalive = store.keep_alive(lease)
        own_server.stop()
        try:
            assert wait_until(keepalive.lost.is_set, timeout=15)
        finally:
            own_server.start()
        assert wait_until(lambda: telemetry.count(EVENT_COUNTERS["keepalive_lost"]) == 1)
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, warnings
        assert f"lease {lease.id:#x} was lost" in warnings[0]
        assert "before its TTL ran out" in warnings[0]
    finally:
        store.close()


async def test_async_watch_resume_is_counted(own_server: EtcdServer) -> None:
    telemetry = Telemetry()
    config = EtcdConfig(endpoints=own_server.endpoints, request_timeout=20.0, dial_timeout=20.0)
    store = AsyncTracingStore(AsyncEtcdStore(config), **telemetry.providers)
    try:
        async with store.watch_prefix("aevents/") as watch:
            await watch.ready()
            await store.put("aevents/1", b"1")
            assert await watch.next_event(10) is not None
            own_server.restart()
            await store.put("aevents/2", b"2")
            event = await watch.next_event(10)
            assert event is not None and event.kv.key == "aevents/2"
        assert telemetry.count(EVENT_COUNTERS["watch_resume"]) == 1
    finally:
        await store.aclose()
