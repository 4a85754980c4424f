# Generated from kvstore_etcd/_async/_calls.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Caller``: every unary etcd call of a store, with failover, retries, auth and
error translation, written once (the sync ``Caller`` is generated from this module).

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
"""

from __future__ import annotations

import logging
import math
import operator
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import grpc
from etcd3.etcdrpc import rpc_pb2

from kvstore.concurrency import Lock, sleep
from kvstore.errors import KVStoreError, StoreClosedError
from kvstore.plugins.events import report as report_event
from kvstore_etcd._errors import (
    is_deadline,
    is_invalid_token,
    is_unavailable,
    map_errors,
    mapped_error,
    never_sent,
)
from kvstore_etcd._wire import member_endpoints

if TYPE_CHECKING:
    from kvstore_etcd._endpoints import Endpoint, EndpointPool, Invoke
    from kvstore_etcd._metadata import Metadata

__all__ = ["Caller", "RpcMethod"]

T = TypeVar("T")

_log = logging.getLogger(__name__)

_RETRY_FIRST_DELAY = 0.02
_RETRY_MAX_DELAY = 0.5
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
"""The etcd RPCs that a store sends as one unary call."""

_STUB_METHODS: dict[RpcMethod, Callable[[Any], Any]] = {
    "Range": operator.attrgetter("kv.Range"),
    "Put": operator.attrgetter("kv.Put"),
    "DeleteRange": operator.attrgetter("kv.DeleteRange"),
    "Txn": operator.attrgetter("kv.Txn"),
    "Compact": operator.attrgetter("kv.Compact"),
    "LeaseGrant": operator.attrgetter("lease.LeaseGrant"),
    "LeaseRevoke": operator.attrgetter("lease.LeaseRevoke"),
    "LeaseTimeToLive": operator.attrgetter("lease.LeaseTimeToLive"),
    # Not in python3-etcd3's generated stubs: the endpoint builds these two itself.
    "LeaseLeases": operator.attrgetter("lease_leases"),
    "MemberList": operator.attrgetter("member_list"),
    "Status": operator.attrgetter("maintenance.Status"),
    "Defragment": operator.attrgetter("maintenance.Defragment"),
    "Alarm": operator.attrgetter("maintenance.Alarm"),
    "HashKV": operator.attrgetter("maintenance.HashKV"),
}
"""Each RPC's callable on a connected endpoint (its channel's stubs)."""

_INVOKE: Any = object()
"""``_send``'s request when its ``invoke`` is a whole ``Invoke`` (``call``)."""


class Caller:
    """Sends a store's calls to its endpoints (see the module docstring).

    Args:
        pool: The store's endpoints.
        timeout: The default bound of a call (``request_timeout``).
        username: The etcd user (``""``: no authentication).
        password: Its password (kept here only; never in ``repr`` or errors).
    """

    def __init__(self, pool: EndpointPool, *, timeout: float, username: str, password: str) -> None:
        self.pool = pool
        self.timeout = timeout
        self.closed = False
        """Set by the store's close: later calls raise ``StoreClosedError``."""
        self._username = username
        self._password = password
        self.metadata_cache: Metadata = None
        """The auth token metadata in use (``None``: none yet, or no auth)."""
        self._auth_lock = Lock()
        self._next_sync = 0.0 if pool.config.auto_sync_interval else math.inf
        """When the endpoints are read from ``MemberList`` again (``auto_sync_interval``)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pool.config.endpoints!r})"

    def call(
        self,
        operation: str,
        invoke: Invoke[T],
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
            lease: The lease of the call, for errors.
            revision: The revision the call asks for, for errors.

        Raises:
            StoreClosedError: The store was closed.
            UnavailableError: No endpoint answered (nothing was written).
            IndeterminateError: A write failed in a way that leaves its outcome unknown.
            KVStoreError: The translated etcd error.
        """
        result: T = self._send(
            operation, invoke, _INVOKE, key, write, idempotent, timeout, lease, revision
        )
        return result

    def _send(
        self,
        operation: str,
        invoke: Any,
        request: Any,
        key: str | None,
        write: bool,
        idempotent: bool,
        timeout: float | None,
        lease: int | None,
        revision: int | None,
    ) -> Any:
        """``call``, and ``unary``'s one frame: ``invoke`` is an ``Invoke`` when
        ``request`` is ``_INVOKE``, else it gives the stub method of an endpoint that
        ``request`` is sent to."""
        write = write and not idempotent
        if self.closed:
            raise StoreClosedError(
                f"{operation}: the store is closed", key=key, operation=operation
            )
        now = time.monotonic()
        if now >= self._next_sync:  # inline: no coroutine on the fast path
            self.sync_endpoints()
            now = time.monotonic()
        split_attempts = idempotent and len(self.pool.endpoints) > 1
        deadline = now + (timeout if timeout is not None else self.timeout)
        renewed_token = False
        delay = _RETRY_FIRST_DELAY
        while True:
            # the fast path needs no await: a connected endpoint is taken as it is
            endpoint = self.pool.ready_endpoint() or self.pool.acquire(deadline, operation)
            metadata = self.metadata_cache
            # errors are translated by the handler below (mapped_error), the one place
            # that does; a ``try`` costs nothing on the way through
            try:
                try:
                    if self._username and metadata is None:
                        metadata = self._authenticate(endpoint, deadline)
                    remaining = deadline - time.monotonic()
                    if split_attempts and remaining > 2 * _MIN_ATTEMPT_SECONDS:
                        remaining /= 2
                    if request is _INVOKE:
                        return invoke(endpoint, max(remaining, 0.001), metadata)
                    return invoke(endpoint)(
                        request, timeout=max(remaining, 0.001), metadata=metadata
                    )
                except grpc.RpcError as exc:
                    if self.closed:
                        raise StoreClosedError(
                            f"{operation}: the store is closed", key=key, operation=operation
                        ) from exc
                    if self._username and not renewed_token and is_invalid_token(exc):
                        renewed_token = True
                        self.forget_token(metadata)
                        continue
                    retry = False
                    reason = "unavailable"
                    if is_unavailable(exc):
                        self.pool.mark_failed(endpoint)
                        retry = not write or never_sent(exc)
                    elif is_deadline(exc):
                        # A member that holds calls past the deadline (paused, partitioned)
                        # is passed over by the next calls.
                        self.pool.mark_failed(endpoint)
                        retry = idempotent
                        reason = "deadline"
                    if not retry or time.monotonic() + delay >= deadline:
                        raise
                    report_event(
                        "retry",
                        store=self.pool.events_source,
                        operation=operation,
                        endpoint=endpoint.address,
                        reason=reason,
                    )
                    sleep(delay)
                    delay = min(delay * 2, _RETRY_MAX_DELAY)
            except Exception as exc:
                mapped = mapped_error(
                    exc,
                    operation=operation,
                    key=key,
                    write=write,
                    endpoint=endpoint.address,
                    lease=lease,
                    revision=revision,
                )
                if mapped is None:
                    raise
                raise mapped from exc

    def maybe_sync(self) -> None:
        """``sync_endpoints`` if it is due (each call, and each stream opened, asks)."""
        if time.monotonic() >= self._next_sync:
            self.sync_endpoints()

    def sync_endpoints(self) -> None:
        """Replace the endpoints by the client URLs of the cluster's voting members, as
        Go's ``AutoSyncInterval`` does; due every ``auto_sync_interval`` seconds, it runs
        before the call that finds it due. A failed ``MemberList`` keeps the endpoints."""
        self._next_sync = time.monotonic() + self.pool.config.auto_sync_interval
        try:
            data = self.unary("member_list", "MemberList", b"", idempotent=True)
        except KVStoreError as exc:
            _log.debug("auto-sync: MemberList failed, the endpoints stay: %s", exc)
            return
        addresses = member_endpoints(data)
        if self.pool.set_endpoints(addresses):
            _log.info("auto-sync: the endpoints are now %s", ", ".join(addresses))

    def unary(
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
        """Send ``request`` as the unary RPC ``method`` (``call``'s rules and errors).

        Returns:
            The answer (to be awaited on the asyncio store: the call's one coroutine).
        """
        return self._send(
            operation,
            _STUB_METHODS[method],
            request,
            key,
            write,
            idempotent,
            timeout,
            lease,
            revision,
        )

    def metadata(self, endpoint: Endpoint, deadline: float) -> Metadata:
        """The auth token metadata, authenticating first if needed (``None`` without auth).

        Raises:
            grpc.RpcError: The endpoint failed or refused the credentials (``call``
                translates it; ``stream_metadata`` is the translating form).
        """
        if not self._username:
            return None
        metadata = self.metadata_cache
        if metadata is not None:
            return metadata
        return self._authenticate(endpoint, deadline)

    def _authenticate(self, endpoint: Endpoint, deadline: float) -> Metadata:
        with self._auth_lock:
            if self.metadata_cache is None:
                request = rpc_pb2.AuthenticateRequest(name=self._username, password=self._password)
                response = endpoint.auth.Authenticate(
                    request, timeout=max(deadline - time.monotonic(), 0.001)
                )
                self.metadata_cache = (("token", response.token),)
            return self.metadata_cache

    def stream_metadata(self, endpoint: Endpoint, deadline: float) -> Metadata:
        """Auth metadata for a stream call, authenticating if needed.

        Raises:
            AuthenticationError: The credentials were refused.
            UnavailableError: The endpoint failed during authentication.
            StoreClosedError: The store was closed.
        """
        with map_errors("watch", endpoint=endpoint.address):
            return self.metadata(endpoint, deadline)

    def forget_token(self, metadata: Metadata) -> None:
        """Drop an auth token that etcd refused, so the next call authenticates again."""
        # Compared by identity: a token another call renewed meanwhile is kept. No lock:
        # a read and a write of one attribute, both atomic.
        if self.metadata_cache is metadata:
            self.metadata_cache = None
