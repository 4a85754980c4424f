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

import enum
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias

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
    check_limit,
    check_range_end,
    check_range_options,
    check_revision,
    check_revision_bound,
    check_value,
    prefix_range_end,
)
from kvstore.types import SortOrder, SortTarget

if TYPE_CHECKING:
    from kvstore.types import TxnResult

__all__ = [
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
    "count_ops",
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
        """Evaluate the compare against one key's actual field value."""
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
        elif not isinstance(operand, int) or isinstance(operand, bool):
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


def _key_check(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_key(value, operation="txn", allow_empty=getattr(instance, "range_end", None) is not None)


def _checked_value(value: object) -> bytes:
    return check_value(value, operation="txn")


def _checked_revision(value: int | None) -> int | None:
    return None if value is None else check_revision(value, operation="txn")


def _checked_limit(value: int) -> int:
    return check_limit(value, operation="txn")


def _checked_sort_target(value: SortTarget | None) -> SortTarget | None:
    check_range_options(operation="txn", sort_target=value)
    return value


def _checked_sort_order(value: SortOrder | None) -> SortOrder | None:
    check_range_options(operation="txn", sort_order=value)
    return value


def _checked_min_create(value: int) -> int:
    return check_revision_bound(value, name="min_create_revision", operation="txn")


def _checked_max_create(value: int) -> int:
    return check_revision_bound(value, name="max_create_revision", operation="txn")


def _checked_range_end(value: str | None) -> str | None:
    if value is not None:
        check_range_end(value, operation="txn")
    return value


@attrs.frozen
class Put:
    """Put ``value`` at ``key`` (optionally attached to a lease) inside a transaction."""

    key: str = attrs.field(validator=_key_check)
    value: bytes = attrs.field(converter=_checked_value)
    lease: int | None = None
    prev_kv: bool = False


@attrs.frozen
class Get:
    """Read a key, or the range ``[key, range_end)``, inside a transaction.

    The fields are the arguments of ``BaseStore.kv_range``, with its semantics (the sort
    and the create-revision bounds apply before ``limit``).

    Raises:
        InvalidKeyError: ``key`` or ``range_end`` is not valid.
        InvalidArgumentError: ``revision``, ``limit``, a sort argument or a
            create-revision bound is not valid.
    """

    key: str = attrs.field(validator=_key_check)
    range_end: str | None = attrs.field(default=None, converter=_checked_range_end)
    revision: int | None = attrs.field(default=None, converter=_checked_revision)
    limit: int = attrs.field(default=0, converter=_checked_limit)
    keys_only: bool = False
    count_only: bool = False
    sort_target: SortTarget | None = attrs.field(
        default=None, converter=_checked_sort_target, kw_only=True
    )
    sort_order: SortOrder | None = attrs.field(
        default=None, converter=_checked_sort_order, kw_only=True
    )
    min_create_revision: int = attrs.field(default=0, converter=_checked_min_create, kw_only=True)
    max_create_revision: int = attrs.field(default=0, converter=_checked_max_create, kw_only=True)

    @classmethod
    def prefix(cls, prefix: str, **options: object) -> Get:
        """Read every key that starts with ``prefix`` (``""`` means every key)."""
        return cls(prefix, prefix_range_end(prefix), **options)  # type: ignore[arg-type]


@attrs.frozen
class Delete:
    """Delete a key, or the range ``[key, range_end)``, inside a transaction."""

    key: str = attrs.field(validator=_key_check)
    range_end: str | None = attrs.field(default=None, converter=_checked_range_end)
    prev_kv: bool = False

    @classmethod
    def prefix(cls, prefix: str, *, prev_kv: bool = False) -> Delete:
        """Delete every key that starts with ``prefix``; an empty prefix is refused.

        Raises:
            InvalidArgumentError: ``prefix`` is empty.
        """
        if prefix == "":
            raise InvalidArgumentError(
                "txn: delete of prefix '' would delete every key", operation="txn"
            )
        return cls(prefix, prefix_range_end(prefix), prev_kv)


def _compares(compares: Iterable[Compare]) -> tuple[Compare, ...]:
    return tuple(compares)


def _ops(ops: Iterable[Op]) -> tuple[Op, ...]:
    return tuple(_checked_ops(tuple(ops)))


@attrs.frozen
class Txn:
    """A nested transaction, as an operation of an outer one."""

    compares: tuple[Compare, ...] = attrs.field(converter=_compares, factory=tuple)
    success: tuple[Op, ...] = attrs.field(converter=_ops, factory=tuple)
    failure: tuple[Op, ...] = attrs.field(converter=_ops, factory=tuple)


Op: TypeAlias = "Put | Get | Delete | Txn"


def count_ops(compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]) -> int:
    """The size etcd checks against ``max_txn_ops``: the largest of the three lists."""
    return max(len(compares), len(success), len(failure))


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

    def kv_txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult: ...


class TransactionBuilder:
    """Fluent transaction builder returned by ``store.transaction()``.

    ``if_`` / ``then`` / ``else_`` may each be called several times; their arguments
    accumulate. ``commit`` sends everything as one atomic transaction.
    """

    def __init__(self, store: _Committer) -> None:
        self._store = store
        self._compares: list[Compare] = []
        self._success: list[Op] = []
        self._failure: list[Op] = []

    def if_(self, *compares: Compare) -> TransactionBuilder:
        """Add conditions; all must hold for the ``then`` branch to run."""
        for compare in compares:
            if not isinstance(compare, Compare):
                raise InvalidArgumentError(
                    f"txn: if_() takes Compare objects, not {type(compare).__name__}",
                    operation="txn",
                )
        self._compares.extend(compares)
        return self

    def then(self, *ops: Op) -> TransactionBuilder:
        """Add operations run when every condition holds."""
        self._success.extend(_checked_ops(ops))
        return self

    def else_(self, *ops: Op) -> TransactionBuilder:
        """Add operations run when a condition does not hold."""
        self._failure.extend(_checked_ops(ops))
        return self

    def commit(self) -> TxnResult:
        """Send the transaction.

        Returns:
            The ``TxnResult``: which branch ran, its responses and the new revision.

        Raises:
            TransactionTooLargeError: A branch has more than ``max_txn_ops`` operations.
            DuplicateKeyError: A branch writes one key twice.
            UnsupportedCompareError: The store cannot evaluate a compare.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        return self._store.kv_txn(tuple(self._compares), tuple(self._success), tuple(self._failure))


def _checked_ops(ops: Sequence[object]) -> list[Op]:
    for op in ops:
        if not isinstance(op, (Put, Get, Delete, Txn)):
            raise InvalidArgumentError(
                f"txn: operations are Put, Get, Delete or Txn, not {type(op).__name__}",
                operation="txn",
            )
    return list(ops)  # type: ignore[arg-type]
