"""``AsyncEtcdStore``: the etcd v3 backend on ``grpc.aio``, for asyncio applications.

The primitives are ``AsyncEtcdBase``'s, the same source the sync ``EtcdStore``'s are
generated from: the same requests, results, errors, failover and retry rules (see
``kvstore_etcd._async._calls``), auth with token renewal, TLS. What is this store's own
is here: watches on a task per stream (``kvstore_etcd._async._watch``), ``get_client``
(the ``grpc.aio`` channel) and ``aclose``.

Constructing the store needs no event loop and connects nothing: the channels are made
on first use, inside the running loop, and belong to it (use a store from one event loop).
"""
# unasync: no-twin

from __future__ import annotations

import contextlib
from typing import Any

import grpc

from kvstore.txn import WatchRequest
from kvstore_etcd._async._base import AsyncEtcdBase
from kvstore_etcd._async._watch import AsyncEtcdWatch, AsyncWatchMonitor
from kvstore_etcd._convert import end_key, start_key
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
        self._watches: set[AsyncEtcdWatch] = set()
        self._monitor: AsyncWatchMonitor | None = None

    # ------------------------------------------------------------------ watches

    def do_watch(self, request: WatchRequest) -> AsyncEtcdWatch:
        """Start a watch; returns at once (its stream is a task of the running loop).

        Errors of the watch's creation (``PermissionDeniedError``,
        ``AuthenticationError``, ``UnavailableError`` when no endpoint is reachable
        within the request timeout, ``CompactedError``) come from the iterator.

        Raises:
            StoreClosedError: The store was closed.
            RuntimeError: No event loop is running.
        """
        self._check_open("watch")
        watch = AsyncEtcdWatch(
            self,
            request.key,
            start_key(request.key),
            end_key(request.range_end),
            start_revision=request.start_revision,
            prev_kv=request.prev_kv,
        )
        watch.start()
        self._watches.add(watch)
        if self._monitor is None:
            self._monitor = AsyncWatchMonitor(
                self, self.config.dial_keepalive_time, self.config.dial_keepalive_timeout
            )
        return watch

    def watches(self) -> list[AsyncEtcdWatch]:
        """The watches running on this store."""
        return list(self._watches)

    def forget_watch(self, watch: AsyncEtcdWatch) -> None:
        """Stop tracking a cancelled watch (and the liveness monitor with the last one)."""
        self._watches.discard(watch)
        if not self._watches and self._monitor is not None:
            self._monitor.cancel()
            self._monitor = None

    # ------------------------------------------------------------------ lifecycle

    def get_client(self) -> Any:
        """The ``grpc.aio.Channel`` of the current endpoint, for calls kvstore lacks.

        It is made on first use (call this inside the event loop) and closed with the
        store; its errors are grpc's own.

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
        (watch streams, their monitor, keep-alives) has ended when it returns.
        """
        if self._closed:
            return
        self._caller.closed = True
        await super().aclose()
        watches, self._watches = self._watches, set()
        for watch in watches:
            with contextlib.suppress(Exception):
                await watch.cancel()
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            await monitor.stop()
        await self._close_calls()
