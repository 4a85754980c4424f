"""``EtcdStore``: the etcd v3 backend, on etcd's generated gRPC stubs.

Every primitive is one gRPC call (``KV.Range``, ``KV.Put`` ...) on a channel managed by
``EndpointPool``: arguments are checked with ``kvstore.keys`` / ``validate_txn`` before
anything is sent, so bad input gets the same error as on the memory backend; each call
is bounded by ``request_timeout``; gRPC errors are translated in ``_errors``.

Failover and retries, within the call's ``request_timeout``, decided per call:

- Reads (``kv_range``, read-only ``kv_txn``, ``status``, ``member_list`` ...) go to
  another endpoint when one is unavailable.
- Idempotent lease calls are retried like reads, also when the first attempt's outcome is
  unknown (the member died or stalled mid-call): ``lease_grant``, because a lost grant only
  leaves an orphan lease nobody knows the id of, which expires by itself after its TTL;
  ``lease_keepalive_once``, ``lease_time_to_live`` and ``lease_leases``, because sending
  them twice has the same effect as once. Each attempt of these gets at most half of the
  remaining time when there are other endpoints, so a member that stalls (a follower
  forwarding to a dead leader) leaves time for an attempt elsewhere. When every attempt
  fails they raise ``UnavailableError`` or ``OperationTimeoutError``, never
  ``IndeterminateError``.
- Other writes (``kv_put``, ``kv_delete_range``, writing ``kv_txn``, ``lease_revoke``,
  ``compact_revision``) are retried only when they provably never left the client, and
  otherwise raise ``IndeterminateError``: applying them twice is not the same as once
  (a second revoke or compaction fails, a second put bumps the version).

With auth, an expired token is renewed transparently once per call.

``status().compact_revision``: etcd's Status response does not carry it, so the store
remembers the highest compact revision it has learnt (its own ``compact_revision`` calls,
``hash_kv`` answers, ``CompactedError`` probes) and ``status`` checks it with one more
cheap call, a count-only read of one key at that revision. That read works exactly when
nobody compacted further; otherwise (another client compacted) a binary search over
such reads finds the new one (about log2(revision) calls, once per outside compaction).
"""

from __future__ import annotations

import builtins
import contextlib
import operator
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, TypeVar

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.base import BaseStore
from kvstore.errors import (
    CompactedError,
    KVStoreError,
    LeaseNotFoundError,
    StoreClosedError,
)
from kvstore.keys import (
    MIN_LEASE_TTL,
    check_lease_id,
    check_revision,
    check_ttl,
)
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
    AlarmInfo,
    Capability,
    DeleteResult,
    HashInfo,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    OpResult,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    StatusInfo,
    TxnResult,
)
from kvstore.watch import Watch, WatchRequest
from kvstore_etcd import _watch, _wire
from kvstore_etcd._convert import to_key_value
from kvstore_etcd._endpoints import Endpoint, EndpointPool
from kvstore_etcd._errors import (
    closed_channel_error,
    compacted_error,
    is_deadline,
    is_invalid_token,
    is_unavailable,
    map_errors,
    never_sent,
    refused_lease_error,
    translate,
)
from kvstore_etcd.config import EtcdConfig

__all__ = ["EtcdStore"]

T = TypeVar("T")
Metadata = tuple[tuple[str, str], ...] | None

_RETRY_FIRST_DELAY = 0.02
_RETRY_MAX_DELAY = 0.5
_COMPACT_PROBE_SECONDS = 2.0
_MIN_ATTEMPT_SECONDS = 0.5
"""An idempotent call's attempt is shortened to half the remaining time only above this."""

RpcMethod = Literal[
    "Range",
    "Put",
    "DeleteRange",
    "Txn",
    "Compact",
    "LeaseGrant",
    "LeaseRevoke",
    "LeaseTimeToLive",
    "LeaseLeases",
    "Status",
    "MemberList",
    "Defragment",
    "Alarm",
    "HashKV",
]
"""The etcd RPCs that ``EtcdStore`` sends as one unary call."""

_STUB_METHODS: dict[RpcMethod, Callable[[Endpoint], Any]] = {
    "Range": operator.attrgetter("kv.Range"),
    "Put": operator.attrgetter("kv.Put"),
    "DeleteRange": operator.attrgetter("kv.DeleteRange"),
    "Txn": operator.attrgetter("kv.Txn"),
    "Compact": operator.attrgetter("kv.Compact"),
    "LeaseGrant": operator.attrgetter("lease.LeaseGrant"),
    "LeaseRevoke": operator.attrgetter("lease.LeaseRevoke"),
    "LeaseTimeToLive": operator.attrgetter("lease.LeaseTimeToLive"),
    # Not in python3-etcd3's generated stubs: ``Endpoint`` builds these two itself.
    "LeaseLeases": operator.attrgetter("lease_leases"),
    "MemberList": operator.attrgetter("member_list"),
    "Status": operator.attrgetter("maintenance.Status"),
    "Defragment": operator.attrgetter("maintenance.Defragment"),
    "Alarm": operator.attrgetter("maintenance.Alarm"),
    "HashKV": operator.attrgetter("maintenance.HashKV"),
}
"""Each RPC's callable on a connected ``Endpoint`` (its channel's stubs)."""

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


def _start(key: str) -> bytes:
    # An empty start key with a range end means "from the lowest key"; etcd refuses an
    # empty key, and "\0" is the lowest key there can be.
    return key.encode() if key else b"\0"


def _end(range_end: str | None) -> bytes:
    return b"" if range_end is None else range_end.encode()


def _range_result(response: Any, revision: int = 0) -> RangeResult:
    return RangeResult(
        tuple(map(to_key_value, response.kvs)),
        response.count,
        response.more,
        response.header.revision or revision,
    )


def _put_result(response: Any, revision: int = 0) -> PutResult:
    previous = to_key_value(response.prev_kv) if response.HasField("prev_kv") else None
    return PutResult(response.header.revision or revision, previous)


def _delete_result(response: Any, revision: int = 0) -> DeleteResult:
    return DeleteResult(
        response.header.revision or revision,
        response.deleted,
        tuple(map(to_key_value, response.prev_kvs)),
    )


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


def _range_request(read: Get) -> Any:
    return rpc_pb2.RangeRequest(
        key=_start(read.key),
        range_end=_end(read.range_end),
        revision=read.revision or 0,
        limit=max(read.limit, 0),
        keys_only=read.keys_only,
        count_only=read.count_only,
        sort_target=_SORT_TARGETS[read.sort_target],
        sort_order=_SORT_ORDERS[read.sort_order],
        min_create_revision=read.min_create_revision,
        max_create_revision=read.max_create_revision,
    )


def _put_request(put: Put) -> Any:
    return rpc_pb2.PutRequest(
        key=put.key.encode(),
        value=put.value,
        lease=put.lease or 0,
        prev_kv=put.prev_kv,
        ignore_lease=put.ignore_lease,
    )


def _delete_request(delete: Delete) -> Any:
    return rpc_pb2.DeleteRangeRequest(
        key=_start(delete.key), range_end=_end(delete.range_end), prev_kv=delete.prev_kv
    )


def _op_message(op: Op) -> Any:
    if isinstance(op, Put):
        return rpc_pb2.RequestOp(request_put=_put_request(op))
    if isinstance(op, Get):
        return rpc_pb2.RequestOp(request_range=_range_request(op))
    if isinstance(op, Delete):
        return rpc_pb2.RequestOp(request_delete_range=_delete_request(op))
    return rpc_pb2.RequestOp(request_txn=_txn_request(op))


def _txn_request(txn: Txn) -> Any:
    return rpc_pb2.TxnRequest(
        compare=[_compare_message(compare) for compare in txn.compares],
        success=[_op_message(op) for op in txn.success],
        failure=[_op_message(op) for op in txn.failure],
    )


class EtcdStore(BaseStore):
    """A ``KVStore`` on an etcd v3 cluster.

    Args:
        config: Endpoints, timeouts, credentials, TLS (default ``EtcdConfig()``:
            ``localhost:2379``). Connecting is lazy: the first call connects.

    Raises:
        ConfigurationError: A TLS or password file cannot be read, or a password variable
            is unset.
    """

    capabilities = frozenset(
        {
            Capability.LEASES,
            Capability.WATCH,
            Capability.TXN,
            Capability.HISTORY,
            Capability.CLUSTER,
        }
    )

    def __init__(self, config: EtcdConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else EtcdConfig()
        self.max_txn_ops = self.config.max_txn_ops
        self.max_request_bytes = self.config.max_request_bytes
        self._timeout = self.config.request_timeout
        self._username = self.config.username
        self._password = self.config.resolve_password() if self._username else ""
        self._pool = EndpointPool(self.config)
        self._metadata_cache: Metadata = None
        self._auth_lock = threading.Lock()
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._watches: weakref.WeakSet[Watch] = weakref.WeakSet()
        self._watches_lock = threading.Lock()
        self._monitor: _watch.WatchMonitor | None = None
        self._known_compact_revision = 0
        self._compact_lock = threading.Lock()

    def __repr__(self) -> str:
        user = f", user={self._username!r}" if self._username else ""
        return f"EtcdStore(endpoints={list(self.config.endpoints)!r}{user})"

    # ------------------------------------------------------------------ calling etcd

    def _call(
        self,
        operation: str,
        invoke: Callable[[Endpoint, float, Metadata], T],
        *,
        key: str | None = None,
        write: bool = False,
        idempotent: bool = False,
        timeout: float | None = None,
        lease: int | None = None,
        revision: int | None = None,
    ) -> T:
        """Run ``invoke`` on a connected endpoint with failover, auth and error mapping.

        Args:
            operation: The kvstore operation, for errors.
            invoke: Sends the request to an endpoint with a timeout and auth metadata.
            key: The key of the call, for errors.
            write: The call changes state and applying it twice differs from once: an
                unknown outcome is not retried and raises ``IndeterminateError``.
            idempotent: The call may be sent again after an unknown outcome (see the
                module docstring): it is retried on another endpoint until the deadline.
            timeout: The call's bound (default ``request_timeout``).

        Raises:
            StoreClosedError: The store was closed.
            UnavailableError: No endpoint answered (nothing was written).
            IndeterminateError: A write failed in a way that leaves its outcome unknown.
            KVStoreError: The translated etcd error.
        """
        write = write and not idempotent
        split_attempts = idempotent and len(self._pool.endpoints) > 1
        if self._closed:
            raise StoreClosedError(
                f"{operation}: the store is closed", key=key, operation=operation
            )
        deadline = time.monotonic() + (timeout if timeout is not None else self._timeout)
        renewed_token = False
        delay = _RETRY_FIRST_DELAY
        while True:
            endpoint = self._pool.acquire(deadline, operation)
            try:
                metadata = self._metadata(endpoint, deadline)
                remaining = deadline - time.monotonic()
                if split_attempts and remaining > 2 * _MIN_ATTEMPT_SECONDS:
                    remaining /= 2
                return invoke(endpoint, max(remaining, 0.001), metadata)
            except grpc.RpcError as exc:
                if self._closed:
                    raise StoreClosedError(
                        f"{operation}: the store is closed", key=key, operation=operation
                    ) from exc
                if self._username and not renewed_token and is_invalid_token(exc):
                    renewed_token = True
                    self._forget_token(metadata)
                    continue
                retry = False
                if is_unavailable(exc):
                    self._pool.mark_failed(endpoint)
                    retry = not write or never_sent(exc)
                elif is_deadline(exc):
                    # A member that holds calls past the deadline (paused, partitioned)
                    # is passed over by the next calls.
                    self._pool.mark_failed(endpoint)
                    retry = idempotent
                if retry and time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_DELAY)
                    continue
                raise translate(
                    exc,
                    operation=operation,
                    key=key,
                    write=write,
                    endpoint=endpoint.address,
                    lease=lease,
                    revision=revision,
                ) from exc
            except ValueError as exc:
                closed = closed_channel_error(exc, operation=operation, key=key)
                if closed is None:
                    raise
                raise closed from exc

    def _metadata(self, endpoint: Endpoint, deadline: float) -> Metadata:
        """The auth token metadata, authenticating first if needed (``None`` without auth)."""
        if not self._username:
            return None
        metadata = self._metadata_cache
        if metadata is not None:
            return metadata
        with self._auth_lock:
            if self._metadata_cache is None:
                request = rpc_pb2.AuthenticateRequest(name=self._username, password=self._password)
                response = endpoint.auth.Authenticate(
                    request, timeout=max(deadline - time.monotonic(), 0.001)
                )
                self._metadata_cache = (("token", response.token),)
            return self._metadata_cache

    def _forget_token(self, metadata: Metadata) -> None:
        with self._auth_lock:
            if self._metadata_cache is metadata:
                self._metadata_cache = None

    def _unary(
        self,
        operation: str,
        method: RpcMethod,
        request: Any,
        *,
        key: str | None = None,
        write: bool = False,
        idempotent: bool = False,
        timeout: float | None = None,
        lease: int | None = None,
        revision: int | None = None,
    ) -> Any:
        stub = _STUB_METHODS[method]

        def invoke(endpoint: Endpoint, remaining: float, metadata: Metadata) -> Any:
            return stub(endpoint)(request, timeout=remaining, metadata=metadata)

        return self._call(
            operation,
            invoke,
            key=key,
            write=write,
            idempotent=idempotent,
            timeout=timeout,
            lease=lease,
            revision=revision,
        )

    # ------------------------------------------------------------------ KV primitives

    def do_range(self, request: Get) -> RangeResult:
        try:
            response = self._unary(
                "range",
                "Range",
                _range_request(request),
                key=request.key,
                revision=request.revision,
            )
        except CompactedError as exc:
            raise self._compacted("range", request.key, request.revision) from exc.__cause__
        return _range_result(response)

    def do_put(self, request: Put) -> PutResult:
        response = self._unary(
            "put", "Put", _put_request(request), key=request.key, write=True, lease=request.lease
        )
        return _put_result(response)

    def do_delete_range(self, request: Delete) -> DeleteResult:
        response = self._unary(
            "delete", "DeleteRange", _delete_request(request), key=request.key, write=True
        )
        return _delete_result(response)

    def do_txn(self, request: Txn) -> TxnResult:
        write = _writes(request.success) or _writes(request.failure)
        try:
            response = self._unary("txn", "Txn", _txn_request(request), write=write)
        except CompactedError as exc:
            raise self._compacted_txn([*request.success, *request.failure]) from exc.__cause__
        return _txn_result(response, response.header.revision)

    def _compacted(self, operation: str, key: str | None, revision: int | None) -> CompactedError:
        """The ``CompactedError`` naming the key, the revision asked for and the store's
        compact revision (etcd's own error says none of them)."""
        return compacted_error(
            operation, revision=revision, compact_revision=self._probe_compact_revision(), key=key
        )

    def _compacted_txn(self, ops: Sequence[Op]) -> CompactedError:
        """``error`` for a transaction, naming its first read below the compact revision."""
        compact_revision = self._probe_compact_revision()
        for get in _reads_at_revisions(ops):
            if get.revision is not None and get.revision < compact_revision:
                return compacted_error(
                    "txn", revision=get.revision, compact_revision=compact_revision, key=get.key
                )
        return compacted_error("txn", revision=None, compact_revision=compact_revision, key=None)

    def _probe_compact_revision(self) -> int:
        """The compact revision, learnt from a watch from revision 1 (etcd cancels it,
        naming the compact revision); 0 if it cannot be learnt quickly."""
        try:
            return self._learn_compact_revision(
                _watch.probe_compact_revision(self, min(self._timeout, _COMPACT_PROBE_SECONDS))
            )
        except KVStoreError:
            return 0

    def _learn_compact_revision(self, revision: int) -> int:
        """Remember ``revision`` as a compact revision seen; return it."""
        with self._compact_lock:
            self._known_compact_revision = max(self._known_compact_revision, revision)
        return revision

    def _readable_at(self, revision: int) -> bool:
        """Whether a read at ``revision`` works (it is not below the compact revision)."""
        request = rpc_pb2.RangeRequest(key=b"\0", revision=revision, count_only=True)
        try:
            self._unary("status", "Range", request)
        except CompactedError:
            return False
        return True

    def _current_compact_revision(self, store_revision: int) -> int:
        """The compact revision: the one known if a read there works, else searched.

        Raises:
            UnavailableError: No endpoint answered.
        """
        known = self._known_compact_revision
        if store_revision <= 0 or known >= store_revision or self._readable_at(max(known, 1)):
            return known
        # Someone else compacted past ``known``: the compact revision is the lowest
        # readable revision in (known, store_revision].
        low, high = known + 1, store_revision
        while low < high:
            middle = (low + high) // 2
            if self._readable_at(middle):
                high = middle
            else:
                low = middle + 1
        return self._learn_compact_revision(low)

    # ------------------------------------------------------------------ watches

    def do_watch(self, request: WatchRequest) -> Watch:
        self._check_open("watch")
        watch = _watch.EtcdWatch(
            self,
            request.key,
            _start(request.key),
            _end(request.range_end),
            start_revision=request.start_revision,
            prev_kv=request.prev_kv,
        )
        with self._watches_lock:
            self._watches.add(watch)
        try:
            watch.start()
        except BaseException:
            watch.cancel()
            raise
        return watch

    # ------------------------------------------------------------------ leases

    def lease_grant(self, ttl: int) -> LeaseGrant:
        check_ttl(ttl, operation="lease_grant")
        # etcd's minimum TTL follows its election timeout (2 s with the defaults, less on
        # a tuned cluster); the same 2 s floor everywhere keeps backends interchangeable.
        request = rpc_pb2.LeaseGrantRequest(TTL=max(ttl, MIN_LEASE_TTL))
        response = self._unary("lease_grant", "LeaseGrant", request, idempotent=True)
        if response.error:
            raise refused_lease_error(response.error)
        return LeaseGrant(response.ID, response.TTL)

    def lease_revoke(self, lease_id: int) -> None:
        check_lease_id(lease_id, operation="lease_revoke")
        self._unary(
            "lease_revoke",
            "LeaseRevoke",
            rpc_pb2.LeaseRevokeRequest(ID=lease_id),
            write=True,
            lease=lease_id,
        )

    def lease_keepalive_once(self, lease_id: int) -> int:
        check_lease_id(lease_id, operation="lease_keepalive")
        request = rpc_pb2.LeaseKeepAliveRequest(ID=lease_id)

        def invoke(endpoint: Endpoint, remaining: float, metadata: Metadata) -> int:
            # One request on the bidirectional stream; etcd answers before it sees the
            # end of the request stream, so this is a unary call with a deadline.
            call = endpoint.lease.LeaseKeepAlive(
                iter((request,)), timeout=remaining, metadata=metadata
            )
            try:
                for response in call:
                    return int(response.TTL)
            finally:
                call.cancel()
            return 0

        ttl = self._call("lease_keepalive", invoke, idempotent=True)
        if ttl <= 0:
            raise LeaseNotFoundError(
                f"lease_keepalive: lease {lease_id:#x} not found", operation="lease_keepalive"
            )
        return ttl

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        check_lease_id(lease_id, operation="lease_time_to_live")
        response = self._unary(
            "lease_time_to_live",
            "LeaseTimeToLive",
            rpc_pb2.LeaseTimeToLiveRequest(ID=lease_id, keys=keys),
            idempotent=True,
        )
        if response.TTL < 0:
            raise LeaseNotFoundError(
                f"lease_time_to_live: lease {lease_id:#x} not found",
                operation="lease_time_to_live",
            )
        attached = tuple(sorted(key.decode("utf-8", "replace") for key in response.keys))
        return LeaseInfo(lease_id, response.TTL, response.grantedTTL, attached)

    def lease_leases(self) -> builtins.list[int]:
        data = self._unary("lease_leases", "LeaseLeases", b"", idempotent=True)
        return sorted(_wire.decode_lease_ids(data))

    # ------------------------------------------------------------------ cluster

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        check_revision(revision, operation="compact")
        request = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        try:
            self._unary("compact", "Compact", request, write=True, revision=revision)
        except CompactedError as exc:
            raise self._compacted("compact", None, revision) from exc.__cause__
        self._learn_compact_revision(revision)

    def status(self) -> StatusInfo:
        """The state of the member that answers, with the cluster's compact revision.

        ``compact_revision`` costs one extra count-only read (see the module docstring);
        0 means nothing was compacted.

        Raises:
            UnavailableError: No endpoint answered.
            OperationTimeoutError: The member did not answer in time.
        """
        response = self._unary("status", "Status", rpc_pb2.StatusRequest())
        return StatusInfo(
            response.version,
            response.dbSize,
            response.leader,
            response.header.member_id,
            response.raftIndex,
            response.raftTerm,
            response.header.revision,
            self._current_compact_revision(response.header.revision),
        )

    def member_list(self) -> builtins.list[MemberInfo]:
        data = self._unary("member_list", "MemberList", b"")
        return [
            MemberInfo(member_id, name, tuple(peers), tuple(clients), learner)
            for member_id, name, peers, clients, learner in _wire.decode_members(data)
        ]

    def defragment(self) -> None:
        # Defragmenting rewrites the whole database file: allow more than a normal call.
        self._unary(
            "defragment",
            "Defragment",
            rpc_pb2.DefragmentRequest(),
            timeout=max(self._timeout, 60.0),
        )

    def alarms(self) -> builtins.list[AlarmInfo]:
        request = rpc_pb2.AlarmRequest(
            action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE
        )
        response = self._unary("alarms", "Alarm", request)
        return [
            AlarmInfo(alarm.memberID, rpc_pb2.AlarmType.Name(alarm.alarm))
            for alarm in response.alarms
        ]

    def hash_kv(self, revision: int = 0) -> HashInfo:
        if revision:
            check_revision(revision, operation="hash_kv")
        try:
            response = self._unary("hash_kv", "HashKV", rpc_pb2.HashKVRequest(revision=revision))
        except CompactedError as exc:
            raise self._compacted("hash_kv", None, revision) from exc.__cause__
        compacted = self._learn_compact_revision(max(response.compact_revision, 0))
        return HashInfo(response.hash, compacted, response.header.revision)

    # ------------------------------------------------------------------ lifecycle

    def get_client(self) -> Any:
        """The python3-etcd3 client (``etcd3.MultiEndpointEtcd3Client``) for these endpoints.

        It is created on first use, shares this store's configuration (endpoints, TLS,
        credentials, timeout) and is closed with the store. Its exceptions are etcd3's own.

        Raises:
            StoreClosedError: The store was closed.
            AuthenticationError: The credentials were refused.
            BackendError: The client could not be created.
        """
        self._check_open("get_client")
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import etcd3

        endpoints = []
        for address in self.config.endpoints:
            host, _, port = address.rpartition(":")
            secure = self.config.uses_tls
            credentials = None
            if secure:
                credentials = self._pool.credentials_for(address)
            endpoints.append(
                etcd3.Endpoint(
                    host.strip("[]"),
                    int(port),
                    secure=secure,
                    creds=credentials,
                    time_retry=1.0,
                    opts=self._pool.channel_options(address),
                )
            )
        with map_errors("get_client"):
            return etcd3.MultiEndpointEtcd3Client(
                endpoints=endpoints,
                timeout=self._timeout,
                user=self._username or None,
                password=self._password if self._username else None,
                failover=True,
            )

    def forget_watch(self, watch: Watch) -> None:
        """Stop tracking a cancelled watch."""
        with self._watches_lock:
            self._watches.discard(watch)

    def watch_monitor(self) -> _watch.WatchMonitor:
        """The thread that probes quiet watch streams (created on first use)."""
        with self._watches_lock:
            if self._monitor is None:
                self._monitor = _watch.WatchMonitor(
                    self.config.dial_keepalive_time, self.config.dial_keepalive_timeout
                )
            return self._monitor

    @property
    def pool(self) -> EndpointPool:
        """The endpoints and their health (used by the watch and lease streams)."""
        return self._pool

    def stream_metadata(self, endpoint: Endpoint, deadline: float) -> Metadata:
        """Auth metadata for a stream call, authenticating if needed.

        Raises:
            AuthenticationError: The credentials were refused.
            UnavailableError: The endpoint failed during authentication.
            StoreClosedError: The store was closed.
        """
        with map_errors("watch", endpoint=endpoint.address):
            return self._metadata(endpoint, deadline)

    def forget_token(self, metadata: Metadata) -> None:
        """Drop an auth token that etcd refused, so the next call authenticates again."""
        self._forget_token(metadata)

    def close(self) -> None:
        """Close the store: cancel watches, stop keep-alives, close the channels.

        Idempotent; later calls raise ``StoreClosedError``.
        """
        if self._closed:
            return
        super().close()
        with self._watches_lock:
            watches = list(self._watches)
            self._watches.clear()
        for watch in watches:
            watch.cancel()
        with self._watches_lock:
            monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.stop()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            # Closing the foreign client must not make close() fail.
            with contextlib.suppress(Exception):
                client.close()
        self._pool.close()


def _compare_message(compare: Compare) -> Any:
    target, field = _COMPARE_TARGET[compare.target]
    message = rpc_pb2.Compare(
        result=_COMPARE_RESULT[compare.op],
        target=target,
        key=_start(compare.key),
        range_end=_end(compare.range_end),
    )
    setattr(message, field, compare.operand)
    return message


def _writes(ops: Sequence[Op]) -> bool:
    for op in ops:
        if isinstance(op, (Put, Delete)):
            return True
        if isinstance(op, Txn) and (_writes(op.success) or _writes(op.failure)):
            return True
    return False


def _reads_at_revisions(ops: Sequence[Op]) -> Iterator[Get]:
    """The ``Get`` ops of a transaction (nested ones too) that read at a past revision."""
    for op in ops:
        if isinstance(op, Get) and op.revision is not None:
            yield op
        elif isinstance(op, Txn):
            yield from _reads_at_revisions([*op.success, *op.failure])


def _txn_result(response: Any, revision: int) -> TxnResult:
    responses: list[OpResult] = []
    for item in response.responses:
        kind = item.WhichOneof("response")
        if kind == "response_range":
            responses.append(_range_result(item.response_range, revision))
        elif kind == "response_put":
            responses.append(_put_result(item.response_put, revision))
        elif kind == "response_delete_range":
            responses.append(_delete_result(item.response_delete_range, revision))
        elif kind == "response_txn":
            responses.append(_txn_result(item.response_txn, revision))
    return TxnResult(response.succeeded, tuple(responses), response.header.revision or revision)
