"""Endpoint health and failover for the asyncio store: one ``grpc.aio`` channel per endpoint.

The asyncio twin of ``kvstore_etcd._endpoints`` (hand-written: the channels differ), on
the same ``ChannelSettings`` (options, TLS credentials: ``kvstore_etcd._channel_settings``)
and ``PoolHealth`` (the current endpoint, which endpoints may serve, the errors when none
can: ``kvstore_etcd._endpoint_state``). ``grpc.aio`` channels have no connectivity
callbacks, so the pool reads a channel's state when it picks one: a call goes to the
current endpoint while it is READY (one cheap state read, the fast path), else to the
next READY one, else the pool asks every channel to connect and looks again every few
milliseconds until one is READY, at most the dial timeout. A channel in TRANSIENT_FAILURE
is probed once per failure with a fail-fast call, which tells a TLS handshake failure (a
configuration problem: when every endpoint has one, ``acquire`` raises
``UnavailableError`` at once, naming it) from an endpoint that is down.

Channels are created on first use, inside the running event loop; with
``insecure_skip_verify`` the server certificate is fetched in a worker thread so the
loop never blocks on it.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

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

__all__ = ["AsyncEndpoint", "AsyncEndpointPool", "AsyncInvoke"]

_T = TypeVar("_T")

_READY = grpc.ChannelConnectivity.READY
_IDLE = grpc.ChannelConnectivity.IDLE
_LOOK_AGAIN_SECONDS = 0.02
"""How often the slow path of ``acquire`` reads the channels' states again."""


class AsyncEndpoint(EndpointState):
    """One etcd endpoint: its ``grpc.aio`` channel, stubs and last read connectivity."""

    def __init__(self, address: str) -> None:
        super().__init__(address)
        self.channel: grpc.aio.Channel | None = None

    def refresh(self, *, connect: bool = False) -> grpc.ChannelConnectivity | None:
        """Read the channel's state (asking an idle channel to connect if ``connect``)."""
        if self.channel is None:
            return None
        return self.channel.get_state(try_to_connect=connect)

    async def probe_failure(self) -> None:
        """Learn why the channel is in TRANSIENT_FAILURE (once per failure)."""
        if not self._should_probe():
            return
        try:
            await self.maintenance.Status(
                STATUS_REQUEST, timeout=PROBE_SECONDS, wait_for_ready=False
            )
        except grpc.RpcError as exc:
            self._probed(exc)

    async def close(self) -> None:
        """Close the channel; calls still running on it end with ``CANCELLED``."""
        channel, self.channel = self.channel, None
        if channel is not None:
            await channel.close()


class AsyncEndpointPool(PoolHealth[AsyncEndpoint]):
    """The endpoints of one asyncio store, with the current one and failover between them.

    Raises:
        ConfigurationError: A TLS file cannot be read.
    """

    def __init__(self, config: EtcdConfig) -> None:
        super().__init__()
        self.config = config
        self.settings = ChannelSettings(config)
        self.endpoints = [AsyncEndpoint(address) for address in config.endpoints]
        self._closed = False

    def _new_endpoint(self, address: str) -> AsyncEndpoint:
        return AsyncEndpoint(address)

    async def _open(self, endpoint: AsyncEndpoint) -> None:
        """Create ``endpoint``'s channel and stubs and ask it to connect.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        if self.settings.needs_fetch(endpoint.address):
            # A blocking TLS connection: in a thread, never on the event loop.
            await asyncio.to_thread(self.settings.credentials_for, endpoint.address)
        self.open_now(endpoint)

    def open_now(self, endpoint: AsyncEndpoint) -> None:
        """Create ``endpoint``'s channel and stubs (in the running loop) if it has none.

        Raises:
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched (the fetch blocks: ``acquire`` does it in a thread first).
        """
        if self._closed or endpoint.channel is not None:
            return
        address = endpoint.address
        settings = self.settings
        if not self.config.uses_tls:
            channel = grpc.aio.insecure_channel(address, options=settings.options())
        else:
            channel = grpc.aio.secure_channel(
                address,
                settings.credentials_for(address),
                options=settings.channel_options(address),
            )
        endpoint._bind_stubs(channel)
        endpoint.channel = channel
        self._record_state(endpoint, channel.get_state(try_to_connect=True))

    def mark_failed(self, endpoint: AsyncEndpoint) -> None:
        """Pass over ``endpoint`` for a while, and move the current choice past it."""
        self._note_failure(endpoint)

    def prefer(self, address: str) -> None:
        """Send the next calls to ``address`` first (while it is healthy).

        Raises:
            ValueError: ``address`` is not one of the endpoints.
        """
        self._select(address)

    def ready_endpoint(self) -> AsyncEndpoint | None:
        """The current endpoint if it is connected and not suspect (``acquire``'s fast
        path, which needs no waiting), else ``None``."""
        endpoint = self.endpoints[self._current]
        channel = endpoint.channel
        if (
            channel is not None
            and channel.get_state() is _READY
            and endpoint.suspect_until <= time.monotonic()
        ):
            return endpoint
        return None

    async def acquire(self, deadline: float, operation: str) -> AsyncEndpoint:
        """A connected endpoint, waiting until ``deadline`` (and the dial timeout) at most.

        An endpoint that just failed is used only if no other one connects within
        about a second.

        Raises:
            UnavailableError: No endpoint connected in time; nothing was sent.
        """
        endpoint = self.ready_endpoint()
        if endpoint is not None:
            return endpoint
        return await self._acquire_slowly(deadline, operation)

    async def _open_missing(self) -> None:
        """Open the channels not created yet (or whose certificate fetch failed)."""
        for endpoint in self.endpoints:
            if endpoint.channel is None and not self._closed:
                # A certificate that cannot be fetched: another endpoint may do.
                with contextlib.suppress(UnavailableError):
                    await self._open(endpoint)

    def _look(self, *, connect: bool) -> None:
        for endpoint in self.endpoints:
            state = endpoint.refresh(connect=connect and endpoint.state is not _READY)
            if state is not None:
                self._record_state(endpoint, state)

    async def _acquire_slowly(self, deadline: float, operation: str) -> AsyncEndpoint:
        await self._open_missing()
        self._look(connect=False)
        picked = self._pick(allow_suspect=False)
        if picked is not None:
            return picked
        now = time.monotonic()
        wait_until = min(deadline, now + self.config.dial_timeout)
        suspect_from = min(wait_until, now + SUSPECT_SECONDS)
        self._look(connect=True)
        while not self._closed:
            now = time.monotonic()
            self._look(connect=False)
            picked = self._pick(allow_suspect=now >= suspect_from)
            if picked is not None:
                return picked
            if now >= wait_until:
                break
            await asyncio.sleep(min(_LOOK_AGAIN_SECONDS, max(wait_until - now, 0.001)))
            await self._open_missing()
            for candidate in self.endpoints:
                if candidate.state is _IDLE:
                    # gRPC's pick_first idles a channel whose connection was closed.
                    candidate.refresh(connect=True)
                await candidate.probe_failure()
            if all(candidate.tls_failure for candidate in self.endpoints):
                raise self._every_tls_failure(operation)
        raise self._unreachable(operation)

    async def close(self) -> None:
        """Close every channel."""
        self._closed = True
        for endpoint in [*self.endpoints, *self.retired]:
            await endpoint.close()


AsyncInvoke: TypeAlias = Callable[[AsyncEndpoint, float, Metadata], Awaitable[_T]]
"""Sends one request to an endpoint, with a timeout and auth metadata (``AsyncCaller.call``)."""
