"""The backend-neutral transaction model: compares, operations and their validation.

Compares are built with comparison operators on target helpers::

    from kvstore.txn import Version, Value, Put, Get, Delete

    result = (
        store.transaction()
        .if_(Version("config/a") == 0)
        .then(Put("config/a", b"1"))
        .else_(Get("config/a"))
        .commit()
    )

Targets: ``Value``, ``Version``, ``CreateRevision``, ``ModRevision``, ``LeaseId``; operators
``== != < >``. Operations: ``Put``, ``Get``, ``Delete`` (one key, a prefix or a range) and
``Txn`` (a nested transaction). The rules are etcd's, checked here once for every backend
by :func:`validate_txn`: at most ``max_txn_ops`` compares and operations per branch, and no
key written twice in one branch.
"""

from __future__ import annotations

import contextvars
import enum
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypeVar

import attrs

from kvstore.errors import (
    DuplicateKeyError,
    InvalidArgumentError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import (
    MAX_REQUEST_BYTES,
    REQUEST_OVERHEAD_BYTES,
    check_key,
    check_lease_id,
    check_limit,
    check_range,
    check_range_options,
    check_revision,
    check_value,
    is_int,
    prefix_range_end,
)
from kvstore.types import KeyValue, SortOrder, SortTarget

if TYPE_CHECKING:
    from kvstore.types import TxnResult

__all__ = [
    "AsyncTransactionBuilder",
    "Compare",
    "CompareOp",
    "CompareTarget",
    "CreateRevision",
    "Delete",
    "Get",
    "LeaseId",
    "ModRevision",
    "Op",
    "Put",
    "Txn",
    "TransactionBuilder",
    "Value",
    "Version",
    "WatchRequest",
    "build_request",
    "compare_holds",
    "count_ops",
    "validate_request",
    "validate_txn",
]


class CompareTarget(enum.Enum):
    """What a compare looks at."""

    VALUE = "value"
    VERSION = "version"
    CREATE = "create_revision"
    MOD = "mod_revision"
    LEASE = "lease"


class CompareOp(enum.Enum):
    """How a compare relates the target to the operand."""

    EQUAL = "=="
    NOT_EQUAL = "!="
    LESS = "<"
    GREATER = ">"


@attrs.frozen
class Compare:
    """One condition of a transaction.

    Attributes:
        key: The key compared (the start of the range when ``range_end`` is set).
        target: Which field is compared.
        op: The comparison.
        operand: ``bytes`` for ``VALUE``, ``int`` otherwise.
        range_end: When set, the compare must hold for every key in ``[key, range_end)``.
    """

    key: str
    target: CompareTarget
    op: CompareOp
    operand: bytes | int
    range_end: str | None = None

    def holds_for(self, actual: bytes | int) -> bool:
        """Evaluate the compare against one key's actual field value.

        Returns:
            ``True`` if ``actual`` satisfies the compare; ``False`` otherwise, and for operands of
            different types.
        """
        operand = self.operand
        if self.op is CompareOp.EQUAL:
            return actual == operand
        if self.op is CompareOp.NOT_EQUAL:
            return actual != operand
        if isinstance(actual, bytes) and isinstance(operand, bytes):
            return actual < operand if self.op is CompareOp.LESS else actual > operand
        if isinstance(actual, int) and isinstance(operand, int):
            return actual < operand if self.op is CompareOp.LESS else actual > operand
        return False


_COMPARED_FIELDS: dict[CompareTarget, Callable[[KeyValue], bytes | int]] = {
    CompareTarget.VALUE: operator.attrgetter("value"),
    CompareTarget.VERSION: operator.attrgetter("version"),
    CompareTarget.CREATE: operator.attrgetter("create_revision"),
    CompareTarget.MOD: operator.attrgetter("mod_revision"),
    CompareTarget.LEASE: operator.attrgetter("lease"),
}


def compare_holds(compare: Compare, kvs: Sequence[KeyValue]) -> bool:
    """Evaluate ``compare`` as etcd does, on the key-values of its key or range.

    It must hold for every key of the range. With none (a missing key), the version,
    revisions and lease compare as 0, and every ``Value`` compare fails: there is no value
    to compare.

    Args:
        compare: The condition.
        kvs: The key-values in ``[compare.key, compare.range_end)`` (or of the one key),
            as they were before the transaction.

    Returns:
        ``True`` if the compare holds for every key-value of ``kvs`` (or, with none, for a missing
        key).
    """
    if not kvs:
        return compare.target is not CompareTarget.VALUE and compare.holds_for(0)
    field = _COMPARED_FIELDS[compare.target]
    return all(compare.holds_for(field(kv)) for kv in kvs)


class _Target:
    """A compare target on one key (or a prefix); comparison operators build a ``Compare``."""

    target: CompareTarget

    def __init__(self, key: str, *, prefix: bool = False) -> None:
        check_key(key, operation="txn", allow_empty=prefix)
        self.key = key
        self.range_end = prefix_range_end(key) if prefix else None

    def _compare(self, op: CompareOp, operand: object) -> Compare:
        if self.target is CompareTarget.VALUE:
            operand = check_value(operand, key=self.key, operation="txn")
        elif not is_int(operand):
            raise InvalidArgumentError(
                f"txn: compare on {self.target.value} of {self.key!r} needs an int operand",
                key=self.key,
                operation="txn",
            )
        return Compare(self.key, self.target, op, operand, self.range_end)

    def __eq__(self, operand: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareOp.EQUAL, operand)

    def __ne__(self, operand: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareOp.NOT_EQUAL, operand)

    def __lt__(self, operand: object) -> Compare:
        return self._compare(CompareOp.LESS, operand)

    def __gt__(self, operand: object) -> Compare:
        return self._compare(CompareOp.GREATER, operand)

    __hash__ = None  # type: ignore[assignment]


class Value(_Target):
    """Compare a key's value (``bytes``)."""

    target = CompareTarget.VALUE


class Version(_Target):
    """Compare a key's version (0 when the key does not exist)."""

    target = CompareTarget.VERSION


class CreateRevision(_Target):
    """Compare a key's create revision (0 when the key does not exist)."""

    target = CompareTarget.CREATE


class ModRevision(_Target):
    """Compare a key's mod revision (0 when the key does not exist)."""

    target = CompareTarget.MOD


class LeaseId(_Target):
    """Compare the lease id a key is attached to (0 for none)."""

    target = CompareTarget.LEASE


_OPERATION: contextvars.ContextVar[str] = contextvars.ContextVar(
    "kvstore_request_operation", default="txn"
)
"""The operation named by the errors of requests being built (``"txn"`` unless a store's
keyword helper builds the request for ``range``, ``put`` or ``delete``)."""

_R = TypeVar("_R")


def build_request(operation: str, factory: Callable[..., _R], /, *args: Any, **kwargs: Any) -> _R:
    """Build a request whose validation errors name ``operation`` (not ``"txn"``).

    The keyword forms of ``BaseStore.kv_range`` / ``kv_put`` / ``kv_delete_range`` use it,
    so that ``store.kv_put("", b"v")`` says ``put: the key is empty``.

    Returns:
        What ``factory(*args, **kwargs)`` returns.

    Raises:
        InvalidKeyError: A key of the request is not valid (the message names ``operation``).
        InvalidArgumentError: Another field of the request is not valid.
    """
    token = _OPERATION.set(operation)
    try:
        return factory(*args, **kwargs)
    finally:
        _OPERATION.reset(token)


@attrs.frozen
class Put:
    """Put ``value`` at ``key`` (optionally attached to a lease): the request of
    ``kv_put`` and an operation of a transaction.

    ``ignore_lease`` (etcd's) keeps the key's current lease; the key must then exist
    (``KeyNotFoundError`` otherwise) and ``lease`` must be unset.

    Raises:
        InvalidKeyError: ``key`` is not a valid key.
        InvalidArgumentError: ``value`` is not bytes-like, ``lease`` is not an int
            >= 0 (0 and ``None``: no lease), or a lease comes with ``ignore_lease``.
    """

    key: str
    value: bytes
    lease: int | None = None
    prev_kv: bool = False
    ignore_lease: bool = attrs.field(default=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        operation = _OPERATION.get()
        check_key(self.key, operation=operation)
        if type(self.value) is not bytes:
            object.__setattr__(
                self, "value", check_value(self.value, operation=operation, key=self.key)
            )
        if self.lease is not None and self.lease != 0:
            check_lease_id(self.lease, operation=operation)
            if self.ignore_lease:
                raise InvalidArgumentError(
                    f"{operation}: a put of {self.key!r} cannot both set a lease and ignore_lease",
                    key=self.key,
                    operation=operation,
                )


@attrs.frozen
class Get:
    """Read a key, or the range ``[key, range_end)``: the request of ``kv_range`` and an
    operation of a transaction.

    The fields are the arguments of ``BaseStore.kv_range``, with its semantics (the sort
    and the create-revision bounds apply before ``limit``).

    Raises:
        InvalidKeyError: ``key`` or ``range_end`` is not valid.
        InvalidArgumentError: ``revision``, ``limit``, a sort argument or a
            create-revision bound is not valid.
    """

    key: str
    range_end: str | None = None
    revision: int | None = None
    limit: int = 0
    keys_only: bool = False
    count_only: bool = False
    sort_target: SortTarget | None = attrs.field(default=None, kw_only=True)
    sort_order: SortOrder | None = attrs.field(default=None, kw_only=True)
    min_create_revision: int = attrs.field(default=0, kw_only=True)
    max_create_revision: int = attrs.field(default=0, kw_only=True)

    def __attrs_post_init__(self) -> None:
        operation = _OPERATION.get()
        check_range(self.key, self.range_end, operation=operation)
        if self.revision is not None:
            check_revision(self.revision, operation=operation, key=self.key)
        if type(self.limit) is not int:
            check_limit(self.limit, operation=operation)
        if (
            self.sort_target is not None
            or self.sort_order is not None
            or type(self.min_create_revision) is not int
            or type(self.max_create_revision) is not int
            or self.min_create_revision
            or self.max_create_revision
        ):
            check_range_options(
                operation=operation,
                sort_target=self.sort_target,
                sort_order=self.sort_order,
                min_create_revision=self.min_create_revision,
                max_create_revision=self.max_create_revision,
            )

    @property
    def is_plain(self) -> bool:
        """Whether this reads one key's current value with no option (``get``'s read)."""
        return (
            self.range_end is None
            and self.revision is None
            and self.limit == 0
            and not self.keys_only
            and not self.count_only
            and self.sort_target is None
            and self.sort_order is None
            and self.min_create_revision == 0
            and self.max_create_revision == 0
        )

    @classmethod
    def prefix(cls, prefix: str, **options: object) -> Get:
        """Read every key that starts with ``prefix`` (``""`` means every key).

        Returns:
            The ``Get`` of the range ``[prefix, prefix_range_end(prefix))``.

        Raises:
            InvalidKeyError: ``prefix`` is not a ``str``.
            InvalidArgumentError: An option is not valid (as for ``Get``).
        """
        return cls(prefix, prefix_range_end(prefix), **options)  # type: ignore[arg-type]


@attrs.frozen
class Delete:
    """Delete a key, or the range ``[key, range_end)``: the request of
    ``kv_delete_range`` and an operation of a transaction.

    Raises:
        InvalidKeyError: ``key`` or ``range_end`` is not valid.
    """

    key: str
    range_end: str | None = None
    prev_kv: bool = False

    def __attrs_post_init__(self) -> None:
        check_range(self.key, self.range_end, operation=_OPERATION.get())

    @classmethod
    def prefix(cls, prefix: str, *, prev_kv: bool = False) -> Delete:
        """Delete every key that starts with ``prefix``; an empty prefix is refused.

        Returns:
            The ``Delete`` of the range ``[prefix, prefix_range_end(prefix))``.

        Raises:
            InvalidArgumentError: ``prefix`` is empty.
        """
        if prefix == "":
            raise InvalidArgumentError(
                "txn: delete of prefix '' would delete every key", operation="txn"
            )
        return cls(prefix, prefix_range_end(prefix), prev_kv)


def _compares(compares: Iterable[Compare]) -> tuple[Compare, ...]:
    checked = tuple(compares)
    for compare in checked:
        if not isinstance(compare, Compare):
            raise InvalidArgumentError(
                f"txn: compares are Compare objects, not {type(compare).__name__}",
                operation="txn",
            )
    return checked


def _ops(ops: Iterable[Op]) -> tuple[Op, ...]:
    return tuple(_checked_ops(tuple(ops)))


@attrs.frozen
class Txn:
    """A transaction: the request of ``kv_txn``, and a nested transaction as an
    operation of an outer one.

    Raises:
        InvalidArgumentError: An operation is not a ``Put``, ``Get``, ``Delete`` or
            ``Txn``, or a compare is not a ``Compare``.
    """

    compares: tuple[Compare, ...] = attrs.field(converter=_compares, factory=tuple)
    success: tuple[Op, ...] = attrs.field(converter=_ops, factory=tuple)
    failure: tuple[Op, ...] = attrs.field(converter=_ops, factory=tuple)


Op: TypeAlias = "Put | Get | Delete | Txn"


def count_ops(compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]) -> int:
    """The size etcd checks against ``max_txn_ops``: the largest of the three lists.

    Returns:
        The largest of ``len(compares)``, ``len(success)`` and ``len(failure)``.
    """
    return max(len(compares), len(success), len(failure))


def validate_request(
    request: Txn, *, max_txn_ops: int, max_request_bytes: int = MAX_REQUEST_BYTES
) -> None:
    """``validate_txn`` for a ``Txn`` request.

    Raises:
        TransactionTooLargeError, DuplicateKeyError, ValueTooLargeError: As
            ``validate_txn``.
    """
    validate_txn(
        request.compares,
        request.success,
        request.failure,
        max_txn_ops=max_txn_ops,
        max_request_bytes=max_request_bytes,
    )


def validate_txn(
    compares: Sequence[Compare],
    success: Sequence[Op],
    failure: Sequence[Op],
    *,
    max_txn_ops: int,
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> None:
    """Check a transaction against etcd's rules before it is sent or applied.

    Args:
        compares: The conditions.
        success: Operations run when every compare holds.
        failure: Operations run otherwise.
        max_txn_ops: The store's limit on compares / operations per branch.
        max_request_bytes: The store's request size limit.

    Raises:
        TransactionTooLargeError: A list holds more than ``max_txn_ops`` entries.
        DuplicateKeyError: A branch writes one key twice, or puts a key it also deletes.
        ValueTooLargeError: The keys and values of the request are over the size limit.
    """
    _check_sizes(compares, success, failure, max_txn_ops)
    _check_intervals(success)
    _check_intervals(failure)
    size = _payload_bytes(compares, success, failure)
    limit = max_request_bytes - REQUEST_OVERHEAD_BYTES
    if size > limit:
        raise ValueTooLargeError(
            f"txn: the request carries {size} bytes of keys and values, over the request "
            f"limit of {limit} bytes",
            operation="txn",
        )


def _payload_bytes(
    compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
) -> int:
    size = 0
    for compare in compares:
        size += len(compare.key.encode())
        if isinstance(compare.operand, bytes):
            size += len(compare.operand)
    for op in (*success, *failure):
        if isinstance(op, Txn):
            size += _payload_bytes(op.compares, op.success, op.failure)
        else:
            size += len(op.key.encode())
            if isinstance(op, Put):
                size += len(op.value)
    return size


def _check_sizes(
    compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op], limit: int
) -> None:
    size = count_ops(compares, success, failure)
    if size > limit:
        raise TransactionTooLargeError(
            f"txn: {size} operations is over the limit of {limit} (max_txn_ops)",
            operation="txn",
        )
    for op in (*success, *failure):
        if isinstance(op, Txn):
            _check_sizes(op.compares, op.success, op.failure, limit)


class _Intervals:
    """Delete ranges of one branch, as half-open intervals of encoded keys."""

    def __init__(self) -> None:
        self._ranges: list[tuple[bytes, bytes | None]] = []

    def add(self, key: str, range_end: str | None) -> None:
        start = key.encode()
        if range_end is None:
            self._ranges.append((start, start + b"\0"))
        elif range_end == "\0":
            self._ranges.append((start, None))
        else:
            self._ranges.append((start, range_end.encode()))

    def extend(self, other: _Intervals) -> None:
        self._ranges.extend(other._ranges)

    def contains(self, key: str) -> bool:
        point = key.encode()
        return any(start <= point and (end is None or point < end) for start, end in self._ranges)


def _duplicate(key: str) -> DuplicateKeyError:
    return DuplicateKeyError(
        f"txn: key {key!r} is written twice in one transaction", key=key, operation="txn"
    )


def _check_intervals(ops: Sequence[Op]) -> tuple[set[str], _Intervals]:
    """etcd's ``checkIntervals``: find puts that collide with puts or deletes of a branch."""
    deletes = _Intervals()
    for op in ops:
        if isinstance(op, Delete):
            deletes.add(op.key, op.range_end)
    puts: set[str] = set()
    for op in ops:
        if not isinstance(op, Txn):
            continue
        puts_then, deletes_then = _check_intervals(op.success)
        puts_else, deletes_else = _check_intervals(op.failure)
        for key in puts_then:
            if key in puts or deletes.contains(key):
                raise _duplicate(key)
            puts.add(key)
        for key in puts_else:
            # then and else are exclusive, so a key put in both branches is no collision
            if (key in puts and key not in puts_then) or deletes.contains(key):
                raise _duplicate(key)
            puts.add(key)
        deletes.extend(deletes_then)
        deletes.extend(deletes_else)
    for op in ops:
        if isinstance(op, Put):
            if op.key in puts or deletes.contains(op.key):
                raise _duplicate(op.key)
            puts.add(op.key)
    return puts, deletes


class _Committer(Protocol):
    """What a builder commits through: any store with the ``kv_txn`` primitive."""

    def kv_txn(self, request: Txn) -> TxnResult: ...


class _AsyncCommitter(Protocol):
    """What an asyncio builder commits through: an asyncio store's ``kv_txn``."""

    async def kv_txn(self, request: Txn) -> TxnResult: ...


_BuilderT = TypeVar("_BuilderT", bound="_Builder")


class _Builder:
    """Fluent transaction builder returned by ``store.transaction()``.

    ``if_`` / ``then`` / ``else_`` may each be called several times; their arguments
    accumulate. ``commit`` sends everything as one atomic transaction and returns the
    ``TxnResult``: which branch ran, its responses and the new revision.

    ``commit`` raises:
        TransactionTooLargeError: A branch has more than ``max_txn_ops`` operations.
        DuplicateKeyError: A branch writes one key twice.
        UnsupportedCompareError: The store cannot evaluate a compare.
        StoreClosedError: The store was closed.
        BackendError: The backend failed the call.
    """

    def __init__(self) -> None:
        self._compares: list[Compare] = []
        self._success: list[Op] = []
        self._failure: list[Op] = []

    def if_(self: _BuilderT, *compares: Compare) -> _BuilderT:
        """Add conditions; all must hold for the ``then`` branch to run.

        Returns:
            This builder, to chain calls.

        Raises:
            InvalidArgumentError: An argument is not a ``Compare``.
        """
        for compare in compares:
            if not isinstance(compare, Compare):
                raise InvalidArgumentError(
                    f"txn: if_() takes Compare objects, not {type(compare).__name__}",
                    operation="txn",
                )
        self._compares.extend(compares)
        return self

    def then(self: _BuilderT, *ops: Op) -> _BuilderT:
        """Add operations run when every condition holds.

        Returns:
            This builder, to chain calls.

        Raises:
            InvalidArgumentError: An argument is not a ``Put``, ``Get``, ``Delete`` or ``Txn``.
        """
        self._success.extend(_checked_ops(ops))
        return self

    def else_(self: _BuilderT, *ops: Op) -> _BuilderT:
        """Add operations run when a condition does not hold.

        Returns:
            This builder, to chain calls.

        Raises:
            InvalidArgumentError: An argument is not a ``Put``, ``Get``, ``Delete`` or ``Txn``.
        """
        self._failure.extend(_checked_ops(ops))
        return self

    def _txn(self) -> Txn:
        return Txn(self._compares, self._success, self._failure)


class TransactionBuilder(_Builder):
    __doc__ = _Builder.__doc__

    def __init__(self, store: _Committer) -> None:
        super().__init__()
        self._store = store

    def commit(self) -> TxnResult:
        """Send the transaction, as one atomic request.

        Returns:
            The ``TxnResult``: whether the compares held (``succeeded``), the responses of the
            branch that ran, and the store revision after it.

        Raises:
            TransactionTooLargeError: A branch has more than the store's ``max_txn_ops`` entries.
            DuplicateKeyError: A branch writes one key twice.
            ValueTooLargeError: The request is over the size limit.
            UnsupportedCompareError: The store cannot evaluate a compare (a ``Value`` compare
                through a wrapper that encodes values).
            LeaseNotFoundError: A put names a lease that is not live.
            CompactedError: A get reads a revision below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        return self._store.kv_txn(self._txn())


class AsyncTransactionBuilder(_Builder):
    __doc__ = _Builder.__doc__

    def __init__(self, store: _AsyncCommitter) -> None:
        super().__init__()
        self._store = store

    async def commit(self) -> TxnResult:
        """Send the transaction, as one atomic request.

        Returns:
            The ``TxnResult``: whether the compares held (``succeeded``), the responses of the
            branch that ran, and the store revision after it.

        Raises:
            TransactionTooLargeError: A branch has more than the store's ``max_txn_ops`` entries.
            DuplicateKeyError: A branch writes one key twice.
            ValueTooLargeError: The request is over the size limit.
            UnsupportedCompareError: The store cannot evaluate a compare (a ``Value`` compare
                through a wrapper that encodes values).
            LeaseNotFoundError: A put names a lease that is not live.
            CompactedError: A get reads a revision below the compact revision.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: nothing was written;
                ``IndeterminateError``: the write may have been applied, read the key to learn).
        """
        return await self._store.kv_txn(self._txn())


def _checked_ops(ops: Sequence[object]) -> list[Op]:
    for op in ops:
        if not isinstance(op, (Put, Get, Delete, Txn)):
            raise InvalidArgumentError(
                f"txn: operations are Put, Get, Delete or Txn, not {type(op).__name__}",
                operation="txn",
            )
    return list(ops)  # type: ignore[arg-type]


@attrs.frozen
class WatchRequest:
    """Watch a key, or the range ``[key, range_end)``: the request of ``watch_range``.

    Attributes:
        start_revision: Replay history from this revision (``None``: from now on).
        prev_kv: Include each key's previous value in the events.

    Raises:
        InvalidKeyError: ``key`` or ``range_end`` is not valid.
        InvalidArgumentError: ``start_revision`` is not a positive int.
    """

    key: str
    range_end: str | None = None
    start_revision: int | None = attrs.field(default=None, kw_only=True)
    prev_kv: bool = attrs.field(default=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        check_range(self.key, self.range_end, operation="watch", revision=self.start_revision)
