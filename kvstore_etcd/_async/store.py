"""``AsyncEtcdStore``: the etcd v3 backend on ``grpc.aio``, for asyncio applications.

The primitives are ``AsyncEtcdBase``'s, the same source the sync ``EtcdStore``'s are
generated from: the same requests, results, errors, failover and retry rules (see
``kvstore_etcd._async._calls``), auth with token renewal, TLS. What is this store's own
is here: its watches and keep-alives on one stream each (``kvstore_etcd._async._watch_hub``,
``kvstore_etcd._async._keepalive_stream``), ``get_client`` (the ``grpc.aio`` channel) and
``aclose``.

Constructing the store needs no event loop and connects nothing: the channels are made
on first use, inside the running loop, and belong to it (use a store from one event loop).
"""
# unasync: no-twin

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Sequence
from typing import Any

import grpc

from kvstore.errors import KVStoreError, StoreClosedError
from kvstore.txn import WatchRequest
from kvstore_etcd._async._base import AsyncEtcdBase
from kvstore_etcd._async._coalesce import ReadCoalescer
from kvstore_etcd._async._keepalive_stream import KeepAliveStream
from kvstore_etcd._async._watch import AsyncEtcdWatch
from kvstore_etcd._async._watch_hub import WatchHub
from kvstore_etcd._watch_cursor import watch_cursor
from kvstore_etcd.config import EtcdConfig

__all__ = ["AsyncEtcdStore"]


class AsyncEtcdStore(AsyncEtcdBase):
    """An ``AsyncKVStore`` on an etcd v3 cluster, on ``grpc.aio``.

    Args:
        config: Endpoints, timeouts, credentials, TLS (default ``EtcdConfig()``:
            ``localhost:2379``). Connecting is lazy: the first call connects.

    Raises:
        ConfigurationError: A TLS or password file cannot be read, or a password variable
            is unset.
    """

    def __init__(self, config: EtcdConfig | None = None) -> None:
        super().__init__(config)
        self._watches: weakref.WeakSet[AsyncEtcdWatch] = weakref.WeakSet()
        self._hub: WatchHub | None = None
        self._keepalive_stream: KeepAliveStream | None = None
        if self.config.coalesce_reads:
            self._coalescer = ReadCoalescer(self._caller, self.max_txn_ops)

    # ------------------------------------------------------------------ streams

    def watch_hub(self) -> WatchHub:
        """The store's one Watch stream (made on first use, on the running loop).

        Returns:
            The ``WatchHub`` every watch of this store shares (one gRPC Watch stream).

        Raises:
            StoreClosedError: The store was closed.
            RuntimeError: No event loop is running.
        """
        self._check_open("watch")
        if self._hub is None:
            self._hub = WatchHub(self._caller, self.config)
        return self._hub

    def keepalive_stream(self) -> KeepAliveStream:
        """The store's one LeaseKeepAlive stream (opened by its first renewal).

        Returns:
            The ``KeepAliveStream`` every keep-alive of this store shares (made on first call; it
            opens its gRPC stream on the first renewal).
        """
        if self._keepalive_stream is None:
            self._keepalive_stream = KeepAliveStream(self._caller, self.config)
        return self._keepalive_stream

    async def lease_keepalive_many(self, lease_ids: Sequence[int]) -> list[int | KVStoreError]:
        """Renew leases on the store's one LeaseKeepAlive stream (``BaseStore``'s contract:
        a TTL or an error for each, in order).

        Returns:
            For each lease, in order, its new TTL or the ``KVStoreError`` its renewal met
            (``LeaseNotFoundError`` for a lease etcd no longer knows, ``UnavailableError`` when the
            stream fails, ``StoreClosedError`` for each once the store is closed); it raises nothing
            itself.
        """
        if self._closed:
            closed = StoreClosedError(
                "lease_keepalive: the store is closed", operation="lease_keepalive"
            )
            return [closed] * len(lease_ids)
        return await self.keepalive_stream().renew(list(lease_ids))

    async def lease_keepalive_idle(self) -> None:
        """Close the LeaseKeepAlive stream until the next keep-alive (``BaseStore``)."""
        if self._keepalive_stream is not None:
            await self._keepalive_stream.release()

    # ------------------------------------------------------------------ watches

    def do_watch(self, request: WatchRequest) -> AsyncEtcdWatch:
        """Start a watch on the store's shared stream; returns at once.

        Errors of the watch's creation (``PermissionDeniedError``,
        ``AuthenticationError``, ``UnavailableError`` when no endpoint is reachable
        within the request timeout, ``CompactedError``) come from the iterator.

        Returns:
            The started ``AsyncEtcdWatch``: iterate it for events, ``cancel()`` it to stop.

        Raises:
            StoreClosedError: The store was closed.
            RuntimeError: No event loop is running.
        """
        watch = AsyncEtcdWatch(self.watch_hub(), watch_cursor(request))
        self._watches.add(watch)
        watch.start()
        return watch

    def watches(self) -> list[AsyncEtcdWatch]:
        """The watches running on this store.

        Returns:
            A new list of this store's watches that are not cancelled.
        """
        return [watch for watch in self._watches if not watch.cancelled]

    def forget_watch(self, watch: AsyncEtcdWatch) -> None:
        """Stop tracking a cancelled watch."""
        self._watches.discard(watch)

    # ------------------------------------------------------------------ lifecycle

    def get_client(self) -> Any:
        """The ``grpc.aio.Channel`` of the current endpoint, for calls kvstore lacks.

        It is made on first use (call this inside the event loop) and closed with the
        store; its errors are grpc's own.

        Returns:
            The current endpoint's ``grpc.aio.Channel`` (calls on it bypass kvstore's retries and
            error translation).

        Raises:
            StoreClosedError: The store was closed.
            UnavailableError: With ``insecure_skip_verify``, the server certificate could
                not be fetched.
        """
        self._check_open("get_client")
        endpoint = self._pool.current
        if endpoint.channel is None:
            self._pool.open_now(endpoint)
        channel: grpc.aio.Channel | None = endpoint.channel
        return channel

    async def aclose(self) -> None:
        """Close the store: cancel watches, stop keep-alives, close the channels.

        Idempotent; later calls raise ``StoreClosedError``. Every task the store started
        (the watch and keep-alive streams, keep-alives) has ended when it returns.
        """
        if self._closed:
            return
        self._caller.closed = True
        await super().aclose()
        watches, self._watches = list(self._watches), weakref.WeakSet()
        for watch in watches:
            with contextlib.suppress(Exception):
                await watch.cancel()
        if self._hub is not None:
            await self._hub.close()
        if self._keepalive_stream is not None:
            await self._keepalive_stream.close()
        await self._close_calls()
        if self._coalescer is not None:
            await self._coalescer.close()
