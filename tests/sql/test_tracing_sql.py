"""``TracingStore`` / ``AsyncTracingStore`` on the SQL stores: spans name the database
system as OpenTelemetry does (``db.system.name`` ``sqlite`` / ``postgresql``), for every
primitive the stores have (``tests/test_tracing.py``'s, less the cluster calls), and
record no value."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode
from test_tracing import PRIMITIVES as MEMORY_PRIMITIVES
from tracing_helpers import CANARY_VALUE, Telemetry, recorded_text

from kvstore.base import BaseStore
from kvstore.wrappers.tracing import OPERATION_DURATION, AsyncTracingStore, TracingStore
from kvstore_sql import AsyncPostgresStore, AsyncSQLiteStore, PostgresStore, SQLiteStore

SYSTEMS = {"sqlite": "sqlite", "postgresql": "postgresql"}


CLUSTER_ONLY = {"MemberList", "Alarm", "HashKV"}
"""Cluster calls: the SQL stores have no ``cluster`` capability (they raise)."""

PRIMITIVES = {name: call for name, call in MEMORY_PRIMITIVES.items() if name not in CLUSTER_ONLY}


@pytest.fixture(params=list(SYSTEMS))
def database(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _store(database: str, request: pytest.FixtureRequest) -> BaseStore:
    if database == "sqlite":
        return SQLiteStore(request.getfixturevalue("sqlite_path"))
    return PostgresStore.from_url(request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("operation", list(PRIMITIVES))
def test_each_primitive_is_a_span_naming_the_database_system(
    database: str, operation: str, request: pytest.FixtureRequest
) -> None:
    telemetry = Telemetry()
    traced = TracingStore(_store(database, request), **telemetry.providers)
    try:
        traced.put("canary", CANARY_VALUE)
        assert CANARY_VALUE.decode() not in recorded_text(telemetry.spans())
        telemetry.clear()
        PRIMITIVES[operation](traced)
    finally:
        traced.close()
    (span,) = telemetry.spans(operation)
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None
    assert span.attributes["db.system.name"] == SYSTEMS[database]
    assert span.attributes["db.operation.name"] == operation
    assert telemetry.count(OPERATION_DURATION, db__system__name=SYSTEMS[database]) >= 1


async def test_async_stores_name_their_system_too(
    database: str, request: pytest.FixtureRequest
) -> None:
    if database == "sqlite":
        inner = AsyncSQLiteStore(request.getfixturevalue("sqlite_path"))
    else:
        inner = AsyncPostgresStore.from_url(request.getfixturevalue("postgres_url"))
    telemetry = Telemetry()
    traced = AsyncTracingStore(inner, **telemetry.providers)
    try:
        await traced.put("k", b"v")
        assert (await traced.get("k")) == b"v"
    finally:
        await traced.aclose()
    spans = telemetry.spans()
    assert {span.name for span in spans} == {"Put", "Range"}
    assert all(
        span.attributes is not None and span.attributes["db.system.name"] == SYSTEMS[database]
        for span in spans
    )
