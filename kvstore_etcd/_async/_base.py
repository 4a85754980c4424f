"""``AsyncEtcdBase``: the base of both etcd stores, their primitives written once.

Every primitive is one gRPC call (``KV.Range``, ``KV.Put`` ...) sent by the store's
``AsyncCaller`` (failover, retries, auth, error translation: see ``_calls``). The
requests arrive checked by the base class (``kvstore.keys``, ``validate_request``), so
bad input gets the same error as on the memory backend before anything is sent; each
call is bounded by ``request_timeout``. The sync ``EtcdBase`` is generated from this
module; what differs between the two stores (watch streams, ``get_client``, closing) is
in each store's own module (``kvstore_etcd/store.py``, ``kvstore_etcd/_async/store.py``).

``status().compact_revision``: etcd's Status response does not carry it, so the store
remembers the highest compact revision it has learnt (its own ``compact_revision`` calls,
``hash_kv`` answers, ``CompactedError`` probes) and ``status`` checks it with one more
cheap call, a count-only read of one key at that revision. That read works exactly when
nobody compacted further; otherwise (another client compacted) a binary search over
such reads finds the new one (about log2(revision) calls, once per outside compaction).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.base import AsyncBaseStore
from kvstore.concurrency import AsyncLock
from kvstore.errors import CompactedError, KeyNotFoundError, KVStoreError, LeaseNotFoundError
from kvstore.keys import (
    MIN_LEASE_TTL,
    REQUEST_OVERHEAD_BYTES,
    check_lease_id,
    check_revision,
    check_ttl,
)
from kvstore.lease import AsyncLease
from kvstore.txn import Delete, Get, Op, Put, Txn
from kvstore.types import (
    AlarmInfo,
    Capability,
    DeleteResult,
    HashInfo,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    PutResult,
    RangeResult,
    StatusInfo,
    TxnResult,
)
from kvstore_etcd._async._calls import AsyncCaller
from kvstore_etcd._async._endpoints import AsyncEndpoint, AsyncEndpointPool
from kvstore_etcd._convert import (
    delete_request,
    delete_result,
    plain_range_request,
    put_request,
    put_result,
    range_request,
    range_result,
    reads_at_revisions,
    txn_request,
    txn_result,
    writes,
)
from kvstore_etcd._errors import compacted_error, refused_lease_error
from kvstore_etcd._metadata import Metadata, with_leader
from kvstore_etcd._watch_cursor import COMPACT_PROBE_REQUEST, probe_answer
from kvstore_etcd._wire import decode_lease_ids, decode_members
from kvstore_etcd.config import EtcdConfig

__all__ = ["AsyncEtcdBase"]

_COMPACT_PROBE_SECONDS = 2.0


class AsyncEtcdBase(AsyncBaseStore):
    """The base of the etcd stores: their primitives (see the module docstring).

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
        self._pool = AsyncEndpointPool(self.config)
        self._pool.events_source = self
        self._caller = AsyncCaller(
            self._pool, timeout=self._timeout, username=self._username, password=self._password
        )
        self._known_compact_revision = 0
        self._compact_lock = AsyncLock()
        # ``get`` and ``put`` skip the request objects only while ``do_range`` and
        # ``do_put`` are these (a subclass that overrides them sees every call)
        cls = type(self)
        self._direct_reads = cls.do_range is AsyncEtcdBase.do_range
        self._direct_writes = cls.do_put is AsyncEtcdBase.do_put

    def __repr__(self) -> str:
        user = f", user={self._username!r}" if self._username else ""
        return f"{type(self).__name__}(endpoints={list(self.config.endpoints)!r}{user})"

    @property
    def pool(self) -> AsyncEndpointPool:
        """The endpoints and their health (used by the watch and lease streams)."""
        return self._pool

    @property
    def endpoints(self) -> builtins.list[str]:
        """The endpoints calls go to now: the configured ones, or those ``auto_sync_interval``
        last read from the cluster's members."""
        return [endpoint.address for endpoint in self._pool.endpoints]

    @property
    def current_endpoint(self) -> str:
        """The endpoint the next call goes to first (``"host:port"``; tracing reports it)."""
        return self._pool.current.address

    @property
    def caller(self) -> AsyncCaller:
        """What sends the store's calls (used by the watch streams for auth)."""
        return self._caller

    # ------------------------------------------------------------------ KV primitives

    _coalescer: Any = None
    """The store's read coalescer when ``coalesce_reads`` is on (``None``: every read is
    its own ``Range``): ``read(key, request)`` gives the answer and its revision."""

    async def do_range(self, request: Get) -> RangeResult:
        coalescer = self._coalescer
        if coalescer is not None and request.revision is None:
            # read coalescing (``kvstore_etcd._async._coalesce``, ``kvstore_etcd._coalesce``)
            response, revision = await coalescer.read(request.key, range_request(request))
            return range_result(response, revision)
        try:
            response = await self._caller.unary(
                "range",
                "Range",
                range_request(request),
                key=request.key,
                revision=request.revision,
            )
        except CompactedError as exc:
            raise await self._compacted("range", request.key, request.revision) from exc.__cause__
        return range_result(response)

    async def get(self, key: str) -> bytes:
        """The value at ``key`` (``BaseStore.get``), read straight from etcd's answer.

        The same request, result and errors as ``get`` through ``kv_range``, without
        building the ``RangeResult`` and ``KeyValue`` a get does not return.

        Raises:
            KeyNotFoundError: The key does not exist.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if type(key) is not str or not key or not self._direct_reads:
            return await super().get(key)
        try:
            request = plain_range_request(key)  # encodes the key: checks it is UTF-8
        except UnicodeEncodeError:
            return await super().get(key)  # raises the InvalidKeyError
        coalescer = self._coalescer
        if coalescer is not None:
            kvs = (await coalescer.read(key, request))[0].kvs
        else:
            kvs = (await self._caller.unary("range", "Range", request, key=key)).kvs
        if not kvs:
            raise KeyNotFoundError(f"get: key {key!r} not found", key=key, operation="get")
        value: bytes = kvs[0].value
        return value

    async def put(self, key: str, value: bytes, *, lease: AsyncLease | int | None = None) -> int:
        """Write ``value`` at ``key`` (``BaseStore.put``); a put without a lease is sent
        straight from its arguments, checked as ``kv_put`` checks them.

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
        if lease is None and type(key) is str and type(value) is bytes and key:
            try:
                encoded = key.encode()
            except UnicodeEncodeError:
                encoded = b""  # the checks below raise the InvalidKeyError
            limit = self.max_request_bytes - REQUEST_OVERHEAD_BYTES
            if encoded and len(encoded) + len(value) <= limit and self._direct_writes:
                response = await self._caller.unary(
                    "put", "Put", rpc_pb2.PutRequest(key=encoded, value=value), key=key, write=True
                )
                revision: int = response.header.revision
                return revision
        return await super().put(key, value, lease=lease)

    async def do_put(self, request: Put) -> PutResult:
        response = await self._caller.unary(
            "put", "Put", put_request(request), key=request.key, write=True, lease=request.lease
        )
        return put_result(response)

    async def do_delete_range(self, request: Delete) -> DeleteResult:
        response = await self._caller.unary(
            "delete", "DeleteRange", delete_request(request), key=request.key, write=True
        )
        return delete_result(response)

    async def do_txn(self, request: Txn) -> TxnResult:
        write = writes(request.success) or writes(request.failure)
        try:
            response = await self._caller.unary("txn", "Txn", txn_request(request), write=write)
        except CompactedError as exc:
            raise await self._compacted_txn([*request.success, *request.failure]) from (
                exc.__cause__
            )
        return txn_result(response, response.header.revision)

    # ------------------------------------------------------------------ compaction

    async def _compacted(
        self, operation: str, key: str | None, revision: int | None
    ) -> CompactedError:
        """The ``CompactedError`` naming the key, the revision asked for and the store's
        compact revision (etcd's own error says none of them)."""
        return compacted_error(
            operation,
            revision=revision,
            compact_revision=await self._probe_compact_revision(),
            key=key,
        )

    async def _compacted_txn(self, ops: Sequence[Op]) -> CompactedError:
        """``CompactedError`` for a transaction, naming its first read below the compact
        revision."""
        compact_revision = await self._probe_compact_revision()
        for get in reads_at_revisions(ops):
            if get.revision is not None and get.revision < compact_revision:
                return compacted_error(
                    "txn", revision=get.revision, compact_revision=compact_revision, key=get.key
                )
        return compacted_error("txn", revision=None, compact_revision=compact_revision, key=None)

    async def _probe_compact_revision(self) -> int:
        """The compact revision, learnt from a watch from revision 1: etcd cancels such a
        watch at once, naming the compact revision, when history was compacted; 0 if
        nothing was compacted or it cannot be learnt quickly."""

        async def invoke(endpoint: AsyncEndpoint, remaining: float, metadata: Metadata) -> int:
            call = endpoint.watch.Watch(
                iter((COMPACT_PROBE_REQUEST,)), timeout=remaining, metadata=with_leader(metadata)
            )
            try:
                async for response in call:
                    answer = probe_answer(response)
                    if answer is not None:
                        return answer
            except grpc.RpcError:
                # Nothing came before the deadline (nothing was compacted), or the stream
                # broke: either way the compact revision is not known.
                return 0
            finally:
                call.cancel()
            return 0

        timeout = min(self._timeout, _COMPACT_PROBE_SECONDS)
        try:
            revision = await self._caller.call("compact_revision", invoke, timeout=timeout)
        except KVStoreError:
            return 0
        return await self._learn_compact_revision(revision)

    async def _learn_compact_revision(self, revision: int) -> int:
        """Remember ``revision`` as a compact revision seen; return it."""
        async with self._compact_lock:
            self._known_compact_revision = max(self._known_compact_revision, revision)
        return revision

    async def _readable_at(self, revision: int) -> bool:
        """Whether a read at ``revision`` works (it is not below the compact revision)."""
        request = rpc_pb2.RangeRequest(key=b"\0", revision=revision, count_only=True)
        try:
            await self._caller.unary("status", "Range", request)
        except CompactedError:
            return False
        return True

    async def _current_compact_revision(self, store_revision: int) -> int:
        """The compact revision: the one known if a read there works, else searched.

        Raises:
            UnavailableError: No endpoint answered.
        """
        known = self._known_compact_revision
        if store_revision <= 0 or known >= store_revision or await self._readable_at(max(known, 1)):
            return known
        # Someone else compacted past ``known``: the compact revision is the lowest
        # readable revision in (known, store_revision].
        low, high = known + 1, store_revision
        while low < high:
            middle = (low + high) // 2
            if await self._readable_at(middle):
                high = middle
            else:
                low = middle + 1
        return await self._learn_compact_revision(low)

    # ------------------------------------------------------------------ leases

    async def lease_grant(self, ttl: int) -> LeaseGrant:
        check_ttl(ttl, operation="lease_grant")
        # etcd's minimum TTL follows its election timeout (2 s with the defaults, less on
        # a tuned cluster); the same 2 s floor everywhere keeps backends interchangeable.
        request = rpc_pb2.LeaseGrantRequest(TTL=max(ttl, MIN_LEASE_TTL))
        response = await self._caller.unary("lease_grant", "LeaseGrant", request, idempotent=True)
        if response.error:
            raise refused_lease_error(response.error)
        return LeaseGrant(response.ID, response.TTL)

    async def lease_revoke(self, lease_id: int) -> None:
        check_lease_id(lease_id, operation="lease_revoke")
        await self._caller.unary(
            "lease_revoke",
            "LeaseRevoke",
            rpc_pb2.LeaseRevokeRequest(ID=lease_id),
            write=True,
            lease=lease_id,
        )

    async def lease_keepalive_once(self, lease_id: int) -> int:
        check_lease_id(lease_id, operation="lease_keepalive")
        request = rpc_pb2.LeaseKeepAliveRequest(ID=lease_id)

        async def invoke(endpoint: AsyncEndpoint, remaining: float, metadata: Metadata) -> int:
            # One request on the bidirectional stream; etcd answers before it sees the
            # end of the request stream, so this is a unary call with a deadline.
            call = endpoint.lease.LeaseKeepAlive(
                iter((request,)), timeout=remaining, metadata=metadata
            )
            try:
                async for response in call:
                    return int(response.TTL)
            finally:
                call.cancel()
            return 0

        ttl = await self._caller.call("lease_keepalive", invoke, idempotent=True)
        if ttl <= 0:
            raise LeaseNotFoundError(
                f"lease_keepalive: lease {lease_id:#x} not found", operation="lease_keepalive"
            )
        return ttl

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        check_lease_id(lease_id, operation="lease_time_to_live")
        response = await self._caller.unary(
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

    async def lease_leases(self) -> builtins.list[int]:
        data = await self._caller.unary("lease_leases", "LeaseLeases", b"", idempotent=True)
        return sorted(decode_lease_ids(data))

    # ------------------------------------------------------------------ cluster

    async def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        check_revision(revision, operation="compact")
        request = rpc_pb2.CompactionRequest(revision=revision, physical=physical)
        try:
            await self._caller.unary("compact", "Compact", request, write=True, revision=revision)
        except CompactedError as exc:
            raise await self._compacted("compact", None, revision) from exc.__cause__
        await self._learn_compact_revision(revision)

    async def status(self) -> StatusInfo:
        """The state of the member that answers, with the cluster's compact revision.

        ``compact_revision`` costs one extra count-only read (see the module docstring);
        0 means nothing was compacted.

        Raises:
            UnavailableError: No endpoint answered.
            OperationTimeoutError: The member did not answer in time.
        """
        response = await self._caller.unary("status", "Status", rpc_pb2.StatusRequest())
        return StatusInfo(
            response.version,
            response.dbSize,
            response.leader,
            response.header.member_id,
            response.raftIndex,
            response.raftTerm,
            response.header.revision,
            await self._current_compact_revision(response.header.revision),
        )

    async def member_list(self) -> builtins.list[MemberInfo]:
        data = await self._caller.unary("member_list", "MemberList", b"")
        return [
            MemberInfo(member_id, name, tuple(peers), tuple(clients), learner)
            for member_id, name, peers, clients, learner in decode_members(data)
        ]

    async def defragment(self) -> None:
        # Defragmenting rewrites the whole database file: allow more than a normal call.
        await self._caller.unary(
            "defragment",
            "Defragment",
            rpc_pb2.DefragmentRequest(),
            timeout=max(self._timeout, 60.0),
        )

    async def alarms(self) -> builtins.list[AlarmInfo]:
        request = rpc_pb2.AlarmRequest(
            action=rpc_pb2.AlarmRequest.GET, memberID=0, alarm=rpc_pb2.NONE
        )
        response = await self._caller.unary("alarms", "Alarm", request)
        return [
            AlarmInfo(alarm.memberID, rpc_pb2.AlarmType.Name(alarm.alarm))
            for alarm in response.alarms
        ]

    async def hash_kv(self, revision: int = 0) -> HashInfo:
        if revision:
            check_revision(revision, operation="hash_kv")
        try:
            response = await self._caller.unary(
                "hash_kv", "HashKV", rpc_pb2.HashKVRequest(revision=revision)
            )
        except CompactedError as exc:
            raise await self._compacted("hash_kv", None, revision) from exc.__cause__
        compacted = await self._learn_compact_revision(max(response.compact_revision, 0))
        return HashInfo(response.hash, compacted, response.header.revision)

    # ------------------------------------------------------------------ lifecycle

    async def _close_calls(self) -> None:
        """Make later calls raise ``StoreClosedError``, then close the channels."""
        self._caller.closed = True
        await self._pool.close()
