"""The one place where gRPC and etcd3 exceptions become ``kvstore`` errors.

``translate`` turns a ``grpc.RpcError`` into the matching ``kvstore.errors`` class, using
etcd's error messages first (they are stable strings, e.g. ``"etcdserver: requested lease
not found"``) and the gRPC status code second. ``map_errors`` is the context manager
around every call into gRPC or etcd3, so no foreign exception escapes ``kvstore_etcd``.

Whether a failed write might have been applied decides between ``UnavailableError`` (it
provably never left the client) and ``IndeterminateError`` (its outcome is unknown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import grpc

from kvstore.errors import (
    AuthenticationError,
    BackendError,
    CompactedError,
    DuplicateKeyError,
    IndeterminateError,
    InvalidArgumentError,
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
    "ERRORS_BY_CODE",
    "ERRORS_BY_MESSAGE",
    "closed_channel_error",
    "compacted_error",
    "is_deadline",
    "is_invalid_token",
    "is_unavailable",
    "map_errors",
    "never_sent",
    "translate",
]

ERRORS_BY_MESSAGE: dict[str, type[KVStoreError]] = {
    "etcdserver: requested lease not found": LeaseNotFoundError,
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
) -> KVStoreError:
    """The kvstore error for a failed gRPC call.

    Args:
        exc: The gRPC error.
        operation: The kvstore operation (``"put"``, ``"range"`` ...), for the message.
        key: The key of the call, if any.
        write: Whether the call writes: an unknown outcome then is ``IndeterminateError``.
        endpoint: The endpoint that failed, for the message.
        compact_revision: The compact revision, for a ``CompactedError``.

    Returns:
        The error to raise (``raise translate(...) from exc``).
    """
    code = _code(exc)
    details = _details(exc)
    where = f" at {endpoint}" if endpoint else ""
    about = f" (key {key!r})" if key is not None else ""
    reason = details or (code.name if code is not None else type(exc).__name__)
    message = f"{operation}: etcd{where}: {reason}{about}"
    error_class: type[KVStoreError] | None = None
    for text, candidate in ERRORS_BY_MESSAGE.items():
        if text in details:
            error_class = candidate
            break
    if error_class is None and _SENT_MESSAGE_TOO_LARGE in details.lower():
        error_class = ValueTooLargeError
    if error_class is None and code in _UNKNOWN_OUTCOME_CODES and write and not never_sent(exc):
        return IndeterminateError(
            f"{operation}: the write may or may not have been applied "
            f"(etcd{where}: {reason}){about}; read the key to learn the outcome",
            key=key,
            operation=operation,
        )
    if error_class is None and code is not None:
        error_class = ERRORS_BY_CODE.get(code)
    if error_class is CompactedError:
        return CompactedError(
            message, compact_revision=compact_revision, key=key, operation=operation
        )
    if error_class is OperationTimeoutError:
        return OperationTimeoutError(
            f"{operation}: etcd{where} did not answer within the request timeout{about}",
            key=key,
            operation=operation,
        )
    return (error_class or BackendError)(message, key=key, operation=operation)


def closed_channel_error(
    exc: ValueError, *, operation: str, key: str | None = None
) -> StoreClosedError | None:
    """The ``StoreClosedError`` for grpc's ``ValueError`` on a closed channel, else ``None``.

    grpc raises a bare ``ValueError`` for a call on a closed channel: "Cannot invoke RPC on
    closed channel!" for unary calls, "Cannot invoke RPC: Channel closed!" for streams.
    """
    text = str(exc).lower()
    if "closed channel" not in text and "channel closed" not in text:
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
        compact_revision: The store's compact revision (0 if it could not be learnt).
        key: The key of the request, if any.

    Returns:
        The error to raise.
    """
    asked = f"revision {revision}" if revision is not None else "the revision asked for"
    of_key = f" of {key!r}" if key is not None else ""
    return CompactedError(
        f"{operation}: {asked}{of_key} was compacted (compact revision {compact_revision})",
        compact_revision=compact_revision,
        key=key,
        operation=operation,
    )


@contextlib.contextmanager
def map_errors(
    operation: str,
    *,
    key: str | None = None,
    write: bool = False,
    endpoint: str | None = None,
) -> Iterator[None]:
    """Turn any gRPC or etcd3 exception raised in the block into a kvstore error.

    ``KVStoreError`` passes through unchanged.

    Raises:
        KVStoreError: The translated error (its ``__cause__`` is the original).
    """
    try:
        yield
    except KVStoreError:
        raise
    except grpc.RpcError as exc:
        raise translate(exc, operation=operation, key=key, write=write, endpoint=endpoint) from exc
    except ValueError as exc:
        closed = closed_channel_error(exc, operation=operation, key=key)
        if closed is None:
            raise
        raise closed from exc
    except Exception as exc:
        if _is_etcd3_error(exc):
            raise BackendError(
                f"{operation}: etcd client error: {type(exc).__name__}",
                key=key,
                operation=operation,
            ) from exc
        raise


def _is_etcd3_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("etcd3")
