"""Keys, ranges and argument checks shared by every backend.

Keys are non-empty ``str``; a range is ``[key, range_end)`` in the order of the keys' UTF-8
encodings (which is code point order). As in etcd, ``range_end="\\0"`` means "every key
from ``key`` on", and ``key="\\0", range_end="\\0"`` means every key.

Every backend calls these checks at the entry of its primitives, so bad input gets the
same typed error on every backend, before anything is stored.
"""

from __future__ import annotations

from typing import TypeGuard

from kvstore.errors import InvalidArgumentError, InvalidKeyError, ValueTooLargeError
from kvstore.types import SortOrder, SortTarget

__all__ = [
    "ALL_KEYS",
    "MAX_LEASE_TTL",
    "MAX_REQUEST_BYTES",
    "MIN_LEASE_TTL",
    "REQUEST_OVERHEAD_BYTES",
    "check_key",
    "check_lease_id",
    "check_limit",
    "check_range",
    "check_range_end",
    "check_range_options",
    "check_revision",
    "check_revision_bound",
    "check_ttl",
    "check_value",
    "check_value_size",
    "is_int",
    "prefix_range_end",
]

ALL_KEYS = "\0"
"""``range_end`` meaning "no upper bound"; with ``key=ALL_KEYS`` it selects every key."""

MAX_REQUEST_BYTES = 1536 * 1024
"""etcd's default ``--max-request-bytes`` (1.5 MiB)."""

REQUEST_OVERHEAD_BYTES = 512
"""Room kept for the request framing etcd counts against ``MAX_REQUEST_BYTES``."""

MIN_LEASE_TTL = 2
"""etcd raises every granted lease TTL to at least 2 seconds (a backend with etcd's
semantics does the same)."""

MAX_LEASE_TTL = 9_000_000_000
"""etcd's largest lease TTL in seconds (``lease.MaxLeaseTTL``); above it a grant fails."""

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_range_end(prefix: str) -> str:
    """The range end that selects exactly the keys starting with ``prefix``.

    Returns:
        ``"\\0"`` (no upper bound) for the empty prefix, else the smallest string above
        every string that starts with ``prefix``.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code in _SURROGATES:
            code = _SURROGATES.stop
        if code <= _MAX_CODE_POINT:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return ALL_KEYS


def check_key(key: object, *, operation: str, allow_empty: bool = False) -> str:
    """Check that ``key`` is a usable key.

    Returns:
        ``key`` itself, now known to be a ``str``.

    Raises:
        InvalidKeyError: ``key`` is not a ``str``, is empty (unless ``allow_empty``), or
            cannot be encoded as UTF-8.
    """
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"{operation}: keys are str, not {type(key).__name__}", operation=operation
        )
    if not key and not allow_empty:
        raise InvalidKeyError(f"{operation}: the key is empty", key=key, operation=operation)
    try:
        key.encode()
    except UnicodeEncodeError as exc:
        raise InvalidKeyError(
            f"{operation}: key {key!r} is not valid UTF-8", key=key, operation=operation
        ) from exc
    return key


def check_range_end(range_end: object, *, operation: str) -> str:
    """Check a range end (any ``str``, ``"\\0"`` meaning unbounded).

    Returns:
        ``range_end`` itself.

    Raises:
        InvalidKeyError: ``range_end`` is not a ``str`` or is not valid UTF-8.
    """
    return check_key(range_end, operation=operation, allow_empty=True)


def check_value(value: object, *, operation: str, key: str | None = None) -> bytes:
    """Check that ``value`` is ``bytes`` (``bytearray`` and ``memoryview`` are copied).

    Returns:
        ``value`` as ``bytes`` (a copy for ``bytearray`` and ``memoryview``).

    Raises:
        InvalidArgumentError: ``value`` is not bytes-like (``None``, ``str``, ...).
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise InvalidArgumentError(
        f"{operation}: values are bytes, not {type(value).__name__} (key {key!r})",
        key=key,
        operation=operation,
    )


def check_value_size(
    key: str, value: bytes, *, operation: str, max_request_bytes: int = MAX_REQUEST_BYTES
) -> None:
    """Check that a put of ``value`` at ``key`` fits in one request.

    The limit is ``max_request_bytes - REQUEST_OVERHEAD_BYTES`` for key plus value, so the
    request is refused here, identically on every backend, before etcd would refuse it.

    Raises:
        ValueTooLargeError: key plus value are over the limit.
    """
    size = len(key.encode()) + len(value)
    limit = max_request_bytes - REQUEST_OVERHEAD_BYTES
    if size > limit:
        raise ValueTooLargeError(
            f"{operation}: key {key!r} with a {len(value)}-byte value is {size} bytes, "
            f"over the request limit of {limit} bytes",
            key=key,
            operation=operation,
        )


def is_int(
    value: object, *, minimum: int | None = None, maximum: int | None = None
) -> TypeGuard[int]:
    """Whether ``value`` is an ``int`` from ``minimum`` to ``maximum`` (``None``: unbounded).

    A ``bool`` is not an int here (``True`` is not a revision, a TTL or a count). Every
    check of an integer argument uses this test and raises its own error when it fails.

    Returns:
        ``True`` if ``value`` is a non-``bool`` int within the bounds.
    """
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )


def check_revision(revision: object, *, operation: str, key: str | None = None) -> int:
    """Check a revision argument (a positive ``int``).

    Returns:
        ``revision`` itself.

    Raises:
        InvalidArgumentError: ``revision`` is not an ``int`` or is below 1.
    """
    if not is_int(revision, minimum=1):
        raise InvalidArgumentError(
            f"{operation}: revision must be a positive int, not {revision!r}",
            key=key,
            operation=operation,
        )
    return revision


def check_ttl(ttl: object, *, operation: str) -> int:
    """Check a lease TTL in seconds (a positive ``int``).

    etcd silently raises TTLs below 2 to 2; a TTL of 0 or less is refused here instead.

    Returns:
        ``ttl`` itself.

    Raises:
        InvalidArgumentError: ``ttl`` is not an ``int`` or is below 1.
    """
    if not is_int(ttl, minimum=1):
        raise InvalidArgumentError(
            f"{operation}: ttl must be a positive number of seconds, not {ttl!r}",
            operation=operation,
        )
    return ttl


def check_limit(limit: object, *, operation: str) -> int:
    """Check a ``limit`` argument (an ``int``; 0 or less means no limit where allowed).

    Returns:
        ``limit`` itself.

    Raises:
        InvalidArgumentError: ``limit`` is not an ``int``.
    """
    if not is_int(limit):
        raise InvalidArgumentError(
            f"{operation}: limit must be an int, not {type(limit).__name__}", operation=operation
        )
    return limit


def check_range(
    key: object,
    range_end: object,
    *,
    operation: str,
    revision: object = None,
    limit: object = 0,
) -> None:
    """The checks of a range read, delete or watch, in one call for every backend.

    Raises:
        InvalidKeyError: ``key`` is not a valid key (empty is allowed with a range end), or
            ``range_end`` is not a ``str``.
        InvalidArgumentError: ``revision`` is not a positive int or ``limit`` not an int.
    """
    check_key(key, operation=operation, allow_empty=range_end is not None)
    if range_end is not None:
        check_range_end(range_end, operation=operation)
    if revision is not None:
        check_revision(revision, operation=operation, key=key if isinstance(key, str) else None)
    check_limit(limit, operation=operation)


def check_revision_bound(bound: object, *, name: str, operation: str) -> int:
    """Check a create-revision bound of a range read (an ``int``, 0 meaning no bound).

    etcd takes a negative bound as a revision no key has (a negative maximum selects
    nothing); it is refused here instead, as negative read revisions are.

    Returns:
        ``bound`` itself.

    Raises:
        InvalidArgumentError: ``bound`` is not an ``int`` or is negative.
    """
    if not is_int(bound, minimum=0):
        raise InvalidArgumentError(
            f"{operation}: {name} must be an int >= 0 (0: no bound), not {bound!r}",
            operation=operation,
        )
    return bound


def check_range_options(
    *,
    operation: str,
    sort_target: object = None,
    sort_order: object = None,
    min_create_revision: object = 0,
    max_create_revision: object = 0,
) -> None:
    """The checks of a range read's sort and create-revision bounds.

    Only the enum members are accepted: etcd 3.4 and 3.5 crash (the whole member) on a
    sort target they do not know, and ignore an unknown sort order.

    Raises:
        InvalidArgumentError: ``sort_target`` is not ``None`` or a ``SortTarget``,
            ``sort_order`` not ``None`` or a ``SortOrder``, or a bound not an int >= 0.
    """
    if sort_target is not None and not isinstance(sort_target, SortTarget):
        raise InvalidArgumentError(
            f"{operation}: sort_target must be None or a SortTarget, not {sort_target!r}",
            operation=operation,
        )
    if sort_order is not None and not isinstance(sort_order, SortOrder):
        raise InvalidArgumentError(
            f"{operation}: sort_order must be None or a SortOrder, not {sort_order!r}",
            operation=operation,
        )
    check_revision_bound(min_create_revision, name="min_create_revision", operation=operation)
    check_revision_bound(max_create_revision, name="max_create_revision", operation=operation)


def check_lease_id(lease: object, *, operation: str) -> int:
    """Check a lease id (a positive ``int``).

    Returns:
        ``lease`` itself.

    Raises:
        InvalidArgumentError: ``lease`` is not an ``int`` or is below 1.
    """
    if not is_int(lease, minimum=1):
        raise InvalidArgumentError(
            f"{operation}: lease id must be a positive int, not {lease!r}", operation=operation
        )
    return lease
