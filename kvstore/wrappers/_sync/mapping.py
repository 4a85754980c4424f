# Generated from kvstore/wrappers/_async/mapping.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""Wrapper bases: a new wrapper store supplies a mapping, and nothing else.

- ``KeyMappingStore``: keys are mapped on the way in (``map_key`` / ``map_range``) and
  back on the way out (``unmap_key``): every key, range end, compare, operation, result
  and watch event. ``NamespacedStore`` is one.
- ``ValueMappingStore``: values are encoded on the way in (``encode``) and decoded on the
  way out (``decode``): puts (also inside transactions), range results, ``prev_kv``, get
  responses of transactions and watch events. ``EncryptedStore`` and ``CompressedStore``
  are two.

Both receive checked requests from ``BaseStore.kv_*`` (see ``kvstore.base``) and send
new requests to ``inner.kv_*``, so the inner store's own limits are checked on what it is
really sent (an encoded value may be larger than the one given). A closed wrapper's inner
store is closed too, so the inner store's own check raises ``StoreClosedError``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import TypeVar

import attrs

from kvstore._sync.watch import MappedWatch, Watch
from kvstore.errors import (
    UnsupportedCompareError,
    UnsupportedOperationError,
    ValueTooLargeError,
)
from kvstore.txn import Compare, CompareTarget, Delete, Get, Op, Put, Txn, WatchRequest
from kvstore.types import (
    DeleteResult,
    EventType,
    KeyValue,
    LeaseInfo,
    OpResult,
    PutResult,
    RangeResult,
    SortTarget,
    TxnResult,
    WatchEvent,
)
from kvstore.wrappers._sync.wrapper import WrapperStore

__all__ = ["KeyMappingStore", "ValueMappingStore", "map_txn"]

_Ranged = TypeVar("_Ranged", bound="Get | Delete | WatchRequest")


def map_txn(
    txn: Txn, compare: Callable[[Compare], Compare], op: Callable[[Put | Get | Delete], Op]
) -> Txn:
    """``txn`` with every compare and non-txn operation mapped, nested txns included."""

    def one(item: Op) -> Op:
        return map_txn(item, compare, op) if isinstance(item, Txn) else op(item)

    return Txn(
        [compare(c) for c in txn.compares],
        [one(o) for o in txn.success],
        [one(o) for o in txn.failure],
    )


class KeyMappingStore(WrapperStore):
    """A wrapper store whose keys are mapped; subclasses supply ``map_key``,
    ``map_range`` and ``unmap_key``. Leases, revisions and values pass unchanged.
    """

    @abc.abstractmethod
    def map_key(self, key: str) -> str:
        """The inner store's key for ``key``.

        Returns:
            The key under which the inner store holds ``key``.
        """

    @abc.abstractmethod
    def map_range(self, key: str, range_end: str | None) -> tuple[str, str | None]:
        """The inner store's range for ``[key, range_end)`` (``None``: the one key).

        Returns:
            The inner store's ``(key, range_end)``.
        """

    @abc.abstractmethod
    def unmap_key(self, key: str) -> str | None:
        """The caller's key for an inner key, or ``None`` if the caller cannot see it.

        Returns:
            The caller's key, or ``None`` for an inner key outside the caller's view (such keys are
            left out of results and events).
        """

    def _unmap_kv(self, kv: KeyValue) -> KeyValue:
        key = self.unmap_key(kv.key)
        assert key is not None, "the inner store answered with a key outside the mapping"
        return KeyValue(key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)

    def _unmap_optional(self, kv: KeyValue | None) -> KeyValue | None:
        return None if kv is None else self._unmap_kv(kv)

    def _map_compare(self, compare: Compare) -> Compare:
        key, range_end = self.map_range(compare.key, compare.range_end)
        return attrs.evolve(compare, key=key, range_end=range_end)

    def _map_keys(self, request: _Ranged) -> _Ranged:
        key, range_end = self.map_range(request.key, request.range_end)
        return attrs.evolve(request, key=key, range_end=range_end)

    def _map_op(self, op: Put | Get | Delete) -> Op:
        if isinstance(op, Put):
            return attrs.evolve(op, key=self.map_key(op.key))
        return self._map_keys(op)

    def _unmap_result(self, result: OpResult) -> OpResult:
        if isinstance(result, RangeResult):
            return attrs.evolve(result, kvs=tuple(self._unmap_kv(kv) for kv in result.kvs))
        if isinstance(result, PutResult):
            return attrs.evolve(result, prev_kv=self._unmap_optional(result.prev_kv))
        if isinstance(result, DeleteResult):
            return attrs.evolve(
                result, prev_kvs=tuple(self._unmap_kv(kv) for kv in result.prev_kvs)
            )
        return attrs.evolve(
            result, responses=tuple(self._unmap_result(r) for r in result.responses)
        )

    def _unmap_event(self, event: WatchEvent) -> WatchEvent:
        return WatchEvent(event.type, self._unmap_kv(event.kv), self._unmap_optional(event.prev_kv))

    def _unmap_kvs(self, kvs: Sequence[KeyValue]) -> tuple[KeyValue, ...]:
        return tuple(self._unmap_kv(kv) for kv in kvs)

    def do_range(self, request: Get) -> RangeResult:
        result = self.inner.kv_range(self._map_keys(request))
        return attrs.evolve(result, kvs=self._unmap_kvs(result.kvs))

    def do_put(self, request: Put) -> PutResult:
        result = self.inner.kv_put(attrs.evolve(request, key=self.map_key(request.key)))
        return attrs.evolve(result, prev_kv=self._unmap_optional(result.prev_kv))

    def do_delete_range(self, request: Delete) -> DeleteResult:
        result = self.inner.kv_delete_range(self._map_keys(request))
        return attrs.evolve(result, prev_kvs=self._unmap_kvs(result.prev_kvs))

    def do_txn(self, request: Txn) -> TxnResult:
        result = self.inner.kv_txn(map_txn(request, self._map_compare, self._map_op))
        unmapped = self._unmap_result(result)
        assert isinstance(unmapped, TxnResult)
        return unmapped

    def do_watch(self, request: WatchRequest) -> Watch:
        return MappedWatch(self.inner.watch_range(self._map_keys(request)), self._unmap_event)

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        info = self.inner.lease_time_to_live(lease_id, keys=keys)
        mine = (self.unmap_key(key) for key in info.keys)
        return attrs.evolve(info, keys=tuple(key for key in mine if key is not None))


class ValueMappingStore(WrapperStore):
    """A wrapper store whose values are encoded; subclasses supply ``encode`` and
    ``decode``. Keys, revisions, leases and counts pass unchanged.

    The server sees encoded values, so ``Value`` compares and reads sorted by value
    are refused (``UnsupportedCompareError`` / ``UnsupportedOperationError``, before
    anything is sent) and ``compare_and_swap`` reads, compares here and writes guarded
    by the mod revision (``value_compares`` is false).

    Attributes:
        value_hint: Why the server cannot compare or sort the values (for the errors).
        size_hint: Why an encoded transaction may be over the size limit when the
            caller's is not (added to that ``ValueTooLargeError``).
    """

    value_compares = False
    value_hint: str = "the server holds encoded values, not the values"
    size_hint: str = ""

    @abc.abstractmethod
    def encode(self, key: str, value: bytes) -> bytes:
        """The value stored in the inner store for ``value`` at ``key``.

        Returns:
            The bytes to store in the inner store.

        Raises:
            KVStoreError: A subclass's error for a value it cannot encode (``EncryptionError`` ...).
        """

    @abc.abstractmethod
    def decode(self, key: str, stored: bytes, operation: str) -> bytes:
        """The caller's value for the value ``stored`` at ``key`` in the inner store.

        Returns:
            The caller's value.

        Raises:
            KVStoreError: A subclass's error for a value it cannot decode.
        """

    def encode_put(self, put: Put, operation: str) -> Put:
        """The put sent to the inner store (subclasses may check sizes here).

        Returns:
            A copy of ``put`` with its value encoded.

        Raises:
            KVStoreError: A subclass's error for a value it cannot encode, or one over its size
                limit (``ValueTooLargeError``).
        """
        return attrs.evolve(put, value=self.encode(put.key, put.value))

    def _decode_kv(self, kv: KeyValue, operation: str) -> KeyValue:
        # the constructor, not attrs.evolve: this runs for every value read (3x faster)
        value = self.decode(kv.key, kv.value, operation)
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)

    def _decode_kvs(self, kvs: Sequence[KeyValue], operation: str) -> tuple[KeyValue, ...]:
        return tuple(self._decode_kv(kv, operation) for kv in kvs)

    def _refuse_value_sort(self, request: Get, operation: str) -> None:
        if request.sort_target is SortTarget.VALUE:
            raise UnsupportedOperationError(
                f"{operation}: cannot sort by value through {type(self).__name__}: "
                f"{self.value_hint}, so it would sort those; read the range and sort the "
                "values instead",
                key=request.key,
                operation=operation,
            )

    def _refuse_value_compare(self, compare: Compare) -> Compare:
        if compare.target is CompareTarget.VALUE:
            raise UnsupportedCompareError(
                f"txn: cannot compare the value of key {compare.key!r} through "
                f"{type(self).__name__}: {self.value_hint}, so the server cannot compare "
                "them; compare ModRevision or Version instead (compare_and_swap reads, "
                "compares and writes guarded by the mod revision)",
                key=compare.key,
                operation="txn",
            )
        return compare

    def _encode_op(self, op: Put | Get | Delete) -> Op:
        if isinstance(op, Put):
            return self.encode_put(op, "txn")
        if isinstance(op, Get):
            self._refuse_value_sort(op, "txn")
        return op

    def _decode_result(self, op: Op, result: OpResult) -> OpResult:
        if isinstance(result, RangeResult):
            if isinstance(op, Get) and (op.keys_only or op.count_only):
                return result
            return attrs.evolve(result, kvs=self._decode_kvs(result.kvs, "txn"))
        if isinstance(result, PutResult):
            if result.prev_kv is None:
                return result
            return attrs.evolve(result, prev_kv=self._decode_kv(result.prev_kv, "txn"))
        if isinstance(result, DeleteResult):
            return attrs.evolve(result, prev_kvs=self._decode_kvs(result.prev_kvs, "txn"))
        assert isinstance(op, Txn), "a nested txn result answers a Txn op"
        return self._decode_txn(op, result)

    def _decode_txn(self, request: Txn, result: TxnResult) -> TxnResult:
        ops = request.success if result.succeeded else request.failure
        responses = tuple(
            self._decode_result(op, response)
            for op, response in zip(ops, result.responses, strict=True)
        )
        return attrs.evolve(result, responses=responses)

    def do_range(self, request: Get) -> RangeResult:
        """Read keys with decoded values; as ``BaseStore.kv_range``, without value sorts.

        Returns:
            The inner store's ``RangeResult`` with each value decoded.

        Raises:
            UnsupportedOperationError: ``sort_target`` is ``SortTarget.VALUE``.
            KVStoreError: The subclass's error for a value it cannot decode
                (``DecryptionError``, ``CompressionError`` ...).
            CompactedError: ``request.revision`` is below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The inner store's backend failed the call.
        """
        self._refuse_value_sort(request, "range")
        result = self.inner.kv_range(request)
        if request.keys_only or request.count_only:
            return result
        kvs = self._decode_kvs(result.kvs, "range")
        return RangeResult(kvs, result.count, result.more, result.revision)

    def do_put(self, request: Put) -> PutResult:
        result = self.inner.kv_put(self.encode_put(request, "put"))
        if result.prev_kv is None:
            return result
        return attrs.evolve(result, prev_kv=self._decode_kv(result.prev_kv, "put"))

    def do_delete_range(self, request: Delete) -> DeleteResult:
        result = self.inner.kv_delete_range(request)
        if not result.prev_kvs:
            return result
        return attrs.evolve(result, prev_kvs=self._decode_kvs(result.prev_kvs, "delete"))

    def do_txn(self, request: Txn) -> TxnResult:
        """Apply a transaction: puts are encoded, reads decoded.

        A decoding error from a get or ``prev_kv`` response is raised after the
        transaction was applied (its writes are in the store).

        Returns:
            The inner store's ``TxnResult`` with the values of its get and ``prev_kv`` responses
            decoded.

        Raises:
            UnsupportedCompareError: A compare (also in a nested txn) is on ``Value``
                (checked after etcd's limits, before anything is sent).
            UnsupportedOperationError: A get (also in a nested txn) sorts by
                ``SortTarget.VALUE`` (checked before anything is sent).
            ValueTooLargeError: An encoded put makes the request too large (the message
                says why, from ``size_hint``).
            KVStoreError: The subclass's error for a value it cannot encode or decode
                (``DecryptionError``, ``CompressionError`` ...), and the inner store's, as
                ``BaseStore.kv_txn`` lists them.
            StoreClosedError: The store was closed.
            BackendError: The inner store's backend failed the call (``IndeterminateError``:
                the transaction may have been applied).
        """
        encoded = map_txn(request, self._refuse_value_compare, self._encode_op)
        try:
            result = self.inner.kv_txn(encoded)
        except ValueTooLargeError as exc:
            if not self.size_hint:
                raise
            raise ValueTooLargeError(
                f"{exc.message} ({self.size_hint})", key=exc.key, operation=exc.operation
            ) from exc
        return self._decode_txn(request, result)

    def do_watch(self, request: WatchRequest) -> Watch:
        """Watch keys; events carry decoded values.

        An event whose value cannot be decoded raises the decoding error from the
        iterator; the watch goes on with the next event.

        Returns:
            A ``Watch`` over the inner store's watch whose events carry decoded values.

        Raises:
            UnsupportedOperationError: The inner store has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """
        return MappedWatch(self.inner.watch_range(request), self._decode_event)

    def _decode_event(self, event: WatchEvent) -> WatchEvent:
        # A delete event's kv is a tombstone with an empty value: nothing to decode.
        kv = event.kv if event.type is EventType.DELETE else self._decode_kv(event.kv, "watch")
        prev = None if event.prev_kv is None else self._decode_kv(event.prev_kv, "watch")
        return WatchEvent(event.type, kv, prev)
