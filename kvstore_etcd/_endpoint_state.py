"""Endpoint health and failover, what both endpoint pools share: one channel per
endpoint, the current one preferred.

python3-etcd3's multi-endpoint client marks a failed endpoint unusable for 300 s, which
breaks reconnecting to a single endpoint that restarts. Here each pool tracks every
endpoint's connectivity state; a call goes to the current endpoint while it is READY,
else to the next READY one, else waits (at most the dial timeout) for any endpoint to
connect. gRPC keeps reconnecting in the background with a short backoff, so a restarted
member is usable again within about a second. The sync pool (``kvstore_etcd._endpoints``)
hears of state changes from gRPC's callbacks, the asyncio one
(``kvstore_etcd._async._endpoints``) reads them when it picks an endpoint.

A TLS handshake failure (a wrong CA, a server name the certificate does not cover, a
client certificate the server refuses, TLS against a plaintext port) is a configuration
problem that waiting does not fix. gRPC only shows it in the error of a call that fails
fast on a channel in TRANSIENT_FAILURE, so such a channel is probed once per failure with
a ``wait_for_ready=False`` call (it never reaches the server). When every endpoint fails
its handshake, ``acquire`` raises ``UnavailableError`` at once, naming the TLS error,
instead of after the dial timeout. It stays ``UnavailableError`` (not
``ConfigurationError``) because one endpoint's certificate can also be wrong while the
others are fine: then that one is passed over like any unreachable member.
A server refusing a missing client certificate is caught this way on etcd 3.5 but not
on 3.4: there (TLS 1.3) the refusal comes after the client finished its handshake, so it
looks like a dropped connection and is reported after the dial timeout.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import grpc
from etcd3 import etcdrpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import UnavailableError
from kvstore.plugins.events import report as report_event
from kvstore_etcd._errors import tls_failure
from kvstore_etcd._wire import LEASE_LEASES_METHOD, MEMBER_LIST_METHOD, encode_empty, identity

__all__ = [
    "PROBE_SECONDS",
    "STATUS_REQUEST",
    "SUSPECT_SECONDS",
    "EndpointState",
    "PoolHealth",
]

_E = TypeVar("_E", bound="EndpointState")

_READY = grpc.ChannelConnectivity.READY
_FAILURE = grpc.ChannelConnectivity.TRANSIENT_FAILURE
SUSPECT_SECONDS = 1.0
"""How long an endpoint that failed a call is passed over while another one is READY."""
PROBE_SECONDS = 0.5
"""Bound of the fail-fast call that reads a failing channel's last connection error."""
STATUS_REQUEST = rpc_pb2.StatusRequest()
"""The request of the fail-fast probe call."""


class EndpointState:
    """What both pools know of one endpoint: its address, connectivity, health and stubs.

    ``Endpoint`` (sync channels) and ``AsyncEndpoint`` (``grpc.aio``) add the channel.
    """

    def __init__(self, address: str) -> None:
        self.address = address
        self.state: grpc.ChannelConnectivity | None = None
        self.suspect_until = 0.0
        self.tls_failure: str | None = None
        """The TLS handshake error of the last failed connection attempt, if it was one."""
        self.failure_probed = False
        self.kv: Any = None
        self.watch: Any = None
        self.lease: Any = None
        self.maintenance: Any = None
        self.auth: Any = None
        self.lease_leases: Any = None
        self.member_list: Any = None

    def _bind_stubs(self, channel: Any) -> None:
        """Create the stubs on ``channel`` (sync or ``grpc.aio``: the stub code is one)."""
        self.kv = etcdrpc.KVStub(channel)
        self.watch = etcdrpc.WatchStub(channel)
        self.lease = etcdrpc.LeaseStub(channel)
        self.maintenance = etcdrpc.MaintenanceStub(channel)
        self.auth = etcdrpc.AuthStub(channel)
        self.lease_leases = channel.unary_unary(
            LEASE_LEASES_METHOD,
            request_serializer=encode_empty,
            response_deserializer=identity,
        )
        self.member_list = channel.unary_unary(
            MEMBER_LIST_METHOD,
            request_serializer=encode_empty,
            response_deserializer=identity,
        )

    def _should_probe(self) -> bool:
        """Whether the channel's failure is unexplained yet (then it is probed once)."""
        if self.state is not _FAILURE or self.failure_probed or self.maintenance is None:
            return False
        self.failure_probed = True
        return True

    def _probed(self, exc: grpc.RpcError) -> None:
        failure = tls_failure(exc)
        if failure is not None:
            self.tls_failure = failure

    def __repr__(self) -> str:
        state = self.state.name if self.state is not None else "NEW"
        return f"Endpoint({self.address}, {state})"


class PoolHealth(Generic[_E]):
    """The endpoints of one store, the current one, and which of them may serve a call.

    The bookkeeping both pools share; the sync pool calls these under its lock, the
    asyncio one (a single thread) without.
    """

    endpoints: list[_E]

    def __init__(self) -> None:
        self._current = 0
        self.retired: list[_E] = []
        """Endpoints dropped by ``set_endpoints``: their channels close with the pool."""
        self.events_source: object = None
        """The store named in the events this pool reports (``kvstore.plugins.events``)."""

    def _move_to(self, index: int, previous: str | None = None) -> None:
        """Make ``endpoints[index]`` current; report a change of endpoint."""
        if previous is None:
            previous = self.endpoints[self._current].address
        self._current = index
        current = self.endpoints[index].address
        if current != previous:
            report_event(
                "endpoint_switch", store=self.events_source, previous=previous, current=current
            )

    def _new_endpoint(self, address: str) -> _E:
        raise NotImplementedError

    def set_endpoints(self, addresses: Sequence[str]) -> bool:
        """Serve from ``addresses`` from now on (``auto_sync_interval``).

        Endpoints kept keep their channel and health; new ones connect on first use;
        those dropped are closed with the pool (a call still running on one ends as it
        would). The current endpoint stays current if it is kept.

        Returns:
            Whether the endpoints changed.
        """
        wanted = list(dict.fromkeys(addresses))
        if not wanted or wanted == [endpoint.address for endpoint in self.endpoints]:
            return False
        current = self.endpoints[self._current].address
        by_address = {endpoint.address: endpoint for endpoint in self.endpoints}
        endpoints = [
            by_address.pop(address, None) or self._new_endpoint(address) for address in wanted
        ]
        self.retired.extend(by_address.values())
        self.endpoints = endpoints
        self._move_to(wanted.index(current) if current in wanted else 0, current)
        return True

    @property
    def current(self) -> _E:
        """The endpoint calls go to first."""
        return self.endpoints[self._current]

    def _record_state(self, endpoint: _E, state: grpc.ChannelConnectivity) -> None:
        endpoint.state = state
        if state is _READY:
            endpoint.tls_failure = None
        if state is not _FAILURE:
            endpoint.failure_probed = False

    def _note_failure(self, endpoint: _E) -> None:
        endpoint.suspect_until = time.monotonic() + SUSPECT_SECONDS
        if endpoint not in self.endpoints:
            return  # dropped by set_endpoints meanwhile
        index = self.endpoints.index(endpoint)
        if index == self._current:
            self._move_to((index + 1) % len(self.endpoints))

    def _select(self, address: str) -> None:
        self._move_to([endpoint.address for endpoint in self.endpoints].index(address))

    def _pick(self, *, allow_suspect: bool) -> _E | None:
        count = len(self.endpoints)
        now = time.monotonic()
        fallback: _E | None = None
        for offset in range(count):
            index = (self._current + offset) % count
            endpoint = self.endpoints[index]
            if endpoint.state is not _READY:
                continue
            if endpoint.suspect_until <= now:
                if index != self._current:
                    self._move_to(index)
                return endpoint
            if fallback is None:
                fallback = endpoint
        return fallback if allow_suspect else None

    def _tls_failures(self) -> str:
        return "; ".join(
            f"{endpoint.address}: {endpoint.tls_failure}"
            for endpoint in self.endpoints
            if endpoint.tls_failure
        )

    def _every_tls_failure(self, operation: str) -> UnavailableError:
        return UnavailableError(
            f"{operation}: the TLS handshake failed with every endpoint "
            f"({self._tls_failures()}); check the ca, cert/key and server_name settings",
            operation=operation,
        )

    def _unreachable(self, operation: str) -> UnavailableError:
        states = ", ".join(repr(candidate) for candidate in self.endpoints)
        tls = self._tls_failures()
        return UnavailableError(
            f"{operation}: no endpoint reachable within the dial timeout ({states})"
            + (f"; TLS handshake failed: {tls}" if tls else ""),
            operation=operation,
        )
