"""``KeepAliveStream``: all kept-alive leases of one store on one LeaseKeepAlive stream
(SPEC 16), as Go's clientv3 does.

Written once on ``grpc.aio``, like the store's ``WatchHub``
(``kvstore_etcd._async._watch_hub``): the asyncio ``AsyncEtcdStore`` runs it on its event
loop, the sync ``EtcdStore`` on its stream thread (``kvstore_etcd._loop``).
``renew(lease_ids)`` writes one request per lease on the shared stream and waits for
etcd's answers, matched by lease id (``AsyncRenewals`` of ``kvstore.lease`` calls it
through ``lease_keepalive_many``).
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import TYPE_CHECKING, Any

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import KVStoreError, LeaseNotFoundError, StoreClosedError, UnavailableError
from kvstore_etcd._errors import STREAM_WRITE_ERRORS, is_invalid_token, map_errors, translate
from kvstore_etcd._metadata import Metadata, with_leader

if TYPE_CHECKING:
    from kvstore_etcd._async._calls import AsyncCaller
    from kvstore_etcd._async._endpoints import AsyncEndpoint
    from kvstore_etcd.config import EtcdConfig

__all__ = ["KeepAliveStream"]


class _LeaseCall:
    """One open LeaseKeepAlive stream and the renewals waiting for its answers."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.waiting: dict[int, collections.deque[asyncio.Future[int]]] = {}
        self.reader: asyncio.Task[None] | None = None


class KeepAliveStream:
    """All keep-alive requests of one store on one LeaseKeepAlive stream.

    etcd answers each request with the lease's new TTL (0: the lease is gone); answers are
    matched to requests by lease id, first in, first out. A stream that breaks or stays
    silent for the request timeout fails what waits on it with ``UnavailableError`` (the
    keep-alives retry until their lease's deadline) and is opened again by the next
    ``renew``.
    """

    def __init__(self, caller: AsyncCaller, config: EtcdConfig) -> None:
        self._caller = caller
        self._config = config
        self._current: _LeaseCall | None = None
        self._opening = asyncio.Lock()
        self._closed = False
        self.streams_opened = 0
        """How many streams were opened (one, plus one per failure)."""

    async def renew(self, lease_ids: list[int]) -> list[int | KVStoreError]:
        """Renew each lease once: its new TTL, or the error its renewal met, in order.

        ``LeaseNotFoundError`` for a lease etcd no longer knows, ``UnavailableError`` when
        the stream broke or no endpoint answered within the request timeout,
        ``StoreClosedError`` once the store closed.
        """
        await self._caller.maybe_sync()
        deadline = time.monotonic() + self._config.request_timeout
        try:
            stream = await self._open(deadline)
        except KVStoreError as exc:
            return [exc] * len(lease_ids)
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[int]] = []
        for lease_id in lease_ids:
            future: asyncio.Future[int] = loop.create_future()
            stream.waiting.setdefault(lease_id, collections.deque()).append(future)
            futures.append(future)
        try:
            for lease_id in lease_ids:
                await stream.call.write(rpc_pb2.LeaseKeepAliveRequest(ID=lease_id))
            await asyncio.wait(futures, timeout=max(deadline - time.monotonic(), 0.001))
        except STREAM_WRITE_ERRORS:
            pass  # the stream broke: its reader fails what waits
        except asyncio.CancelledError:
            if not stream.call.cancelled():
                raise
            # The stream was ended (it failed, or the store closes): what waits failed.
        if not all(future.done() for future in futures):
            self._fail(
                stream,
                UnavailableError(
                    "lease_keepalive: etcd did not answer within the request timeout",
                    operation="lease_keepalive",
                ),
            )
        return [
            _outcome(future, lease_id) for future, lease_id in zip(futures, lease_ids, strict=True)
        ]

    async def _open(self, deadline: float) -> _LeaseCall:
        async with self._opening:
            if self._closed:
                raise StoreClosedError(
                    "lease_keepalive: the store is closed", operation="lease_keepalive"
                )
            if self._current is not None:
                return self._current
            caller = self._caller
            await caller.maybe_sync()
            endpoint = await caller.pool.acquire(deadline, "lease_keepalive")
            metadata = await caller.stream_metadata(endpoint, deadline)
            with map_errors("lease_keepalive", endpoint=endpoint.address):
                call = endpoint.lease.LeaseKeepAlive(metadata=with_leader(metadata))
            stream = self._current = _LeaseCall(call)
            self.streams_opened += 1
            stream.reader = asyncio.get_running_loop().create_task(
                self._read(stream, endpoint, metadata), name="kvstore-etcd-keepalive-stream"
            )
            return stream

    async def _read(self, stream: _LeaseCall, endpoint: AsyncEndpoint, metadata: Metadata) -> None:
        error: KVStoreError
        try:
            while True:
                response = await stream.call.read()
                if response is grpc.aio.EOF:
                    error = UnavailableError(
                        "lease_keepalive: the stream ended", operation="lease_keepalive"
                    )
                    break
                waiting = stream.waiting.get(response.ID)
                if waiting:
                    future = waiting.popleft()
                    if not waiting:
                        del stream.waiting[response.ID]
                    if not future.done():
                        future.set_result(int(response.TTL))
        except asyncio.CancelledError:
            if not stream.call.cancelled():
                raise
            return  # ended by ``_fail``, which failed what waited
        except grpc.RpcError as exc:
            if is_invalid_token(exc):
                self._caller.forget_token(metadata)
            error = _retryable(
                translate(exc, operation="lease_keepalive", endpoint=endpoint.address)
            )
        if self._current is stream and not self._closed:
            self._caller.pool.mark_failed(endpoint)
        self._fail(stream, error)

    def _fail(self, stream: _LeaseCall, error: KVStoreError) -> None:
        """End ``stream`` and fail every renewal waiting on it."""
        stream.call.cancel()
        if self._current is stream:
            self._current = None
        waiting, stream.waiting = stream.waiting, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_exception(error)

    async def release(self) -> None:
        """Close the stream while no lease is kept alive (the next ``renew`` opens one)."""
        await self._end(
            UnavailableError("lease_keepalive: the stream was closed", operation="lease_keepalive")
        )

    async def close(self) -> None:
        """Close the stream; what waits on it fails with ``StoreClosedError``."""
        self._closed = True
        await self._end(
            StoreClosedError("lease_keepalive: the store was closed", operation="lease_keepalive")
        )

    async def _end(self, error: KVStoreError) -> None:
        stream = self._current
        if stream is None:
            return
        self._fail(stream, error)
        if stream.reader is not None:
            stream.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream.reader


def _retryable(error: KVStoreError) -> KVStoreError:
    """A broken keep-alive stream is a transient failure: the renewal is retried."""
    if isinstance(error, UnavailableError):
        return error
    return UnavailableError(
        f"lease_keepalive: the stream failed: {error}", operation="lease_keepalive"
    )


def _outcome(future: asyncio.Future[int], lease_id: int) -> int | KVStoreError:
    if future.cancelled():
        return UnavailableError("lease_keepalive: cancelled", operation="lease_keepalive")
    error = future.exception()
    if error is not None:
        return error if isinstance(error, KVStoreError) else UnavailableError(str(error))
    ttl = future.result()
    if ttl <= 0:
        return LeaseNotFoundError(
            f"lease_keepalive: lease {lease_id:#x} not found", operation="lease_keepalive"
        )
    return ttl
