"""Read coalescing: concurrent reads at the current revision leave as one etcd Txn.

``AsyncEtcdStore.do_range`` hands every read at the current revision (``get``,
``get_kv``, ranges without a ``revision``) to the store's ``ReadCoalescer`` when
``EtcdConfig.coalesce_reads`` is on. The first read of an event-loop iteration schedules a
flush with ``loop.call_soon`` (no timer: nothing waits past the current iteration); the
reads issued until the loop is free again leave together, in chunks of at most
``max_txn_ops``, each chunk one read-only ``Txn`` of ``Range`` operations (a chunk of one
is a plain ``Range``, sent exactly as without coalescing).

Why each read stays linearizable: the Txn is sent after every read in it was issued, and
etcd serves a read-only Txn as a linearizable read (ReadIndex, like a Range) at one
revision, so each read sees every write that completed before it was issued, as it
would alone. A read issued after a write returned is in a later flush than the write.

Each read keeps its own result and its own error:

- a ``Range`` answer per read, converted as a lone ``Range``'s (the Txn's revision is
  each answer's revision, the same one a lone read at that instant would carry);
- a failure of the whole call that does not depend on what was read (the store closed,
  no endpoint reachable, a deadline, an authentication failure) is given to every read,
  translated for its own key as a lone read's would be;
- any other failure (the answer exceeds ``max_call_recv_msg_size``, a read the user may
  not do, a request over etcd's size limit) splits the chunk in two halves that are
  retried, down to single reads, which get exactly their lone error: a read that
  succeeds alone never fails for being batched;
- a caller cancelled before its answer came leaves the other reads of its chunk alone.

Writes and reads at a past revision never come here.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import (
    AuthenticationError,
    KVStoreError,
    OperationTimeoutError,
    StoreClosedError,
    UnavailableError,
)
from kvstore_etcd._errors import translate

if TYPE_CHECKING:
    from kvstore_etcd._async._calls import AsyncCaller
    from kvstore_etcd._async._endpoints import AsyncEndpoint
    from kvstore_etcd._metadata import Metadata

__all__ = ["WHOLE_CALL_ERRORS", "ReadCoalescer", "error_for_read"]

WHOLE_CALL_ERRORS = (
    StoreClosedError,
    UnavailableError,
    OperationTimeoutError,
    AuthenticationError,
)
"""Failures of a batch that a lone read would have met too: given to every read."""

Answer = tuple[Any, int]
"""A read's ``RangeResponse`` and the revision it was served at (a Range inside a Txn
carries no header of its own: the Txn's revision is its revision)."""

_Pending = tuple[str, Any, "asyncio.Future[Answer]"]


class ReadCoalescer:
    """Gathers the reads of one event-loop iteration into Txns (see the module docstring).

    Args:
        caller: The store's caller (failover, retries, auth, error translation).
        max_ops: Most reads in one Txn (``max_txn_ops``).
    """

    __slots__ = ("_caller", "_max_ops", "_pending", "_tasks")

    def __init__(self, caller: AsyncCaller, max_ops: int) -> None:
        self._caller = caller
        self._max_ops = max(max_ops, 1)
        self._pending: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def read(self, key: str, request: Any) -> asyncio.Future[Answer]:
        """Queue a read for the next flush.

        Args:
            key: The key read (errors name it).
            request: Its ``RangeRequest`` at the current revision.

        Returns:
            A future of the ``RangeResponse`` and its revision, or of the read's error.
        """
        pending = self._pending
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        if not pending:
            loop.call_soon(self._flush)
        pending.append((key, request, future))
        return future

    def _flush(self) -> None:
        reads = [read for read in self._pending if not read[2].done()]
        self._pending = []
        size = self._max_ops
        for start in range(0, len(reads), size):
            task = asyncio.ensure_future(self._send(reads[start : start + size]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, reads: list[_Pending]) -> None:
        if len(reads) == 1:  # a plain Range, exactly as without coalescing
            key, request, future = reads[0]
            try:
                response = await self._caller.unary("range", "Range", request, key=key)
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - handed to the reader
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result((response, response.header.revision))
            return
        endpoint_used: list[str] = []

        def invoke(endpoint: AsyncEndpoint, remaining: float, metadata: Metadata) -> Any:
            endpoint_used.append(endpoint.address)
            return endpoint.kv.Txn(txn, timeout=remaining, metadata=metadata)

        op = rpc_pb2.RequestOp
        txn = rpc_pb2.TxnRequest(success=[op(request_range=request) for _, request, _ in reads])
        try:
            response = await self._caller.call("range", invoke)
        except KVStoreError as exc:
            if isinstance(exc, WHOLE_CALL_ERRORS):
                where = endpoint_used[-1] if endpoint_used else None
                for key, _, future in reads:
                    if not future.done():
                        future.set_exception(error_for_read(exc, key, where))
                return
            middle = len(reads) // 2
            await asyncio.gather(self._send(reads[:middle]), self._send(reads[middle:]))
            return
        except asyncio.CancelledError:
            for _, _, future in reads:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the readers
            for _, _, future in reads:
                if not future.done():
                    future.set_exception(exc)
            return
        revision = response.header.revision
        for (_, _, future), item in zip(reads, response.responses, strict=True):
            if not future.done():
                future.set_result((item.response_range, revision))

    async def close(self) -> None:
        """Wait for the batches in flight (their readers get their answers or errors)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def error_for_read(error: KVStoreError, key: str, endpoint: str | None) -> KVStoreError:
    """The error a lone read of ``key`` would have raised where the batch met ``error``."""
    cause = error.__cause__
    if isinstance(cause, grpc.RpcError) and not isinstance(error, StoreClosedError):
        mine = translate(cause, operation="range", key=key, endpoint=endpoint)
        mine.__cause__ = cause
        return mine
    if isinstance(error, StoreClosedError):
        mine = StoreClosedError("range: the store is closed", key=key, operation="range")
        mine.__cause__ = cause
        return mine
    mine = copy.copy(error)
    mine.key = key
    mine.__traceback__ = None
    return mine
