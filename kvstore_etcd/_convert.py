"""Conversions between kvstore's requests and results and etcd's protobuf messages.

Pure functions, shared by the sync and the asyncio store (the requests they send, the
results they return) and by the watches (events): what a request becomes on the wire and
what an answer means is written once, here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

from etcd3.etcdrpc import kv_pb2, rpc_pb2

from kvstore.txn import (
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    Get,
    Op,
    Put,
    Txn,
)
from kvstore.types import (
    DeleteResult,
    EventType,
    KeyValue,
    OpResult,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    TxnResult,
    WatchEvent,
)

__all__ = [
    "delete_request",
    "delete_result",
    "end_key",
    "plain_range_request",
    "put_request",
    "put_result",
    "range_request",
    "range_result",
    "reads_at_revisions",
    "start_key",
    "to_key_value",
    "txn_request",
    "txn_result",
    "watch_event",
    "writes",
]

_COMPARE_RESULT = {
    CompareOp.EQUAL: rpc_pb2.Compare.EQUAL,
    CompareOp.NOT_EQUAL: rpc_pb2.Compare.NOT_EQUAL,
    CompareOp.LESS: rpc_pb2.Compare.LESS,
    CompareOp.GREATER: rpc_pb2.Compare.GREATER,
}
_COMPARE_TARGET = {
    CompareTarget.VALUE: (rpc_pb2.Compare.VALUE, "value"),
    CompareTarget.VERSION: (rpc_pb2.Compare.VERSION, "version"),
    CompareTarget.CREATE: (rpc_pb2.Compare.CREATE, "create_revision"),
    CompareTarget.MOD: (rpc_pb2.Compare.MOD, "mod_revision"),
    CompareTarget.LEASE: (rpc_pb2.Compare.LEASE, "lease"),
}

_SORT_TARGETS = {
    None: rpc_pb2.RangeRequest.KEY,
    SortTarget.KEY: rpc_pb2.RangeRequest.KEY,
    SortTarget.VERSION: rpc_pb2.RangeRequest.VERSION,
    SortTarget.CREATE: rpc_pb2.RangeRequest.CREATE,
    SortTarget.MOD: rpc_pb2.RangeRequest.MOD,
    SortTarget.VALUE: rpc_pb2.RangeRequest.VALUE,
}

_SORT_ORDERS = {
    None: rpc_pb2.RangeRequest.NONE,
    SortOrder.NONE: rpc_pb2.RangeRequest.NONE,
    SortOrder.ASCEND: rpc_pb2.RangeRequest.ASCEND,
    SortOrder.DESCEND: rpc_pb2.RangeRequest.DESCEND,
}

# ---------------------------------------------------------------------- results


def to_key_value(kv: Any) -> KeyValue:
    """A ``KeyValue`` from an etcd ``mvccpb.KeyValue`` message."""
    return KeyValue(
        kv.key.decode("utf-8", "replace"),
        kv.value,
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        kv.lease,
    )


def range_result(response: Any, revision: int = 0) -> RangeResult:
    """The ``RangeResult`` of a ``RangeResponse`` (``revision`` if its header has none)."""
    return RangeResult(
        tuple(map(to_key_value, response.kvs)),
        response.count,
        response.more,
        response.header.revision or revision,
    )


def put_result(response: Any, revision: int = 0) -> PutResult:
    """The ``PutResult`` of a ``PutResponse`` (``revision`` if its header has none)."""
    previous = to_key_value(response.prev_kv) if response.HasField("prev_kv") else None
    return PutResult(response.header.revision or revision, previous)


def delete_result(response: Any, revision: int = 0) -> DeleteResult:
    """The ``DeleteResult`` of a ``DeleteRangeResponse`` (``revision`` if it has none)."""
    return DeleteResult(
        response.header.revision or revision,
        response.deleted,
        tuple(map(to_key_value, response.prev_kvs)),
    )


def txn_result(response: Any, revision: int) -> TxnResult:
    """The ``TxnResult`` of a ``TxnResponse``; nested answers carry no header, so each
    operation's result gets the transaction's ``revision``."""
    responses: list[OpResult] = []
    for item in response.responses:
        kind = item.WhichOneof("response")
        if kind == "response_range":
            responses.append(range_result(item.response_range, revision))
        elif kind == "response_put":
            responses.append(put_result(item.response_put, revision))
        elif kind == "response_delete_range":
            responses.append(delete_result(item.response_delete_range, revision))
        elif kind == "response_txn":
            responses.append(txn_result(item.response_txn, revision))
    return TxnResult(response.succeeded, tuple(responses), response.header.revision or revision)


def watch_event(event: Any) -> WatchEvent:
    """The ``WatchEvent`` of an etcd ``mvccpb.Event``."""
    kind = EventType.DELETE if event.type == kv_pb2.Event.DELETE else EventType.PUT
    previous = to_key_value(event.prev_kv) if event.HasField("prev_kv") else None
    return WatchEvent(kind, to_key_value(event.kv), previous)


# ---------------------------------------------------------------------- requests


def start_key(key: str) -> bytes:
    """The wire form of a range's start key."""
    # An empty start key with a range end means "from the lowest key"; etcd refuses an
    # empty key, and "\0" is the lowest key there can be.
    return key.encode() if key else b"\0"


def end_key(range_end: str | None) -> bytes:
    """The wire form of a range end (empty: the start key alone)."""
    return b"" if range_end is None else range_end.encode()


@functools.lru_cache(maxsize=4096)
def plain_range_request(key: str) -> Any:
    """The ``RangeRequest`` of ``get``'s one-key read, built once per recent key (grpc
    serializes a request when it sends it, and nothing changes one once built)."""
    return rpc_pb2.RangeRequest(key=start_key(key))


def range_request(read: Get) -> Any:
    """The ``RangeRequest`` of a checked ``Get``."""
    if read.is_plain:
        return plain_range_request(read.key)
    return rpc_pb2.RangeRequest(
        key=start_key(read.key),
        range_end=end_key(read.range_end),
        revision=read.revision or 0,
        limit=max(read.limit, 0),
        keys_only=read.keys_only,
        count_only=read.count_only,
        sort_target=_SORT_TARGETS[read.sort_target],
        sort_order=_SORT_ORDERS[read.sort_order],
        min_create_revision=read.min_create_revision,
        max_create_revision=read.max_create_revision,
    )


def put_request(put: Put) -> Any:
    """The ``PutRequest`` of a checked ``Put``."""
    if not (put.lease or put.prev_kv or put.ignore_lease):
        return rpc_pb2.PutRequest(key=put.key.encode(), value=put.value)  # the usual put
    return rpc_pb2.PutRequest(
        key=put.key.encode(),
        value=put.value,
        lease=put.lease or 0,
        prev_kv=put.prev_kv,
        ignore_lease=put.ignore_lease,
    )


def delete_request(delete: Delete) -> Any:
    """The ``DeleteRangeRequest`` of a checked ``Delete``."""
    return rpc_pb2.DeleteRangeRequest(
        key=start_key(delete.key), range_end=end_key(delete.range_end), prev_kv=delete.prev_kv
    )


def txn_request(txn: Txn) -> Any:
    """The ``TxnRequest`` of a checked ``Txn`` (nested transactions included)."""
    return rpc_pb2.TxnRequest(
        compare=[_compare_message(compare) for compare in txn.compares],
        success=[_op_message(op) for op in txn.success],
        failure=[_op_message(op) for op in txn.failure],
    )


def _op_message(op: Op) -> Any:
    if isinstance(op, Put):
        return rpc_pb2.RequestOp(request_put=put_request(op))
    if isinstance(op, Get):
        return rpc_pb2.RequestOp(request_range=range_request(op))
    if isinstance(op, Delete):
        return rpc_pb2.RequestOp(request_delete_range=delete_request(op))
    return rpc_pb2.RequestOp(request_txn=txn_request(op))


def _compare_message(compare: Compare) -> Any:
    target, field = _COMPARE_TARGET[compare.target]
    message = rpc_pb2.Compare(
        result=_COMPARE_RESULT[compare.op],
        target=target,
        key=start_key(compare.key),
        range_end=end_key(compare.range_end),
    )
    setattr(message, field, compare.operand)
    return message


def writes(ops: Sequence[Op]) -> bool:
    """Whether any of ``ops`` (nested transactions included) writes."""
    for op in ops:
        if isinstance(op, (Put, Delete)):
            return True
        if isinstance(op, Txn) and (writes(op.success) or writes(op.failure)):
            return True
    return False


def reads_at_revisions(ops: Sequence[Op]) -> Iterator[Get]:
    """The ``Get`` ops of a transaction (nested ones too) that read at a past revision."""
    for op in ops:
        if isinstance(op, Get) and op.revision is not None:
            yield op
        elif isinstance(op, Txn):
            yield from reads_at_revisions([*op.success, *op.failure])
