"""The one place where gRPC and etcd3 exceptions become ``kvstore`` errors.

``translate`` turns a ``grpc.RpcError`` into the matching ``kvstore.errors`` class, using
etcd's error messages first (they are stable strings, e.g. ``"etcdserver: requested lease
not found"``) and the gRPC status code second. The message is kvstore's own wording, the
memory backend's where it has the same error (``"lease_revoke: lease 0x1234 not found"``),
naming the operation and the key, lease or revision the caller passed; etcd's text stays
in the ``__cause__`` (the ``grpc.RpcError``). ``map_errors`` is the context manager
around every call into gRPC or etcd3, so no foreign exception escapes ``kvstore_etcd``.
``translate_cancel_reason`` does the same for a watch that etcd cancelled, and the
predicates (``is_stream_lost``, ``tls_failure`` ...) are the other modules' only way to
read gRPC status codes and etcd's error strings.

Whether a failed write might have been applied decides between ``UnavailableError`` (it
provably never left the client) and ``IndeterminateError`` (its outcome is unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import NamedTuple

import grpc

from kvstore.errors import (
    AuthenticationError,
    BackendError,
    CompactedError,
    DuplicateKeyError,
    IndeterminateError,
    InvalidArgumentError,
    KeyNotFoundError,
    KVStoreError,
    LeaseNotFoundError,
    OperationTimeoutError,
    PermissionDeniedError,
    StoreClosedError,
    TransactionTooLargeError,
    UnavailableError,
    ValueTooLargeError,
)

__all__ = [
    "CHANNEL_USAGE_ERRORS",
    "ERRORS_BY_CODE",
    "ERRORS_BY_MESSAGE",
    "STREAM_WRITE_ERRORS",
    "cancel_refuses_token",
    "closed_channel_error",
    "compacted_error",
    "is_deadline",
    "is_invalid_token",
    "is_stream_lost",
    "is_unavailable",
    "map_errors",
    "mapped_error",
    "never_sent",
    "refused_again_error",
    "refused_lease_error",
    "tls_failure",
    "translate",
    "translate_cancel_reason",
]

ERRORS_BY_MESSAGE: dict[str, type[KVStoreError]] = {
    "etcdserver: requested lease not found": LeaseNotFoundError,
    "etcdserver: key not found": KeyNotFoundError,
    "mvcc: required revision has been compacted": CompactedError,
    "mvcc: required revision is a future revision": InvalidArgumentError,
    "etcdserver: request is too large": ValueTooLargeError,
    "etcdserver: too many operations in txn request": TransactionTooLargeError,
    "etcdserver: duplicate key given in txn request": DuplicateKeyError,
    "etcdserver: authentication failed, invalid user ID or password": AuthenticationError,
    "etcdserver: user name is empty": AuthenticationError,
    "etcdserver: user name not found": AuthenticationError,
    "etcdserver: authentication is not enabled": AuthenticationError,
    "etcdserver: invalid auth token": AuthenticationError,
    "etcdserver: permission denied": PermissionDeniedError,
    "etcdserver: lease already exists": InvalidArgumentError,
    "etcdserver: key is not provided": InvalidArgumentError,
}
"""etcd error strings (``status.details()``) and the kvstore error each one means."""

ERRORS_BY_CODE: dict[grpc.StatusCode, type[KVStoreError]] = {
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: OperationTimeoutError,
    grpc.StatusCode.CANCELLED: UnavailableError,
}
"""gRPC status codes and the kvstore error for a read; anything else is ``BackendError``."""


class _Context(NamedTuple):
    """The parts of a kvstore message that the call knows, worded to fill ``_WORDING``."""

    lease: str
    """``"lease 0x1234"``, or ``"lease"`` when the call did not say which."""
    revision: str
    """``"revision 5"``, or ``"the revision asked for"``."""
    for_key: str
    """``" for key 'k'"``, or empty."""
    on_key: str
    """``" on 'k'"``, or empty."""
    etcd: str
    """``"etcd at host:port"``, or ``"etcd"``."""


_WORDING: dict[str, str] = {
    "etcdserver: requested lease not found": "{lease}{for_key} not found",
    "etcdserver: key not found": "ignore_lease needs an existing key, none found{for_key}",
    "mvcc: required revision is a future revision": "{revision} is in the future",
    "etcdserver: request is too large": (
        "the request{for_key} is larger than {etcd} accepts (its --max-request-bytes)"
    ),
    "etcdserver: too many operations in txn request": (
        "the transaction has more operations than {etcd} accepts (its --max-txn-ops)"
    ),
    "etcdserver: duplicate key given in txn request": (
        "the transaction writes the same key more than once"
    ),
    "etcdserver: authentication failed, invalid user ID or password": (
        "authentication failed: {etcd} refused the user name or password"
    ),
    "etcdserver: user name is empty": "authentication failed: the user name is empty",
    "etcdserver: user name not found": "authentication failed: {etcd} has no such user",
    "etcdserver: authentication is not enabled": (
        "authentication failed: {etcd} does not have authentication enabled "
        "(configure no user name for it)"
    ),
    "etcdserver: invalid auth token": "{etcd} refused the auth token (expired or unknown)",
    "etcdserver: permission denied": "permission denied{on_key}",
    "etcdserver: lease already exists": "{lease} already exists",
    "etcdserver: key is not provided": "no key given",
    "etcdserver: no leader": "{etcd} has no leader",
    "etcdserver: leader changed": "the etcd leader changed during the request",
    "etcdserver: request timed out": "{etcd} timed out applying the request",
    "etcdserver: too many requests": "{etcd} is overloaded (too many requests)",
    "etcdserver: server stopped": "{etcd} is stopping",
    "etcdserver: mvcc: database space exceeded": (
        "{etcd} is out of space (compact and defragment it, then disarm the NOSPACE alarm)"
    ),
    "etcdserver: not capable": "{etcd} does not support this request (its version is too old)",
}
"""etcd error strings and kvstore's wording of them (``_Context`` fields fill them in).

The first entry found in etcd's text wins: "request timed out" also covers etcd's "request
timed out, possibly due to previous leader failure" and "... connection lost".
"""

_UNKNOWN_OUTCOME_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED}
)

# gRPC's wording when the connection was never made: such a request never left the client.
_NOT_SENT_MARKERS = (
    "failed to connect",
    "connection refused",
    "dns resolution failed",
    "name resolution",
    "no endpoint reachable",
    "ssl handshake",
    "handshake failed",
)

_SENT_MESSAGE_TOO_LARGE = "sent message larger than max"

_STREAM_LOST_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)

CHANNEL_USAGE_ERRORS: tuple[type[Exception], ...] = (ValueError, grpc.aio.UsageError)
"""What grpc raises for a call on a closed channel: ``ValueError`` (sync channels),
``grpc.aio.UsageError`` (asyncio channels); ``closed_channel_error`` tells them apart
from other errors of these types."""

STREAM_WRITE_ERRORS: tuple[type[Exception], ...] = (grpc.RpcError, asyncio.InvalidStateError)
"""What writing to a ``grpc.aio`` stream raises once the call ended (a write after the end
raises ``InvalidStateError``)."""

_TLS_FAILURE_MARKERS = ("handshake failed", "certificate_verify_failed", "bad_certificate")

# etcd cancels a watch whose auth token expired with "permission denied", the same words
# as a watch on a key the user may not read.
_REFUSED_TOKEN_CANCEL_REASONS = ("permission denied", "invalid auth token")


def _code(exc: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(exc, "code", None)
    if code is None:
        return None
    try:
        result = code()
    except Exception:  # noqa: BLE001 - a half-built RpcError has no code
        return None
    return result if isinstance(result, grpc.StatusCode) else None


def _details(exc: grpc.RpcError) -> str:
    details = getattr(exc, "details", None)
    if details is None:
        return ""
    try:
        text = details()
    except Exception:  # noqa: BLE001 - a half-built RpcError has no details
        return ""
    return text if isinstance(text, str) else ""


def _describe(
    details: str,
    *,
    key: str | None,
    lease: int | None,
    revision: int | None,
    endpoint: str | None,
) -> str | None:
    """kvstore's wording of etcd's error text ``details``; ``None`` if it is not known.

    The wording names the key (when ``key`` is given) even where the table's does not.
    """
    wording = next((text for known, text in _WORDING.items() if known in details), None)
    if wording is None:
        return None
    context = _Context(
        lease=f"lease {lease:#x}" if lease is not None else "lease",
        revision=f"revision {revision}" if revision is not None else "the revision asked for",
        for_key=f" for key {key!r}" if key is not None else "",
        on_key=f" on {key!r}" if key is not None else "",
        etcd=f"etcd at {endpoint}" if endpoint else "etcd",
    )
    description = wording.format(**context._asdict())
    if key is not None and repr(key) not in description:
        description += f" (key {key!r})"
    return description


def _error_class_for(message: str) -> type[KVStoreError] | None:
    """The kvstore error an etcd error string means, if it is one of ``ERRORS_BY_MESSAGE``."""
    return next((cls for text, cls in ERRORS_BY_MESSAGE.items() if text in message), None)


def is_unavailable(exc: grpc.RpcError) -> bool:
    """Whether ``exc`` says the endpoint (or its cluster) cannot serve right now."""
    return _code(exc) is grpc.StatusCode.UNAVAILABLE


def is_deadline(exc: grpc.RpcError) -> bool:
    """Whether ``exc`` says the call ran out of time."""
    return _code(exc) is grpc.StatusCode.DEADLINE_EXCEEDED


def never_sent(exc: grpc.RpcError) -> bool:
    """Whether ``exc`` proves the request never reached a server (safe to send elsewhere)."""
    if _code(exc) is not grpc.StatusCode.UNAVAILABLE:
        return False
    details = _details(exc).lower()
    return any(marker in details for marker in _NOT_SENT_MARKERS)


def is_stream_lost(exc: grpc.RpcError) -> bool:
    """Whether a broken watch stream is worth opening again (rather than a definitive error).

    Besides ``UNAVAILABLE``, a member that stops or a connection that is reset mid-stream
    shows up as ``CANCELLED``, ``DEADLINE_EXCEEDED``, ``UNKNOWN`` or ``INTERNAL``.
    """
    return _code(exc) in _STREAM_LOST_CODES


def tls_failure(exc: grpc.RpcError) -> str | None:
    """The TLS handshake error that ``exc`` reports, without gRPC's wrapping; else ``None``."""
    details = _details(exc)
    if not any(marker in details.lower() for marker in _TLS_FAILURE_MARKERS):
        return None
    return details.removeprefix("failed to connect to all addresses; last error: ").removesuffix(
        ": OK"
    )


def is_invalid_token(exc: grpc.RpcError) -> bool:
    """Whether ``exc`` says the auth token expired or is unknown (re-authenticate, retry)."""
    return "invalid auth token" in _details(exc) or (
        _code(exc) is grpc.StatusCode.UNAUTHENTICATED and "auth" in _details(exc).lower()
    )


def translate(
    exc: grpc.RpcError,
    *,
    operation: str,
    key: str | None = None,
    write: bool = False,
    endpoint: str | None = None,
    compact_revision: int = 0,
    lease: int | None = None,
    revision: int | None = None,
) -> KVStoreError:
    """The kvstore error for a failed gRPC call.

    Args:
        exc: The gRPC error.
        operation: The kvstore operation (``"put"``, ``"range"`` ...), for the message.
        key: The key of the call, if any.
        write: Whether the call writes: an unknown outcome then is ``IndeterminateError``.
        endpoint: The endpoint that failed, for the message.
        compact_revision: The compact revision, for a ``CompactedError``.
        lease: The lease ID of the call, if any, for the message.
        revision: The revision the call asked for, if any, for the message.

    Returns:
        The error to raise (``raise translate(...) from exc``, which keeps etcd's own text
        in the ``__cause__``).
    """
    code = _code(exc)
    details = _details(exc)
    where = f" at {endpoint}" if endpoint else ""
    about = f" (key {key!r})" if key is not None else ""
    description = _describe(details, key=key, lease=lease, revision=revision, endpoint=endpoint)
    if description is not None:
        message = f"{operation}: {description}"
        reason = description
        about = ""
    else:
        reason = details.removeprefix("etcdserver: ") or (
            code.name if code is not None else type(exc).__name__
        )
        message = f"{operation}: etcd{where}: {reason}{about}"
        reason = f"etcd{where}: {reason}"
    error_class = _error_class_for(details)
    if error_class is None and _SENT_MESSAGE_TOO_LARGE in details.lower():
        error_class = ValueTooLargeError
    if error_class is None and code in _UNKNOWN_OUTCOME_CODES and write and not never_sent(exc):
        return IndeterminateError(
            f"{operation}: the write may or may not have been applied "
            f"({reason}){about}; read the key to learn the outcome",
            key=key,
            operation=operation,
        )
    if error_class is None and code is not None:
        error_class = ERRORS_BY_CODE.get(code)
    if error_class is CompactedError:
        return compacted_error(
            operation, revision=revision, compact_revision=compact_revision, key=key
        )
    if error_class is OperationTimeoutError:
        return OperationTimeoutError(
            f"{operation}: etcd{where} did not answer within the request timeout{about}",
            key=key,
            operation=operation,
        )
    return (error_class or BackendError)(message, key=key, operation=operation)


def closed_channel_error(
    exc: Exception, *, operation: str, key: str | None = None
) -> StoreClosedError | None:
    """The ``StoreClosedError`` for grpc's error on a closed channel, else ``None``.

    grpc raises a bare ``ValueError`` for a call on a closed sync channel: "Cannot invoke
    RPC on closed channel!" for unary calls, "Cannot invoke RPC: Channel closed!" for
    streams; and ``grpc.aio.UsageError("Channel is closed.")`` on an asyncio channel.
    """
    text = str(exc).lower()
    if not any(
        marker in text for marker in ("closed channel", "channel closed", "channel is closed")
    ):
        return None
    return StoreClosedError(f"{operation}: the store is closed", key=key, operation=operation)


def compacted_error(
    operation: str, *, revision: int | None, compact_revision: int, key: str | None
) -> CompactedError:
    """The ``CompactedError`` for a request at ``revision`` below ``compact_revision``.

    etcd's own message ("mvcc: required revision has been compacted") names neither the
    key nor the revisions; this one does, worded as on the memory backend.

    Args:
        operation: The kvstore operation (``"range"``, ``"txn"``, ``"watch"`` ...).
        revision: The revision asked for, if known.
        compact_revision: The store's compact revision (0: it could not be learnt).
        key: The key of the request, if any.

    Returns:
        The error to raise.
    """
    asked = f"revision {revision}" if revision is not None else "the revision asked for"
    of_key = f" of {key!r}" if key is not None else ""
    known = (
        f"compact revision {compact_revision}" if compact_revision else "compact revision unknown"
    )
    return CompactedError(
        f"{operation}: {asked}{of_key} was compacted ({known})",
        compact_revision=compact_revision,
        key=key,
        operation=operation,
    )


def cancel_refuses_token(reason: str) -> bool:
    """Whether etcd's reason for cancelling a watch may be a refused auth token.

    Authenticating again and reopening the watch tells an expired token (it then works)
    from a key the user may not read (``refused_again_error``).
    """
    return any(text in reason for text in _REFUSED_TOKEN_CANCEL_REASONS)


def refused_again_error(operation: str, key: str | None) -> PermissionDeniedError:
    """The error once etcd refused a freshly renewed auth token too: access is denied."""
    about = f" on {key!r}" if key is not None else ""
    return PermissionDeniedError(
        f"{operation}: permission denied{about}", key=key, operation=operation
    )


def translate_cancel_reason(
    reason: str, *, compact_revision: int, key: str, revision: int | None
) -> KVStoreError:
    """The kvstore error for a watch that etcd cancelled.

    Args:
        reason: etcd's ``cancel_reason`` (may be empty).
        compact_revision: The response's ``compact_revision`` (0 if etcd did not set it).
        key: The watched key.
        revision: The revision the watch asked to start from, for a ``CompactedError``.

    Returns:
        ``CompactedError`` when history the watch needs was compacted, the error
        ``ERRORS_BY_MESSAGE`` names for ``reason``, else ``BackendError``.
    """
    error_class = _error_class_for(reason)
    if compact_revision or error_class is CompactedError:
        return compacted_error(
            "watch", revision=revision, compact_revision=compact_revision, key=key
        )
    description = _describe(reason, key=key, lease=None, revision=revision, endpoint=None)
    if description is None:
        description = f"{reason or 'etcd cancelled the watch'} (key {key!r})"
    return (error_class or BackendError)(f"watch: {description}", key=key, operation="watch")


def refused_lease_error(reason: str) -> InvalidArgumentError:
    """The error for a ``LeaseGrant`` answer whose ``error`` field is set."""
    description = _describe(reason, key=None, lease=None, revision=None, endpoint=None)
    return InvalidArgumentError(
        f"lease_grant: etcd refused the lease: {description or reason}", operation="lease_grant"
    )


@contextlib.contextmanager
def map_errors(
    operation: str,
    *,
    key: str | None = None,
    write: bool = False,
    endpoint: str | None = None,
    lease: int | None = None,
    revision: int | None = None,
) -> Iterator[None]:
    """Turn any gRPC or etcd3 exception raised in the block into a kvstore error.

    ``KVStoreError`` passes through unchanged. The arguments are ``translate``'s.

    Raises:
        KVStoreError: The translated error (its ``__cause__`` is the original).
    """
    try:
        yield
    except Exception as exc:
        mapped = mapped_error(
            exc,
            operation=operation,
            key=key,
            write=write,
            endpoint=endpoint,
            lease=lease,
            revision=revision,
        )
        if mapped is None:
            raise
        raise mapped from exc


def mapped_error(
    exc: Exception,
    *,
    operation: str,
    key: str | None = None,
    write: bool = False,
    endpoint: str | None = None,
    lease: int | None = None,
    revision: int | None = None,
) -> KVStoreError | None:
    """The kvstore error ``map_errors`` raises for ``exc`` (``raise it from exc``), or
    ``None`` when ``exc`` passes through unchanged (a ``KVStoreError``, or an exception
    that is neither grpc's nor etcd3's). The hot paths catch and call this instead of
    entering ``map_errors``: a ``try`` costs nothing until something is raised."""
    if isinstance(exc, KVStoreError):
        return None
    if isinstance(exc, grpc.RpcError):
        return translate(
            exc,
            operation=operation,
            key=key,
            write=write,
            endpoint=endpoint,
            lease=lease,
            revision=revision,
        )
    if isinstance(exc, CHANNEL_USAGE_ERRORS):
        return closed_channel_error(exc, operation=operation, key=key)
    if _is_etcd3_error(exc):
        return BackendError(
            f"{operation}: etcd client error: {type(exc).__name__}",
            key=key,
            operation=operation,
        )
    return None


def _is_etcd3_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("etcd3")
