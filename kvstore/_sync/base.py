# Generated from kvstore/_async/base.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``BaseStore``: the implementer's base class. Backends write the primitives; every
convenience of the ``KVStore`` interface is written here once, on top of them.

Primitives a backend implements (etcd's gRPC calls, one to one), each receiving a request
already checked by the caller-facing primitive of the same name without ``do_``:

- ``do_range`` (KV.Range), ``do_put`` (KV.Put), ``do_delete_range`` (KV.DeleteRange),
  ``do_txn`` (KV.Txn);
- ``do_watch`` (Watch.Watch): returns a ``Watch`` at once;
- ``lease_grant``, ``lease_revoke``, ``lease_keepalive_once``, ``lease_time_to_live``,
  ``lease_leases`` (the Lease service), ``compact_revision`` (KV.Compact);
- ``status``, ``member_list``, ``defragment``, ``alarms``, ``hash_kv`` (Maintenance and
  Cluster);
- ``close``: release connections and background work (call the base class's too).

Optional primitives (leases, watch, cluster) raise ``UnsupportedOperationError`` here;
a backend lists what it supports in ``capabilities``. Wrapper stores subclass
``WrapperStore`` and override only the primitives that carry keys or values.
"""

from __future__ import annotations

import abc
import builtins
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from kvstore._sync._context import Closing
from kvstore._sync.lease import KeepAlive, Lease, Renewals
from kvstore._sync.mirror import Mirror
from kvstore._sync.watch import Watch, run_callback
from kvstore.errors import (
    InvalidArgumentError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KVStoreError,
    LeaseExpiredError,
    LeaseNotFoundError,
    LockLostError,
    StoreClosedError,
    UnsupportedOperationError,
)
from kvstore.keys import (
    ALL_KEYS,
    MAX_REQUEST_BYTES,
    REQUEST_OVERHEAD_BYTES,
    check_key,
    check_lease_id,
    check_limit,
    check_revision,
    check_ttl,
    check_value,
    check_value_size,
    prefix_range_end,
)
from kvstore.recipes._sync import (
    Barrier,
    Counter,
    DoubleBarrier,
    Election,
    Lock,
    Party,
    PriorityQueue,
    Queue,
    RWLock,
    Semaphore,
    Session,
)
from kvstore.recipes._sync.stm import DEFAULT_STM_RETRIES, STM, Apply, Isolation
from kvstore.txn import (
    Compare,
    CreateRevision,
    Delete,
    Get,
    ModRevision,
    Op,
    Put,
    TransactionBuilder,
    Txn,
    Value,
    Version,
    WatchRequest,
    build_request,
    validate_request,
)
from kvstore.types import (
    AlarmInfo,
    Capability,
    DeleteResult,
    HashInfo,
    KeyValue,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    StatusInfo,
    TxnResult,
    WatchEvent,
)

__all__ = ["BaseStore"]

DEFAULT_MAX_TXN_OPS = 128
"""etcd's default ``--max-txn-ops``."""

_BULK_OP_FRAMING_BYTES = 64
"""Room per operation for its framing (and an encryption envelope) when chunking bulk ops."""

LeaseLike = Lease | int

_T = TypeVar("_T")


def _lease_id(lease: LeaseLike | None) -> int | None:
    if lease is None:
        return None
    return lease.id if isinstance(lease, Lease) else lease


_NO_RANGE_OPTIONS = (None, None, 0, False, False, None)
_NO_RANGE_BOUNDS = (None, 0, 0)


@functools.lru_cache(maxsize=4096)
def _plain_get(key: str) -> Get:
    """``Get(key)``, kept for the most recent keys (a request is immutable)."""
    return Get(key)


def _request_with_arguments(operation: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{operation}: pass a request object or its fields as arguments, not both",
        operation=operation,
    )


def _check_callable(function: object, name: str, operation: str) -> None:
    if function is not None and not callable(function):
        raise InvalidArgumentError(
            f"{operation}: {name} must be callable, not {type(function).__name__}",
            operation=operation,
        )


class BaseStore(Closing, abc.ABC):
    """Base class for backends: implement the primitives, inherit the conveniences.

    Attributes:
        capabilities: The optional capabilities the backend supports (``Capability`` names).
        value_compares: Whether the store evaluates ``Value`` compares and value sorts on
            the caller's values (false through a wrapper that encodes values).
        max_txn_ops: Most compares or operations in one transaction branch.
        max_request_bytes: The request size limit (keys, values and framing).
        range_page_size: Keys fetched per request by the paging reads (``list`` ...).
    """

    capabilities: frozenset[str] = frozenset()
    value_compares: bool = True
    max_txn_ops: int = DEFAULT_MAX_TXN_OPS
    max_request_bytes: int = MAX_REQUEST_BYTES
    range_page_size: int = 1000

    def __init__(self) -> None:
        self._closed = False
        self._renewals = Renewals(self)

    # ------------------------------------------------------------------ primitives

    def kv_range(
        self,
        request: Get | str,
        range_end: str | None = None,
        *,
        revision: int | None = None,
        limit: int = 0,
        keys_only: bool = False,
        count_only: bool = False,
        sort_target: SortTarget | None = None,
        sort_order: SortOrder | None = None,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
    ) -> RangeResult:
        """Read one key, or the keys in ``[key, range_end)``, ordered by key or sorted.

        Takes a ``Get`` request (``store.kv_range(Get("a", "b", limit=10))``), or its
        fields as arguments (``store.kv_range("a", "b", limit=10)``), which build the
        ``Get`` here; with a ``Get`` the other arguments must be left out. Backends
        implement ``do_range``, which receives the checked ``Get``.

        As etcd does, the create-revision bounds and an explicit sort order apply to the
        whole range before ``limit``, so ``sort_target=SortTarget.CREATE,
        sort_order=SortOrder.ASCEND, limit=1`` reads the oldest key of a range, and
        ``max_create_revision=r - 1, sort_target=SortTarget.CREATE,
        sort_order=SortOrder.DESCEND, limit=1`` the newest key created before ``r``.
        Without an order or a bound, etcd reads only the first ``limit + 1`` keys (by key)
        and a sort target sorts just those: pass the order to sort the whole range.
        ``count`` is the number of keys in the range before the bounds (etcd's count);
        ``more`` tells whether ``limit`` left out keys that passed them. A count-only read
        ignores the bounds. Keys that tie on the sort target come in key order on
        ``MemoryStore``; etcd does not promise an order among them.

        Args:
            request: A ``Get``, or the key (the start of the range).
            range_end: End of the range (exclusive); ``"\\0"`` means no upper bound.
            revision: Read as of this revision (``None``: the current one).
            limit: Most keys returned (0: no limit); ``more`` tells if some were left out.
            keys_only: Leave values out (``b""``).
            count_only: Return only the count.
            sort_target: Sort by this field (``None``: by key). With a target other than
                ``SortTarget.KEY`` and no order, the order is ascending.
            sort_order: ``SortOrder.ASCEND`` or ``DESCEND`` (``None`` or ``NONE``: key
                order, or ascending for a target other than the key).
            min_create_revision: Leave out keys created before this revision (0: none).
            max_create_revision: Leave out keys created after this revision (0: none).

        Returns:
            A ``RangeResult``: the matching ``kvs`` (values left out with ``keys_only``, none with
            ``count_only``), their ``count``, whether ``limit`` left some out (``more``) and the
            store ``revision`` the read saw.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``revision`` is not positive or is in the future, a sort
                argument is not a ``SortTarget`` / ``SortOrder``, a create-revision
                bound is not an int >= 0, or a ``Get`` came with other arguments.
            UnsupportedOperationError: The store cannot sort by this target (an
                ``EncryptedStore`` cannot sort by value).
            CompactedError: ``revision`` is below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if isinstance(request, Get):
            options = (range_end, revision, limit, keys_only, count_only, sort_target)
            bounds = (sort_order, min_create_revision, max_create_revision)
            if options != _NO_RANGE_OPTIONS or bounds != _NO_RANGE_BOUNDS:
                raise _request_with_arguments("range")
            return self.do_range(request)
        options = (range_end, revision, limit, keys_only, count_only, sort_target)
        bounds = (sort_order, min_create_revision, max_create_revision)
        plain = options == _NO_RANGE_OPTIONS and bounds == _NO_RANGE_BOUNDS
        if plain and type(limit) is type(min_create_revision) is type(max_create_revision) is int:
            # get's hot path: the one-key read, its request built once per key
            return self.do_range(_plain_get(check_key(request, operation="range")))
        return self.do_range(
            build_request(
                "range",
                Get,
                request,
                range_end,
                revision,
                limit,
                keys_only,
                count_only,
                sort_target=sort_target,
                sort_order=sort_order,
                min_create_revision=min_create_revision,
                max_create_revision=max_create_revision,
            )
        )

    def kv_put(
        self,
        request: Put | str,
        value: bytes | None = None,
        *,
        lease: int | None = None,
        prev_kv: bool = False,
    ) -> PutResult:
        """Write ``value`` at ``key``, optionally attached to a lease.

        Takes a ``Put`` request, or its fields as arguments (which build the ``Put``
        here). Backends implement ``do_put``, which receives the checked ``Put``.

        Returns:
            A ``PutResult``: the new store ``revision``, and the key's previous ``KeyValue``
            (``prev_kv``) when asked for and the key existed.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes, the lease id is not valid, or
                a ``Put`` came with other arguments.
            ValueTooLargeError: The request is over the size limit.
            LeaseNotFoundError: ``lease`` is not a live lease.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if isinstance(request, Put):
            if value is not None or lease is not None or prev_kv:
                raise _request_with_arguments("put")
            put = request
        else:
            put = build_request("put", Put, request, value, lease, prev_kv)
        check_value_size(
            put.key, put.value, operation="put", max_request_bytes=self.max_request_bytes
        )
        return self.do_put(put)

    def kv_delete_range(
        self, request: Delete | str, range_end: str | None = None, *, prev_kv: bool = False
    ) -> DeleteResult:
        """Delete one key, or the keys in ``[key, range_end)``.

        Takes a ``Delete`` request, or its fields as arguments (which build the
        ``Delete`` here). Backends implement ``do_delete_range``.

        Returns:
            A ``DeleteResult``: how many keys were ``deleted`` (0 is not an error), the store
            ``revision`` after the delete, and the deleted key-values when ``prev_kv`` was asked
            for.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: A ``Delete`` came with other arguments.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if isinstance(request, Delete):
            if range_end is not None or prev_kv:
                raise _request_with_arguments("delete")
            return self.do_delete_range(request)
        return self.do_delete_range(build_request("delete", Delete, request, range_end, prev_kv))

    def kv_txn(
        self,
        request: Txn | Iterable[Compare],
        success: Iterable[Op] = (),
        failure: Iterable[Op] = (),
    ) -> TxnResult:
        """Apply a transaction atomically, at one new revision if it writes.

        Takes a ``Txn`` request, or its compares and branches as arguments (which build
        the ``Txn`` here). The request is checked against etcd's rules (``max_txn_ops``,
        no key written twice, the request size) before the backend's ``do_txn`` sees it.

        Returns:
            A ``TxnResult``: whether the compares held (``succeeded``), the response of each
            operation of the branch that ran (``RangeResult``, ``PutResult``, ``DeleteResult`` or a
            nested ``TxnResult``), and the store ``revision`` after it.

        Raises:
            TransactionTooLargeError: A branch has more than ``max_txn_ops`` entries.
            DuplicateKeyError: A branch writes one key twice.
            ValueTooLargeError: The request is over the size limit.
            InvalidArgumentError: An operation or compare is not one, or a ``Txn`` came
                with branches.
            LeaseNotFoundError: A put names a lease that is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
            UnsupportedCompareError: A compare the store cannot evaluate (a ``Value`` compare
                through a wrapper that encodes values).
        """
        if isinstance(request, Txn):
            if success or failure:
                raise _request_with_arguments("txn")
            txn = request
        else:
            txn = Txn(request, success, failure)
        validate_request(
            txn, max_txn_ops=self.max_txn_ops, max_request_bytes=self.max_request_bytes
        )
        return self.do_txn(txn)

    @abc.abstractmethod
    def do_range(self, request: Get) -> RangeResult:
        """The backend's range read: ``kv_range`` with its request built and checked.

        Returns:
            The ``RangeResult`` of the request, as ``kv_range`` returns it.

        Raises:
            InvalidArgumentError: ``request.revision`` is in the future.
            CompactedError: ``request.revision`` is below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """

    @abc.abstractmethod
    def do_put(self, request: Put) -> PutResult:
        """The backend's put: ``kv_put`` with its request built and checked.

        Returns:
            The ``PutResult`` of the request, as ``kv_put`` returns it.

        Raises:
            LeaseNotFoundError: ``request.lease`` is not a live lease.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """

    @abc.abstractmethod
    def do_delete_range(self, request: Delete) -> DeleteResult:
        """The backend's delete: ``kv_delete_range`` with its request built and checked.

        Returns:
            The ``DeleteResult`` of the request, as ``kv_delete_range`` returns it.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """

    @abc.abstractmethod
    def do_txn(self, request: Txn) -> TxnResult:
        """The backend's transaction: ``kv_txn`` with its request built and checked
        against etcd's rules (``validate_txn``).

        Returns:
            The ``TxnResult`` of the request, as ``kv_txn`` returns it.

        Raises:
            LeaseNotFoundError: A put names a lease that is not live.
            InvalidArgumentError: A get's revision is in the future.
            CompactedError: A get's revision is below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """

    def watch_range(
        self,
        request: WatchRequest | str,
        range_end: str | None = None,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
    ) -> Watch:
        """Watch one key, or the keys in ``[key, range_end)``.

        Takes a ``WatchRequest``, or its fields as arguments (which build it here).
        Backends implement ``do_watch``.

        Args:
            request: A ``WatchRequest``, or the key (the start of the range).
            range_end: End of the range (exclusive); ``"\\0"`` means no upper bound.
            start_revision: Replay history from this revision (``None``: from now on).
            prev_kv: Include each key's previous value in the events.

        Returns:
            The ``Watch``, started at once: iterate it for its events, ``cancel()`` it
            (or leave its ``with`` block) to stop.

        Raises:
            InvalidKeyError: The key or range end is not valid.
            InvalidArgumentError: ``start_revision`` is not positive, or a
                ``WatchRequest`` came with other arguments.
            UnsupportedOperationError: The backend has no ``watch`` capability.
            StoreClosedError: The store was closed.
            CompactedError: From the iterator, when ``start_revision`` was compacted.
        """
        if isinstance(request, WatchRequest):
            if range_end is not None or start_revision is not None or prev_kv:
                raise _request_with_arguments("watch")
            return self.do_watch(request)
        return self.do_watch(
            WatchRequest(request, range_end, start_revision=start_revision, prev_kv=prev_kv)
        )

    def do_watch(self, request: WatchRequest) -> Watch:
        """The backend's watch: ``watch_range`` with its request built and checked.

        Returns:
            The ``Watch`` of the request, returned at once (its stream starts in the
            background).

        Raises:
            UnsupportedOperationError: The backend has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """
        raise self._unsupported("watch")

    def lease_grant(self, ttl: int) -> LeaseGrant:
        """Grant a lease of ``ttl`` seconds.

        Returns:
            A ``LeaseGrant``: the new lease's ``id`` and the ``ttl`` the store granted (it may round
            ``ttl`` up).

        Raises:
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("lease_grant")

    def lease_revoke(self, lease_id: int) -> None:
        """Revoke a lease and delete its keys.

        Raises:
            LeaseNotFoundError: The lease is not live.
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("lease_revoke")

    def lease_keepalive_once(self, lease_id: int) -> int:
        """Renew a lease once and return its new TTL.

        Returns:
            The lease's TTL in seconds after the renewal.

        Raises:
            LeaseNotFoundError: The lease is not live.
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("lease_keepalive_once")

    def lease_keepalive_many(self, lease_ids: Sequence[int]) -> builtins.list[int | KVStoreError]:
        """Renew several leases once each: what the keep-alives of this store call.

        Returns:
            For each lease, in order, its new TTL or the ``KVStoreError`` its renewal
            raised (``LeaseNotFoundError`` for a lease that is gone). This default renews
            them one by one with ``lease_keepalive_once``; the etcd backend sends them all
            on its one LeaseKeepAlive stream.
        """
        results: builtins.list[int | KVStoreError] = []
        for lease_id in lease_ids:
            try:
                results.append(self.lease_keepalive_once(lease_id))
            except KVStoreError as exc:
                results.append(exc)
        return results

    def lease_keepalive_idle(self) -> None:
        """The last keep-alive of this store ended (until the next one starts): a backend
        may release what renewing needed (etcd closes its LeaseKeepAlive stream). This
        default does nothing."""

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        """A lease's remaining TTL (and keys, if asked).

        Returns:
            A ``LeaseInfo``: the lease's remaining ``ttl`` and ``granted_ttl`` in seconds, and its
            ``keys`` when ``keys`` is true (else empty).

        Raises:
            LeaseNotFoundError: The lease is not live.
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("lease_time_to_live")

    def lease_leases(self) -> builtins.list[int]:
        """The ids of every live lease.

        Returns:
            The ids of the live leases, in no particular order.

        Raises:
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("lease_leases")

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        """Forget history below ``revision``; reads and watches below it then fail.

        Raises:
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            CompactedError: ``revision`` is below the current compact revision.
            UnsupportedOperationError: The backend keeps no history.
        """
        raise self._unsupported("compact_revision")

    def status(self) -> StatusInfo:
        """The state of the member that answers.

        Returns:
            A ``StatusInfo``: the answering member's version, database size, leader, raft index and
            term, and the store's current revision.

        Raises:
            UnsupportedOperationError: The backend has no cluster status.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("status")

    def member_list(self) -> builtins.list[MemberInfo]:
        """The members of the cluster.

        Returns:
            A ``MemberInfo`` per member: its id, name, peer and client URLs, and whether it is a
            learner.

        Raises:
            UnsupportedOperationError: The backend is not a cluster.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("member_list")

    def defragment(self) -> None:
        """Defragment the storage of the member that answers.

        Raises:
            UnsupportedOperationError: The backend has no such operation.
        """
        raise self._unsupported("defragment")

    def alarms(self) -> builtins.list[AlarmInfo]:
        """The active alarms of the cluster.

        Returns:
            An ``AlarmInfo`` per active alarm (member id and alarm type); empty when none is raised.

        Raises:
            UnsupportedOperationError: The backend has no alarms.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("alarms")

    def hash_kv(self, revision: int = 0) -> HashInfo:
        """A hash of the key-value store up to ``revision`` (0: the current one).

        Returns:
            A ``HashInfo``: the hash, the revision it covers and the compact revision at the time.

        Raises:
            UnsupportedOperationError: The backend has no such operation.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        raise self._unsupported("hash_kv")

    def get_client(self) -> Any:
        """The underlying client object of the backend.

        Returns:
            The backend's own client object, for calls kvstore does not wrap (etcd: python-etcd3's
            client in the sync API, a ``grpc.aio.Channel`` in asyncio); its errors are that
            client's own, not kvstore's.

        Raises:
            UnsupportedOperationError: The backend has no client to hand out.
        """
        raise self._unsupported("get_client")

    def close(self) -> None:
        """Close the store; later calls raise ``StoreClosedError``.

        Keep-alives end and report their leases lost (``lost``, ``on_lost``), since nothing
        renews them any more: locks and elections held through this store say so too.
        Idempotent. Backends extend it to release connections and watches.
        """
        self._closed = True
        for keepalive in self._renewals.close():
            keepalive.store_closed()

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    def _end_context(self) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers for backends

    def _check_open(self, operation: str) -> None:
        """Raise ``StoreClosedError`` if the store was closed."""
        if self._closed:
            raise StoreClosedError(f"{operation}: the store is closed", operation=operation)

    def _unsupported(self, operation: str) -> UnsupportedOperationError:
        return UnsupportedOperationError(
            f"{operation}: {type(self).__name__} does not support it", operation=operation
        )

    # ------------------------------------------------------------------ reads

    def get(self, key: str) -> bytes:
        """The value at ``key``.

        Returns:
            The value stored at ``key``.

        Raises:
            KeyNotFoundError: The key does not exist.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        kvs = self.kv_range(key).kvs  # not through get_kv: one call less per get
        if not kvs:
            raise KeyNotFoundError(f"get: key {key!r} not found", key=key, operation="get")
        return kvs[0].value

    def get_kv(self, key: str) -> KeyValue | None:
        """The value at ``key`` with its metadata, or ``None`` if absent.

        Returns:
            The ``KeyValue`` at ``key`` (value, create and mod revisions, version, lease), or
            ``None`` if the key does not exist.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        result = self.kv_range(key)
        return result.kvs[0] if result.kvs else None

    def get_with_revision(self, key: str, revision: int) -> bytes:
        """The value ``key`` had at store revision ``revision``.

        Returns:
            The value ``key`` had at ``revision``.

        Raises:
            KeyNotFoundError: The key did not exist at that revision.
            InvalidArgumentError: ``revision`` is not positive or is in the future.
            CompactedError: ``revision`` is below the compact revision.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        check_revision(revision, operation="get_with_revision", key=key)
        result = self.kv_range(key, revision=revision)
        if not result.kvs:
            raise KeyNotFoundError(
                f"get_with_revision: key {key!r} not found at revision {revision}",
                key=key,
                operation="get_with_revision",
            )
        return result.kvs[0].value

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (a count-only request: no value is transferred).

        Returns:
            ``True`` if the key exists, else ``False``.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return self.kv_range(key, count_only=True).count > 0

    def count(self, prefix: str) -> int:
        """How many keys start with ``prefix`` (``""``: every key); count-only.

        Returns:
            The number of keys that start with ``prefix``.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        start, end = self._prefix_bounds(prefix, "count")
        return self.kv_range(start, end, count_only=True).count

    def list(self, prefix: str) -> builtins.list[str]:
        """The keys that start with ``prefix``, in order (keys only, paged internally).

        Returns:
            The keys that start with ``prefix``, sorted, all read at one revision.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        start, end = self._prefix_bounds(prefix, "list")
        return [kv.key for kv in self._paged_range(start, end, keys_only=True)]

    def get_keys_with_prefix(self, prefix: str, limit: int = 0) -> builtins.list[str]:
        """At most ``limit`` keys starting with ``prefix`` (``limit <= 0``: all of them).

        Returns:
            The first ``limit`` keys (all of them for ``limit <= 0``) that start with ``prefix``,
            sorted.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            InvalidArgumentError: ``limit`` is not an int.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        check_limit(limit, operation="get_keys_with_prefix")
        if limit <= 0:
            return self.list(prefix)
        start, end = self._prefix_bounds(prefix, "get_keys_with_prefix")
        keys: builtins.list[str] = []
        for kv in self._paged_range(start, end, keys_only=True):
            keys.append(kv.key)
            if len(keys) >= limit:
                break
        return keys

    def get_keys_by_pattern(self, prefix: str, pattern: str) -> builtins.list[str]:
        """Keys starting with ``prefix`` whose full key contains ``pattern`` (a substring).

        Returns:
            The keys that start with ``prefix`` and contain ``pattern``, sorted.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return [key for key in self.list(prefix) if pattern in key]

    def get_multiple(self, prefix: str) -> dict[str, bytes]:
        """Every key starting with ``prefix`` with its value, ordered by key.

        Returns:
            A dict of each key that starts with ``prefix`` to its value, in key order, read at one
            revision.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        start, end = self._prefix_bounds(prefix, "get_multiple")
        return {kv.key: kv.value for kv in self._paged_range(start, end)}

    def list_with_values(self, prefix: str) -> dict[str, bytes]:
        """The same as ``get_multiple`` (the Go provider's ``ListWithValues``).

        Returns:
            A dict of each key that starts with ``prefix`` to its value, in key order.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return self.get_multiple(prefix)

    def get_range(self, start: str, end: str) -> dict[str, bytes]:
        """Every key in ``[start, end)`` with its value, ordered by key.

        Returns:
            A dict of each key in ``[start, end)`` to its value, in key order, read at one revision.

        Raises:
            InvalidKeyError: ``start`` or ``end`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        check_key(start, operation="get_range")
        check_key(end, operation="get_range")
        return {kv.key: kv.value for kv in self._paged_range(start, end)}

    def _prefix_bounds(self, prefix: str, operation: str) -> tuple[str, str]:
        check_key(prefix, operation=operation, allow_empty=True)
        if prefix == "":
            return ALL_KEYS, ALL_KEYS
        return prefix, prefix_range_end(prefix)

    def _paged_range(self, start: str, end: str, *, keys_only: bool = False) -> Iterator[KeyValue]:
        """Read ``[start, end)`` page by page, all pages at the first page's revision."""
        revision: int | None = None
        while True:
            page = self.kv_range(
                start, end, revision=revision, limit=self.range_page_size, keys_only=keys_only
            )
            revision = page.revision
            yield from page.kvs
            if not page.more or not page.kvs:
                return
            start = page.kvs[-1].key + "\0"

    # ------------------------------------------------------------------ writes

    def put(self, key: str, value: bytes, *, lease: LeaseLike | None = None) -> int:
        """Write ``value`` at ``key``.

        Args:
            lease: A ``Lease`` or lease id to attach the key to.

        Returns:
            The new store revision.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes.
            ValueTooLargeError: The request is over the size limit.
            LeaseNotFoundError: ``lease`` is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        return self.kv_put(key, value, lease=_lease_id(lease)).revision

    def put_with_lease(self, key: str, value: bytes, lease: LeaseLike) -> int:
        """Write ``value`` at ``key`` attached to ``lease``; same as ``put(..., lease=)``.

        Returns:
            The new store revision.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes, or ``lease`` is not a ``Lease`` or a
                positive int.
            ValueTooLargeError: The request is over the size limit.
            LeaseNotFoundError: ``lease`` is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        return self.put(key, value, lease=lease)

    def delete(self, key: str) -> int:
        """Delete ``key``.

        Returns:
            How many keys were deleted: 1, or 0 if it did not exist (not an error).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        return self.kv_delete_range(key).deleted

    def delete_prefix(self, prefix: str, *, allow_all: bool = False) -> int:
        """Delete every key that starts with ``prefix``.

        Args:
            allow_all: Must be true for ``prefix=""``, which deletes every key.

        Returns:
            How many keys were deleted.

        Raises:
            InvalidArgumentError: ``prefix`` is ``""`` and ``allow_all`` is not set.
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        check_key(prefix, operation="delete_prefix", allow_empty=True)
        if prefix == "" and not allow_all:
            raise InvalidArgumentError(
                "delete_prefix: prefix '' would delete every key; pass allow_all=True",
                operation="delete_prefix",
            )
        start, end = self._prefix_bounds(prefix, "delete_prefix")
        return self.kv_delete_range(start, end).deleted

    def put_if_not_exists(self, key: str, value: bytes) -> bool:
        """Write ``value`` at ``key`` only if the key does not exist (one transaction).

        Returns:
            Whether the value was written.

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``value`` is not bytes.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        result = self.kv_txn([CreateRevision(key) == 0], [Put(key, value)], [])
        return result.succeeded

    def compare_and_swap(self, key: str, old: bytes, new: bytes) -> bool:
        """Replace the value at ``key`` with ``new`` if it currently is ``old``.

        One transaction (``Value(key) == old``, then a put that keeps the key's lease)
        where the store compares values itself (``value_compares``); otherwise, as
        through ``EncryptedStore`` whose ciphertexts the server cannot compare, it reads
        the key, compares the value here, then writes in a transaction guarded by the
        key's mod revision. Either way the key keeps its lease.

        Returns:
            Whether the value was swapped (``False`` if absent or different).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``old`` or ``new`` is not bytes.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        old = check_value(old, operation="compare_and_swap", key=key)
        put = build_request("compare_and_swap", Put, key, new)  # checked before any read
        if self.value_compares:
            keep_lease = attrs.evolve(put, ignore_lease=True)
            return self.kv_txn([Value(key) == old], [keep_lease], []).succeeded
        while True:
            kv = self.get_kv(key)
            if kv is None or kv.value != old:
                return False
            guarded = Put(put.key, put.value, lease=kv.lease or None)
            if self.kv_txn([ModRevision(key) == kv.mod_revision], [guarded], []).succeeded:
                return True

    def move_key(self, old: str, new: str, *, overwrite: bool = True) -> None:
        """Rename ``old`` to ``new`` in one atomic transaction, keeping value and lease.

        Raises:
            KeyNotFoundError: ``old`` does not exist.
            KeyExistsError: ``new`` exists and ``overwrite`` is false.
            InvalidKeyError: A key is not valid, or ``old == new``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        check_key(old, operation="move_key")
        check_key(new, operation="move_key")
        if old == new:
            raise InvalidArgumentError(
                f"move_key: source and target are the same key {old!r}",
                key=old,
                operation="move_key",
            )
        while True:
            kv = self.get_kv(old)
            if kv is None:
                raise KeyNotFoundError(
                    f"move_key: key {old!r} not found", key=old, operation="move_key"
                )
            compares = [ModRevision(old) == kv.mod_revision]
            if not overwrite:
                compares.append(Version(new) == 0)
            result = self.kv_txn(
                compares, [Put(new, kv.value, lease=kv.lease or None), Delete(old)], []
            )
            if result.succeeded:
                return
            if not overwrite and self.exists(new):
                raise KeyExistsError(f"move_key: key {new!r} exists", key=new, operation="move_key")

    def bulk_put(self, mapping: Mapping[str, bytes], *, atomic: bool = True) -> int:
        """Write every key of ``mapping``.

        Args:
            atomic: One transaction for all (at most ``max_txn_ops`` keys and one request's
                size); if false, consecutive transactions in the mapping's order, each
                within ``max_txn_ops`` and the request size (a failure part-way leaves the
                earlier transactions applied).

        Returns:
            The store revision after the last write (the current one for an empty map).

        Raises:
            TransactionTooLargeError: ``atomic`` and more keys than ``max_txn_ops``
                (nothing is sent).
            ValueTooLargeError: ``atomic`` and the keys and values do not fit in one
                request, or one value alone is too large (nothing is sent).
            InvalidKeyError, InvalidArgumentError: ``mapping`` is not a mapping, or a key
                or value is invalid (nothing is sent).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        if not isinstance(mapping, Mapping):
            raise InvalidArgumentError(
                f"bulk_put: takes a mapping of keys to values, not {type(mapping).__name__}",
                operation="bulk_put",
            )
        ops = [
            Put(
                check_key(key, operation="bulk_put"),
                check_value(value, operation="bulk_put", key=key),
            )
            for key, value in mapping.items()
        ]
        for op in ops:
            check_value_size(
                op.key, op.value, operation="bulk_put", max_request_bytes=self.max_request_bytes
            )
        return self._bulk("bulk_put", ops, atomic)[0]

    def bulk_delete(self, keys: Iterable[str], *, atomic: bool = True) -> int:
        """Delete every key in ``keys``.

        Returns:
            How many keys were deleted.

        Raises:
            TransactionTooLargeError: ``atomic`` and more keys than ``max_txn_ops``.
            InvalidKeyError: A key is invalid, or ``keys`` is a single ``str`` (nothing is
                sent).
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        if isinstance(keys, (str, bytes)):
            raise InvalidKeyError(
                "bulk_delete: takes an iterable of keys, not a single key", operation="bulk_delete"
            )
        ops = [Delete(check_key(key, operation="bulk_delete")) for key in dict.fromkeys(keys)]
        return self._bulk("bulk_delete", ops, atomic)[1]

    def _bulk(self, operation: str, ops: Sequence[Put | Delete], atomic: bool) -> tuple[int, int]:
        self._check_open(operation)
        if not ops:
            return self.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision, 0
        revision = deleted = 0
        for chunk in [ops] if atomic else self._chunks(ops):
            result = self.kv_txn([], chunk, [])
            revision = result.revision
            deleted += sum(r.deleted for r in result.responses if isinstance(r, DeleteResult))
        return revision, deleted

    def _chunks(self, ops: Sequence[Put | Delete]) -> Iterable[Sequence[Put | Delete]]:
        """Split ops into transactions within both ``max_txn_ops`` and the request size."""
        budget = self.max_request_bytes - REQUEST_OVERHEAD_BYTES
        chunk: builtins.list[Put | Delete] = []
        used = 0
        for op in ops:
            cost = len(op.key.encode()) + _BULK_OP_FRAMING_BYTES
            if isinstance(op, Put):
                cost += len(op.value)
            if chunk and (len(chunk) >= self.max_txn_ops or used + cost > budget):
                yield chunk
                chunk, used = [], 0
            chunk.append(op)
            used += cost
        if chunk:
            yield chunk

    def transaction(self) -> TransactionBuilder:
        """Start a transaction: ``.if_(...).then(...).else_(...).commit()``.

        Returns:
            A new ``TransactionBuilder`` bound to this store; nothing is sent until its
            ``commit()``.
        """
        return TransactionBuilder(self)

    # ------------------------------------------------------------------ watches

    def watch(
        self,
        key: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watch:
        """Watch one key.

        Args:
            start_revision: Replay from this revision (``None``: only future changes).
            prev_kv: Include the previous key-value in each event.
            callback: If given, called for each event in the background (see
                ``kvstore.watch.run_callback``).
            on_error: With ``callback``: called with the error that ended the stream.

        Returns:
            The ``Watch`` (iterate it, or ``cancel()`` it to stop the callback).

        Raises:
            InvalidKeyError: ``key`` is not a valid key.
            InvalidArgumentError: ``start_revision`` is not positive.
            UnsupportedOperationError: The backend has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """
        check_key(key, operation="watch")
        return self._watch(key, None, start_revision, prev_kv, callback, on_error)

    def watch_prefix(
        self,
        prefix: str,
        *,
        start_revision: int | None = None,
        prev_kv: bool = False,
        callback: Callable[[WatchEvent], object] | None = None,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> Watch:
        """Watch every key that starts with ``prefix`` (``""``: every key).

        Arguments, return value and errors as ``watch``.

        Returns:
            The ``Watch`` (iterate it, or ``cancel()`` it to stop the callback).

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            InvalidArgumentError: ``start_revision`` is not positive, or ``callback`` / ``on_error``
                is not callable.
            UnsupportedOperationError: The backend has no ``watch`` capability.
            StoreClosedError: The store was closed.
        """
        start, end = self._prefix_bounds(prefix, "watch_prefix")
        return self._watch(start, end, start_revision, prev_kv, callback, on_error)

    def mirror(self, prefix: str) -> Mirror:
        """Keep every key under ``prefix`` (``""``: every key) in memory, fed by a watch,
        and read it locally (see ``kvstore.mirror``). It starts at once, in the background
        (a task of the running loop; a thread in the sync API); close it when done.

        Returns:
            The started ``Mirror``; ``mirror.wait_synced()`` before reading it for a
            complete view.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            UnsupportedOperationError: The backend has no watches.
            StoreClosedError: The store was closed.
        """
        self._check_open("mirror")
        check_key(prefix, operation="mirror", allow_empty=True)
        if Capability.WATCH not in self.capabilities:
            raise self._unsupported("mirror")
        return Mirror(self, prefix)

    def _watch(
        self,
        key: str,
        range_end: str | None,
        start_revision: int | None,
        prev_kv: bool,
        callback: Callable[[WatchEvent], object] | None,
        on_error: Callable[[BaseException], object] | None,
    ) -> Watch:
        request = WatchRequest(key, range_end, start_revision=start_revision, prev_kv=prev_kv)
        _check_callable(callback, "callback", "watch")
        _check_callable(on_error, "on_error", "watch")
        watch = self.watch_range(request)
        if callback is not None:
            run_callback(watch, callback, on_error)
        return watch

    # ------------------------------------------------------------------ leases

    def lease(self, ttl: int) -> Lease:
        """Grant a lease of ``ttl`` seconds (the store may round it up, as etcd does to 2).

        Returns:
            The granted ``Lease`` (its ``id`` and granted ``ttl``); nothing renews it until
            ``keep_alive`` is called.

        Raises:
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The backend has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        check_ttl(ttl, operation="lease")
        grant = self.lease_grant(ttl)
        return Lease(self, grant.id, grant.ttl)

    def keep_alive(
        self,
        lease: LeaseLike,
        *,
        on_lost: Callable[[LeaseExpiredError], object] | None = None,
    ) -> KeepAlive:
        """Renew ``lease`` in the background every TTL/3 until stopped or the store closes.

        Args:
            lease: A ``Lease``, or a lease id (its TTL is then asked of the store).
            on_lost: Called once if the lease expires anyway.

        Returns:
            The ``KeepAlive``: ``stop()`` it; its ``lost`` event tells of loss.

        Raises:
            InvalidArgumentError: ``lease`` is not a ``Lease`` or a positive int, or
                ``on_lost`` is not callable.
            LeaseNotFoundError: ``lease`` is an id the store does not know.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the TTL read a lease id needs (``UnavailableError``,
                ``OperationTimeoutError``); later renewals report their failures through ``lost``
                and ``on_lost``, never by raising here.
        """
        self._check_open("keep_alive")
        _check_callable(on_lost, "on_lost", "keep_alive")
        if not isinstance(lease, Lease):
            lease_id = check_lease_id(lease, operation="keep_alive")
            lease = Lease(self, lease_id, self.lease_time_to_live(lease_id).granted_ttl)
        return KeepAlive(self._renewals, lease, on_lost=on_lost)

    def revoke_lease(self, lease: LeaseLike) -> None:
        """Revoke a lease, deleting its keys.

        Given the ``Lease`` handle (as ``lease.revoke()`` does), the revoke is its owner's:
        the lease's keep-alives on this store end at once, setting ``lost`` and calling
        ``on_lost`` as for any loss, logged at DEBUG rather than as a warning. Given an
        id, which may be anyone's lease, its keep-alives learn of it at their next
        renewal and warn, as for a lease lost any other way.

        Raises:
            InvalidArgumentError: ``lease`` is not a ``Lease`` or a positive int.
            LeaseNotFoundError: The lease is not live.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        lease_id = check_lease_id(_lease_id(lease), operation="revoke_lease")
        if not isinstance(lease, Lease):
            # An id may be anyone's lease: its keep-alives learn at their next renewal.
            self.lease_revoke(lease_id)
            return
        gone = False
        with self._renewals.revoking(lease_id):
            try:
                self.lease_revoke(lease_id)
                gone = True
            except LeaseNotFoundError:
                gone = True
                raise
            finally:
                if gone:  # its keep-alives end, reporting at DEBUG: it was meant
                    self._renewals.ended_by_revoke(lease_id)

    # ------------------------------------------------------------------ coordination

    def new_lock(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> Lock:
        """A distributed lock named ``name`` (see ``kvstore.recipes.Lock``).

        Args:
            ttl: TTL of the lock's own session lease, if no ``session`` is given.
            session: Share an existing session instead of creating one per lock.
            on_lost: Called once if the session lease is lost while the lock is held.
            layout: ``"kvstore"`` (keys ``__kvstore/locks/<quoted name>/<lease hex>``) or
                ``"etcd"`` (``<name>/<lease hex>``: etcd's Go ``concurrency.Mutex`` and
                ``etcdctl lock``, which then exclude this lock and queue with it).

        Returns:
            The ``Lock``, not acquired yet: ``with lock:`` or ``lock.acquire()``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        """
        return Lock(self, name, ttl=ttl, session=session, on_lost=on_lost, layout=layout)

    def new_election(
        self,
        name: str,
        *,
        ttl: int = 60,
        session: Session | None = None,
        on_lost: Callable[[LockLostError], object] | None = None,
        layout: str = "kvstore",
    ) -> Election:
        """A leader election named ``name`` (see ``kvstore.recipes.Election``).

        Args:
            layout: ``"kvstore"`` (keys ``__kvstore/elections/<quoted name>/<lease hex>``)
                or ``"etcd"`` (``<name>/<lease hex>``: Go's ``concurrency.Election`` and
                ``etcdctl elect``).

        Returns:
            The ``Election``; ``election.campaign(value)`` to run for leader.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int, or ``layout`` is unknown.
        """
        return Election(self, name, ttl=ttl, session=session, on_lost=on_lost, layout=layout)

    def stm(
        self,
        apply: Apply[_T],
        isolation: Isolation = "serializable_snapshot",
        *,
        retries: int | None = DEFAULT_STM_RETRIES,
        prefetch: Iterable[str] = (),
    ) -> _T:
        """Run ``apply(stm)`` as one transaction, retried until it commits (Go's STM).

        ``apply`` reads with ``stm.get(key)`` (``None``: no such key), writes with
        ``stm.put(key, value)`` and ``stm.delete(key)`` (buffered until the commit, read
        back by later gets) and may run several times: it must act only through ``stm``.
        A transfer between two accounts, atomic whatever else runs::

            def transfer(stm):
                alice = int(stm.get("accounts/alice") or b"0")
                bob = int(stm.get("accounts/bob") or b"0")
                if alice < 10:
                    raise ValueError("insufficient funds")  # nothing is written
                stm.put("accounts/alice", str(alice - 10).encode())
                stm.put("accounts/bob", str(bob + 10).encode())

            store.stm(transfer)

        Args:
            apply: The transaction's body, called with a ``STM`` (one per call).
            isolation: ``"serializable_snapshot"`` (reads at one revision; the commit
                checks the keys read and written), ``"serializable"``,
                ``"repeatable_reads"`` or ``"read_committed"``, with the semantics of
                Go's ``concurrency`` (see ``kvstore.recipes._sync.stm``).
            retries: How many times a conflicting attempt runs again (``None``: forever).
            prefetch: Keys read at the start of each attempt, in one round trip.

        Returns:
            What the attempt that committed returned.

        Raises:
            STMConflictError: All ``retries + 1`` attempts conflicted; nothing was written.
            InvalidArgumentError: ``isolation``, ``retries`` or ``apply`` is not valid
                (checked before anything is read or written).
            InvalidKeyError: A key given to ``stm`` or ``prefetch`` is not valid.
            TransactionTooLargeError: The commit does not fit one transaction.
            UnsupportedOperationError: The store has no ``txn`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a read or the commit.
            Exception: Whatever ``apply`` raised; that attempt's writes are dropped.
        """
        runner = STM(self, isolation, retries=retries, prefetch=prefetch)
        return runner.run(apply)

    def new_rwlock(
        self,
        name: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> RWLock:
        """A readers-writer lock named ``name`` (see ``kvstore.recipes.RWLock``).

        ``with rw.read_lock():`` / ``with rw.write_lock():``.

        Returns:
            The ``RWLock``; nothing is acquired yet.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """
        return RWLock(self, name, ttl=ttl, on_lost=on_lost)

    def new_semaphore(
        self,
        name: str,
        limit: int,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> Semaphore:
        """One holder of the semaphore ``name`` of ``limit`` holders (``Semaphore``).

        Returns:
            The ``Semaphore`` holder, not acquired yet.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``limit`` is not an int >= 1, or ``ttl`` not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """
        return Semaphore(self, name, limit, ttl=ttl, on_lost=on_lost)

    def new_barrier(self, name: str) -> Barrier:
        """A barrier named ``name``: ``hold``, ``release``, ``wait`` (``Barrier``).

        Returns:
            The ``Barrier``; nothing is written until ``hold()``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """
        return Barrier(self, name)

    def new_double_barrier(self, name: str, count: int, *, ttl: int = 60) -> DoubleBarrier:
        """One member of the double barrier ``name`` of ``count`` members: ``enter``, ``leave``.

        Returns:
            This member's ``DoubleBarrier``; nothing is written until ``enter()``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
            InvalidArgumentError: ``count`` is not an int >= 1, or ``ttl`` not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """
        return DoubleBarrier(self, name, count, ttl=ttl)

    def new_queue(self, name: str) -> Queue:
        """A FIFO work queue named ``name``: ``put``, ``get``, ``len`` (``Queue``).

        Returns:
            The ``Queue`` (the queue's keys live under ``name``).

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """
        return Queue(self, name)

    def new_priority_queue(self, name: str) -> PriorityQueue:
        """A priority queue named ``name``, lower priorities first (``PriorityQueue``).

        Returns:
            The ``PriorityQueue``.

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """
        return PriorityQueue(self, name)

    def new_counter(self, name: str) -> Counter:
        """A counter named ``name``: ``add(n)``, ``value`` (``Counter``).

        Returns:
            The ``Counter`` (a missing counter key reads as 0).

        Raises:
            InvalidKeyError: ``name`` is not a valid key.
        """
        return Counter(self, name)

    def new_party(
        self,
        name: str,
        member: str,
        *,
        ttl: int = 60,
        on_lost: Callable[[LockLostError], object] | None = None,
    ) -> Party:
        """The membership of ``member`` in the party ``name``: ``join``, ``leave``, ``members``.

        Returns:
            The ``Party`` membership; ``member`` joins on ``join()``.

        Raises:
            InvalidKeyError: ``name`` or ``member`` is not a valid key.
            InvalidArgumentError: ``ttl`` is not a positive int.
            UnsupportedOperationError: The store has no ``leases`` capability.
        """
        return Party(self, name, member, ttl=ttl, on_lost=on_lost)
