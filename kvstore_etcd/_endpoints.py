"""The sync store's endpoints: one gRPC channel per endpoint, failover between them.

Health and failover are ``kvstore_etcd._endpoint_state``'s (shared with the asyncio
pool), the channel options and credentials ``kvstore_etcd._channel_settings``'s. What is
the sync pool's own: each endpoint's channel reports its connectivity state
(``channel.subscribe``, on gRPC's polling thread) and the pool wakes the calls waiting for
a connected endpoint under a lock; a channel in TRANSIENT_FAILURE is probed with a
fail-fast call once per failure (see ``_endpoint_state`` for why).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import grpc

from kvstore.errors import UnavailableError
from kvstore_etcd._channel_settings import ChannelSettings
from kvstore_etcd._endpoint_state import (
    PROBE_SECONDS,
    STATUS_REQUEST,
    SUSPECT_SECONDS,
    EndpointState,
    PoolHealth,
)
from kvstore_etcd._metadata import Metadata
from kvstore_etcd.config import EtcdConfig

__all__ = ["Endpoint", "EndpointPool", "Invoke"]

_T = TypeVar("_T")

_READY = grpc.ChannelConnectivity.READY
_IDLE = grpc.ChannelConnectivity.IDLE
_POLLER_STOP_SECONDS = 1.0


class Endpoint(EndpointState):
    """One etcd endpoint: its gRPC channel, stubs and last known connectivity state."""

    def __init__(self, address: str, pool: EndpointPool) -> None:
        super().__init__(address)
        self._pool = pool
        self._channel: grpc.Channel | None = None
        self._opening = threading.Lock()  # guards _channel and _retired
        self._retired = False

    @property
    def channel(self) -> grpc.Channel:
        """The channel, created on first use.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched; or the endpoint was closed (no channel is made again).
        """
        channel = self._channel
        if channel is not None:
            return channel
        # One channel per endpoint even when threads reach it first at once: a second
        # one would be dropped, and gRPC closes a dropped channel under its state
        # poller, whose last report (IDLE) would then stand for the endpoint for good.
        with self._opening:
            if self._retired:
                raise UnavailableError(f"{self.address}: the endpoint is closed")
            channel = self._channel
            if channel is None:
                channel = self._pool.make_channel(self.address)
                self._bind_stubs(channel)
                self._channel = channel
                channel.subscribe(self._on_state, try_to_connect=True)
            return channel

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
        """Close the channel (in the background once gRPC's state poller has stopped);
        none is made again."""
        with self._opening:  # not while a thread is making it
            self._retired = True
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
