"""Read coalescing for the sync ``EtcdStore``: reads of threads sharing a store, issued
while another read of the store is on the wire, leave together as one etcd Txn.

The asyncio store's coalescer (``kvstore_etcd._async._coalesce``) gathers the reads of one
event-loop iteration; threads have no iteration, so this one batches like a group commit:
a read that finds no read of the store in flight is sent at once, alone, as a plain
``Range`` (no added wait: there is no timer); reads issued while one is in flight queue,
and when it returns, the queued ones (at most ``max_txn_ops``) leave as one read-only
``Txn`` of ranges, sent by the first of their threads (the others wait for their answers).

Linearizable for the same reason as the asyncio store's: a batch is sent after every read
in it was issued, and etcd serves a read-only Txn as a linearizable read at one revision.
Errors follow the same rules: a failure of the whole call a lone read would have met too
(the store closed, no endpoint, a deadline, refused credentials) goes to every read with
its own key; any other splits the batch, down to single reads, which get their lone error.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from etcd3.etcdrpc import rpc_pb2

from kvstore.errors import KVStoreError
from kvstore_etcd._async._coalesce import WHOLE_CALL_ERRORS, error_for_read

if TYPE_CHECKING:
    from kvstore_etcd._endpoints import Endpoint
    from kvstore_etcd._metadata import Metadata
    from kvstore_etcd._sync._calls import Caller

__all__ = ["SyncReadCoalescer"]


class _Read:
    """One queued read: its request, then its answer or error; ``done`` is released when
    either is set (a lock acquired at creation: cheaper than an ``Event``)."""

    __slots__ = ("answer", "batch", "done", "error", "key", "request")

    def __init__(self, key: str, request: Any) -> None:
        self.key = key
        self.request = request
        self.answer: tuple[Any, int] | None = None
        self.error: BaseException | None = None
        self.batch: list[_Read] | None = None
        """Set when this read's thread is to send the next batch (it holds this read)."""
        self.done = threading.Lock()
        self.done.acquire()


class SyncReadCoalescer:
    """Batches the reads of threads sharing a store (see the module docstring).

    Args:
        caller: The store's caller (failover, retries, auth, error translation).
        max_ops: Most reads in one Txn (``max_txn_ops``).
    """

    def __init__(self, caller: Caller, max_ops: int) -> None:
        self._caller = caller
        self._max_ops = max(max_ops, 1)
        self._lock = threading.Lock()
        self._queue: list[_Read] = []
        self._busy = False

    def read(self, key: str, request: Any) -> tuple[Any, int]:
        """Read ``request`` (a ``RangeRequest`` at the current revision) of ``key``.

        Returns:
            The ``RangeResponse`` and the revision it was served at.

        Raises:
            KVStoreError: The read's own error (``Caller.unary``'s, for ``key``).
        """
        mine = _Read(key, request)
        with self._lock:
            if self._busy:
                self._queue.append(mine)
                lead = False
            else:
                self._busy = True
                lead = True
        if lead:
            self._send_and_pass_on([mine])
        else:
            try:
                mine.done.acquire()
            except BaseException:  # KeyboardInterrupt while waiting: the others go on
                self._abandon(mine)
                raise
            if mine.batch is not None:  # this thread sends the next batch
                self._send_and_pass_on(mine.batch)
        if mine.error is not None:
            raise mine.error
        assert mine.answer is not None
        return mine.answer

    def _send_and_pass_on(self, batch: list[_Read]) -> None:
        """Send ``batch`` (this thread's read first), answer its reads, then hand the next
        queued batch to one of its threads (or mark the store idle)."""
        try:
            self._send(batch)
        finally:
            for read in batch[1:]:
                read.done.release()
            self._pass_on()

    def _pass_on(self) -> None:
        """Hand the next queued reads to the first of their threads, or mark the store idle."""
        with self._lock:
            queued = self._queue[: self._max_ops]
            del self._queue[: self._max_ops]
            if not queued:
                self._busy = False
                return
            queued[0].batch = queued
        queued[0].done.release()

    def _abandon(self, mine: _Read) -> None:
        """``mine``'s thread stops waiting: take its read out of the queue, or, if that
        thread was to send a batch, hand the batch's other reads to the next of them."""
        with self._lock:
            if mine in self._queue:
                self._queue.remove(mine)
                return
            batch = mine.batch
            if batch is not None and len(batch) > 1:
                rest = batch[1:]
                rest[0].batch = rest
        if batch is None:  # a read of another thread's batch: that thread answers it
            return
        if len(batch) > 1:
            rest[0].done.release()
        else:
            self._pass_on()

    def _send(self, batch: list[_Read]) -> None:
        if len(batch) == 1:
            read = batch[0]
            try:
                response = self._caller.unary("range", "Range", read.request, key=read.key)
            except Exception as exc:  # noqa: BLE001 - the reader raises it
                read.error = exc
            else:
                read.answer = (response, response.header.revision)
            return
        endpoint_used: list[str] = []

        def invoke(endpoint: Endpoint, remaining: float, metadata: Metadata) -> Any:
            endpoint_used.append(endpoint.address)
            return endpoint.kv.Txn(txn, timeout=remaining, metadata=metadata)

        op = rpc_pb2.RequestOp
        txn = rpc_pb2.TxnRequest(success=[op(request_range=read.request) for read in batch])
        try:
            response = self._caller.call("range", invoke)
        except KVStoreError as exc:
            if isinstance(exc, WHOLE_CALL_ERRORS):
                where = endpoint_used[-1] if endpoint_used else None
                for read in batch:
                    read.error = error_for_read(exc, read.key, where)
                return
            middle = len(batch) // 2
            self._send(batch[:middle])
            self._send(batch[middle:])
            return
        except Exception as exc:  # noqa: BLE001 - every reader raises it
            for read in batch:
                read.error = exc
            return
        revision = response.header.revision
        for read, item in zip(batch, response.responses, strict=True):
            read.answer = (item.response_range, revision)

    def close(self) -> None:
        """Nothing to release: the reads in flight end with the store's channels."""
