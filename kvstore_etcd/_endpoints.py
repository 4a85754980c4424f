"""Endpoint health and failover: one gRPC channel per endpoint, the current one preferred.

python3-etcd3's multi-endpoint client marks a failed endpoint unusable for 300 s, which
breaks reconnecting to a single endpoint that restarts. Here each endpoint's channel
reports its connectivity state (``channel.subscribe``); a call goes to the current
endpoint while it is READY, else to the next READY one, else waits (at most the dial
timeout) for any endpoint to connect. gRPC keeps reconnecting in the background with a
short backoff, so a restarted member is usable again within about a second.

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

import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeAlias, TypeVar

import grpc
from etcd3 import etcdrpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import ConfigurationError, UnavailableError
from kvstore.plugins.events import report as report_event
from kvstore_etcd._errors import tls_failure
from kvstore_etcd._wire import LEASE_LEASES_METHOD, MEMBER_LIST_METHOD, encode_empty, identity
from kvstore_etcd.config import EtcdConfig

__all__ = [
    "ChannelSettings",
    "Endpoint",
    "EndpointPool",
    "EndpointState",
    "Invoke",
    "Metadata",
    "PoolHealth",
]

_E = TypeVar("_E", bound="EndpointState")
_T = TypeVar("_T")

Metadata: TypeAlias = tuple[tuple[str, str], ...] | None
"""The gRPC metadata of a call: the auth token, or ``None`` without auth."""

_READY = grpc.ChannelConnectivity.READY
_FAILURE = grpc.ChannelConnectivity.TRANSIENT_FAILURE
_IDLE = grpc.ChannelConnectivity.IDLE
_SHUTDOWN = grpc.ChannelConnectivity.SHUTDOWN
_POLLER_STOP_SECONDS = 1.0
SUSPECT_SECONDS = 1.0
"""How long an endpoint that failed a call is passed over while another one is READY."""
PROBE_SECONDS = 0.5
"""Bound of the fail-fast call that reads a failing channel's last connection error."""


def _read_file(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigurationError(
            f"etcd config: cannot read the TLS {what} file {path!r}: {exc.strerror}"
        ) from None


def _certificate_name(pem: str) -> str | None:
    """A name the certificate is valid for (DNS SAN, else IP SAN, else CN)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        dns = san.get_values_for_type(x509.DNSName)
        if dns:
            return str(dns[0])
        ips = san.get_values_for_type(x509.IPAddress)
        if ips:
            return str(ips[0])
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(common[0].value) if common else None


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


class Endpoint(EndpointState):
    """One etcd endpoint: its gRPC channel, stubs and last known connectivity state."""

    def __init__(self, address: str, pool: EndpointPool) -> None:
        super().__init__(address)
        self._pool = pool
        self._channel: grpc.Channel | None = None

    @property
    def channel(self) -> grpc.Channel:
        """The channel, created on first use.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        if self._channel is None:
            channel = self._pool.make_channel(self.address)
            self._bind_stubs(channel)
            self._channel = channel
            channel.subscribe(self._on_state, try_to_connect=True)
        return self._channel

    def _on_state(self, state: grpc.ChannelConnectivity) -> None:
        self._pool.report_state(self, state)

    def probe_failure(self) -> None:
        """Learn why the channel is in TRANSIENT_FAILURE (once per failure).

        A call with ``wait_for_ready=False`` on a failing channel fails at once with the
        last connection error, which says whether the TLS handshake failed.
        """
        if not self._should_probe():
            return
        try:
            self.maintenance.Status(STATUS_REQUEST, timeout=PROBE_SECONDS, wait_for_ready=False)
        except grpc.RpcError as exc:
            self._probed(exc)

    def connect(self) -> None:
        """Ask gRPC to connect now if the channel is idle."""
        try:
            channel = self.channel
        except UnavailableError:
            return
        # Subscribing with try_to_connect is the public way to leave IDLE.
        channel.subscribe(_ignore_state, try_to_connect=True)
        channel.unsubscribe(_ignore_state)

    def close(self) -> None:
        """Close the channel (in the background once gRPC's state poller has stopped)."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        channel.unsubscribe(self._on_state)
        if _poller_running(channel):
            threading.Thread(
                target=_close_after_poller, args=(channel,), name="kvstore-etcd-close", daemon=True
            ).start()
        else:
            channel.close()


STATUS_REQUEST = rpc_pb2.StatusRequest()
"""The request of the fail-fast probe call."""


def _ignore_state(state: grpc.ChannelConnectivity) -> None:
    """A no-op subscriber used only to make an idle channel connect."""


def _poller_running(channel: grpc.Channel) -> bool:
    # gRPC's connectivity poller thread can call into a channel closed under it and die
    # with "Channel closed!" (a race inside grpcio); it stops within 0.2 s of the last
    # unsubscribe, so the channel is closed after that.
    state = getattr(channel, "_connectivity_state", None)
    return bool(getattr(state, "polling", False))


def _close_after_poller(channel: grpc.Channel) -> None:
    deadline = time.monotonic() + _POLLER_STOP_SECONDS
    while _poller_running(channel) and time.monotonic() < deadline:
        time.sleep(0.02)
    channel.close()


class ChannelSettings:
    """How a store's channels are made: gRPC options and TLS credentials per endpoint.

    Shared by the sync pool and the asyncio one (``kvstore_etcd._async._endpoints``),
    which differ only in the channel class they build with these.

    Raises:
        ConfigurationError: A TLS file cannot be read.
    """

    def __init__(self, config: EtcdConfig) -> None:
        self.config = config
        self._credentials: grpc.ChannelCredentials | None = None
        self._unverified_cache: dict[str, tuple[grpc.ChannelCredentials, str | None]] = {}
        self._unverified_lock = threading.Lock()
        if config.uses_tls and not config.insecure_skip_verify:
            self._credentials = grpc.ssl_channel_credentials(
                root_certificates=_read_file(config.ca, "CA"),
                private_key=_read_file(config.key, "key"),
                certificate_chain=_read_file(config.cert, "certificate"),
            )

    def options(self) -> list[tuple[str, Any]]:
        """The gRPC channel options every endpoint gets."""
        config = self.config
        options: list[tuple[str, Any]] = [
            ("grpc.max_send_message_length", config.max_call_send_msg_size),
            ("grpc.max_receive_message_length", config.max_call_recv_msg_size),
            ("grpc.keepalive_time_ms", int(config.dial_keepalive_time * 1000)),
            ("grpc.keepalive_timeout_ms", int(config.dial_keepalive_timeout * 1000)),
            # Reconnect fast after a member restarts. min_reconnect_backoff_ms stays at its
            # default: it is also the connect deadline (100 ms would break slow handshakes).
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000),
            # One channel per endpoint, never shared with other stores in this process.
            ("grpc.use_local_subchannel_pool", 1),
        ]
        if config.server_name:
            options.append(("grpc.ssl_target_name_override", config.server_name))
        return options

    def needs_fetch(self, address: str) -> bool:
        """Whether ``credentials_for(address)`` would connect to fetch a certificate."""
        with self._unverified_lock:
            return (
                self.config.uses_tls
                and self._credentials is None
                and (address not in self._unverified_cache)
            )

    def channel_options(self, address: str) -> list[tuple[str, Any]]:
        """The gRPC channel options for ``address``.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        options = self.options()
        if self.config.uses_tls and self._credentials is None and not self.config.server_name:
            name = self._unverified(address)[1]
            if name:
                options.append(("grpc.ssl_target_name_override", name))
        return options

    def credentials_for(self, address: str) -> grpc.ChannelCredentials:
        """The TLS channel credentials for ``address``.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        if self._credentials is not None:
            return self._credentials
        return self._unverified(address)[0]

    def _unverified(self, address: str) -> tuple[grpc.ChannelCredentials, str | None]:
        with self._unverified_lock:
            cached = self._unverified_cache.get(address)
            if cached is None:
                cached = self._unverified_cache[address] = self._unverified_credentials(address)
            return cached

    def _unverified_credentials(self, address: str) -> tuple[grpc.ChannelCredentials, str | None]:
        """Credentials trusting whatever certificate ``address`` presents right now.

        gRPC Python cannot switch verification off, so the server's own certificate is
        fetched without verification and then trusted as the root.
        """
        host, _, port = address.rpartition(":")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.config.cert is not None:
            context.load_cert_chain(self.config.cert, self.config.key)
        try:
            with (
                socket.create_connection(
                    (host.strip("[]"), int(port)), timeout=self.config.dial_timeout
                ) as raw,
                context.wrap_socket(raw) as tls,
            ):
                der = tls.getpeercert(binary_form=True)
        except (OSError, ssl.SSLError) as exc:
            raise UnavailableError(
                f"connect: no endpoint reachable: cannot fetch the TLS certificate of "
                f"{address}: {exc}",
                operation="connect",
            ) from exc
        if der is None:
            raise UnavailableError(
                f"connect: no endpoint reachable: {address} presented no TLS certificate",
                operation="connect",
            )
        pem = ssl.DER_cert_to_PEM_cert(der)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=pem.encode(),
            private_key=_read_file(self.config.key, "key"),
            certificate_chain=_read_file(self.config.cert, "certificate"),
        )
        return credentials, _certificate_name(pem)


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


class EndpointPool(PoolHealth[Endpoint]):
    """The endpoints of one store, with the current one and failover between them."""

    def __init__(self, config: EtcdConfig) -> None:
        super().__init__()
        self.config = config
        self.settings = ChannelSettings(config)
        self.endpoints: list[Endpoint] = [Endpoint(address, self) for address in config.endpoints]
        self._changed = threading.Condition()
        self._closed = False

    def _new_endpoint(self, address: str) -> Endpoint:
        return Endpoint(address, self)

    # ------------------------------------------------------------------ channels

    def channel_options(self, address: str) -> list[tuple[str, Any]]:
        """The gRPC channel options for ``address`` (``ChannelSettings.channel_options``).

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        return self.settings.channel_options(address)

    def credentials_for(self, address: str) -> grpc.ChannelCredentials:
        """The TLS channel credentials for ``address`` (``ChannelSettings.credentials_for``).

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        return self.settings.credentials_for(address)

    def make_channel(self, address: str) -> grpc.Channel:
        """A new channel to ``address`` with the config's options and credentials.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        if not self.config.uses_tls:
            return grpc.insecure_channel(address, options=self.settings.options())
        credentials = self.credentials_for(address)
        return grpc.secure_channel(address, credentials, options=self.channel_options(address))

    # ------------------------------------------------------------------ health

    def report_state(self, endpoint: Endpoint, state: grpc.ChannelConnectivity) -> None:
        """Record a connectivity change (called by gRPC's polling thread)."""
        with self._changed:
            self._record_state(endpoint, state)
            self._changed.notify_all()

    def mark_failed(self, endpoint: Endpoint) -> None:
        """Pass over ``endpoint`` for a while, and move the current choice past it."""
        with self._changed:
            self._note_failure(endpoint)

    def prefer(self, address: str) -> None:
        """Send the next calls to ``address`` first (while it is healthy).

        Raises:
            ValueError: ``address`` is not one of the endpoints.
        """
        with self._changed:
            self._select(address)

    def ready_endpoint(self) -> Endpoint | None:
        """The current endpoint if it is connected and not suspect (``acquire``'s fast
        path, which needs no waiting), else ``None``."""
        endpoint = self.endpoints[self._current]
        if endpoint.state is _READY and endpoint.suspect_until <= time.monotonic():
            return endpoint
        return None

    def acquire(self, deadline: float, operation: str) -> Endpoint:
        """A connected endpoint, waiting until ``deadline`` (and the dial timeout) at most.

        An endpoint that just failed is used only if no other one connects within
        about a second.

        Raises:
            UnavailableError: No endpoint connected in time; nothing was sent.
            ConfigurationError: A TLS file cannot be read.
        """
        endpoint = self.ready_endpoint()
        if endpoint is not None:
            return endpoint
        with self._changed:
            picked = self._pick(allow_suspect=False)
            if picked is not None:
                return picked
        for candidate in self.endpoints:
            if candidate.state is not _READY:
                candidate.connect()
        now = time.monotonic()
        wait_until = min(deadline, now + self.config.dial_timeout)
        suspect_from = min(wait_until, now + SUSPECT_SECONDS)
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                picked = self._pick(allow_suspect=now >= suspect_from)
                if picked is not None:
                    return picked
                if now >= wait_until:
                    break
                pause = min(wait_until - now, 0.25)
                if now < suspect_from:
                    pause = min(pause, suspect_from - now)
                self._changed.wait(max(pause, 0.001))
                if not self._closed:
                    self._changed.release()
                    try:
                        # Channels whose certificate fetch failed get another chance, and
                        # a channel that went IDLE while we waited (gRPC's pick_first idles
                        # a channel whose connection was closed) is asked to connect again.
                        for candidate in self.endpoints:
                            if candidate.state is None or candidate.state is _IDLE:
                                candidate.connect()
                            candidate.probe_failure()
                    finally:
                        self._changed.acquire()
                    if all(candidate.tls_failure for candidate in self.endpoints):
                        raise self._every_tls_failure(operation)
        raise self._unreachable(operation)

    def wait_any(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        """Sleep up to ``seconds``, waking early on a connectivity change or a stop request."""
        deadline = time.monotonic() + seconds
        with self._changed:
            while not should_stop():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 0.1))

    def close(self) -> None:
        """Close every channel."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        for endpoint in [*self.endpoints, *self.retired]:
            endpoint.close()


Invoke: TypeAlias = Callable[[Endpoint, float, Metadata], _T]
"""Sends one request to an endpoint, with a timeout and auth metadata (``Caller.call``)."""
