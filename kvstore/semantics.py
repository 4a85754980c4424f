"""etcd's write semantics written once, for backends that keep their own data.

``MemoryStore`` (dicts in memory) and the SQL stores (tables in a database) both hold the
data themselves, so both must give every read, write and transaction exactly etcd's
meaning. This module is that meaning; a backend supplies how its data is read and
written, by subclassing :class:`Evaluator`:

- a write transaction gets one revision, the store revision + 1, and moves the store
  revision only if it changed a key (:class:`Change`);
- a transaction evaluates every compare, nested ones included, on the state before it
  (:meth:`Evaluator.plan`), then checks the operations of the branches chosen, in etcd's
  order, so that nothing fails half-way (:meth:`Evaluator.check_path`), then applies them
  in order, each read seeing the writes before it (:meth:`Evaluator.apply_path`);
- reads at a revision: in the future is ``InvalidArgumentError``, below the compact
  revision ``CompactedError`` (:meth:`Evaluator.check_read_revision`); compaction's
  bounds (:meth:`Evaluator.check_compact`); lease TTL bounds (:func:`granted_ttl`).

What is checked before a request reaches a backend (key and value types, the 128
operations, the duplicate-key rule, the request size) is in :mod:`kvstore.txn`
(``validate_txn``, ``validate_request``); range options in :mod:`kvstore.ranges`.

Example (the writes of a backend, under its own lock or database transaction)::

    class Engine(Evaluator):
        ...  # store_revision, compacted_revision, current_range, apply_put ...

    result = engine.evaluate_txn(request)  # planned, checked, applied, committed
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import TypeVar

import attrs

from kvstore.errors import (
    CompactedError,
    InvalidArgumentError,
    KeyNotFoundError,
    LeaseNotFoundError,
)
from kvstore.keys import MAX_LEASE_TTL, MIN_LEASE_TTL, check_revision, check_ttl
from kvstore.txn import Compare, Delete, Get, Op, Put, Txn, compare_holds
from kvstore.types import DeleteResult, KeyValue, OpResult, PutResult, RangeResult, TxnResult

__all__ = [
    "Change",
    "Evaluator",
    "TxnPath",
    "granted_ttl",
    "lease_not_found",
    "stamp_txn",
    "txn_writes",
]


class Change:
    """The writes of one write transaction, which all commit at one revision.

    Args:
        revision: The revision the transaction commits at: the store revision + 1.

    Attributes:
        revision: As given.
        writes: How many key writes it has made so far (0: it changed nothing, and the
            store revision stays where it was).
    """

    def __init__(self, revision: int) -> None:
        self.revision = revision
        self.writes = 0

    def next_write(self) -> int:
        """Count one more key write; returns its place in the revision (1, 2, ...), the
        order in which watchers get the events of one revision.

        Returns:
            The write's place in the revision, from 1.
        """
        self.writes += 1
        return self.writes

    @property
    def view_revision(self) -> int:
        """The revision a read or a delete inside the transaction reports: the
        transaction's own once it has written, else the revision before it (etcd's
        ``storeTxnWrite``)."""
        return self.revision if self.writes else self.revision - 1


_OpT = TypeVar("_OpT", Put, Get, Delete)


@attrs.frozen
class TxnPath:
    """A transaction with its branches chosen: whether its compares held, and the steps
    of the branch that runs (operations, and nested transactions as paths of their own).

    Attributes:
        succeeded: Whether every compare held (the success branch runs).
        steps: The operations of that branch, in order.
    """

    succeeded: bool
    steps: list[Op | TxnPath]

    def ops(self, kind: type[_OpT]) -> Iterator[_OpT]:
        """The operations of type ``kind`` on the chosen branches, depth first.

        Yields:
            Each operation of type ``kind`` on the chosen branches, nested paths first where they
            stand.
        """
        for step in self.steps:
            if isinstance(step, TxnPath):
                yield from step.ops(kind)
            elif isinstance(step, kind):
                yield step


def txn_writes(ops: Sequence[Op]) -> bool:
    """Whether any branch of ``ops`` (nested transactions included) may write: a
    transaction that cannot needs no write lock.

    Returns:
        ``True`` if some branch holds a put or a delete (nested included), else ``False``.
    """
    return any(
        txn_writes(op.success) or txn_writes(op.failure)
        if isinstance(op, Txn)
        else not isinstance(op, Get)
        for op in ops
    )


def stamp_txn(result: TxnResult, revision: int) -> TxnResult:
    """``result`` and the transactions nested in it, each with the revision the whole
    transaction ended at (etcd gives them all the same header).

    Returns:
        A new ``TxnResult`` whose own revision and every nested one's is ``revision``.
    """
    responses: list[OpResult] = []
    for response in result.responses:
        if isinstance(response, TxnResult):
            responses.append(stamp_txn(response, revision))
        else:
            responses.append(response)
    return TxnResult(result.succeeded, tuple(responses), revision)


def granted_ttl(ttl: int, *, operation: str = "lease_grant") -> int:
    """The TTL etcd grants for a requested ``ttl``: at least ``MIN_LEASE_TTL``.

    Returns:
        ``max(ttl, MIN_LEASE_TTL)``: the TTL the lease gets.

    Raises:
        InvalidArgumentError: ``ttl`` is not a positive int, or is over ``MAX_LEASE_TTL``
            (etcd: "too large lease TTL").
    """
    check_ttl(ttl, operation=operation)
    if ttl > MAX_LEASE_TTL:
        raise InvalidArgumentError(
            f"{operation}: ttl {ttl} is over the largest lease TTL, {MAX_LEASE_TTL} s",
            operation=operation,
        )
    return max(ttl, MIN_LEASE_TTL)


def lease_not_found(lease_id: int, operation: str) -> LeaseNotFoundError:
    """The error of a call naming a lease that is not live (returned, for the caller to
    raise).

    Returns:
        A ``LeaseNotFoundError`` naming the lease in hex and ``operation``.
    """
    return LeaseNotFoundError(f"{operation}: lease {lease_id:#x} not found", operation=operation)


class Evaluator(abc.ABC):
    """etcd's checks and transaction evaluation over a backend's data.

    A subclass says how its data is read and written (the abstract methods); this class
    decides what happens, in etcd's order. It takes no lock: the backend calls it inside
    whatever makes a call atomic (a lock, a database transaction).
    """

    # ------------------------------------------------------------------ the backend's part

    @abc.abstractmethod
    def store_revision(self) -> int:
        """The store revision (the last committed write transaction's).

        Returns:
            The current store revision.
        """

    @abc.abstractmethod
    def compacted_revision(self) -> int:
        """The compact revision (0: never compacted).

        Returns:
            The compact revision, or 0.
        """

    @abc.abstractmethod
    def current_range(self, key: str, range_end: str | None) -> Sequence[KeyValue]:
        """The current key-values of ``key`` (``range_end`` None) or of
        ``[key, range_end)``, in key order.

        Returns:
            The current key-values of the key or range, in key order.
        """

    @abc.abstractmethod
    def key_exists(self, key: str) -> bool:
        """Whether ``key`` exists now.

        Returns:
            ``True`` if ``key`` exists now.
        """

    @abc.abstractmethod
    def lease_exists(self, lease_id: int) -> bool:
        """Whether lease ``lease_id`` is live.

        Returns:
            ``True`` if the lease is live.
        """

    @abc.abstractmethod
    def read(self, request: Get, header_revision: int) -> RangeResult:
        """A range read (every option of ``request``) on the view at ``header_revision``:
        a read at that revision or later reads the current data, an earlier one reads
        history. ``request.revision`` has been checked.

        Returns:
            The ``RangeResult`` of the read, its header at ``header_revision``.
        """

    @abc.abstractmethod
    def apply_put(self, request: Put, change: Change) -> PutResult:
        """Write ``request`` at ``change.revision`` (counting it with
        ``change.next_write``); it has been checked.

        Returns:
            The ``PutResult`` (its ``prev_kv`` when asked for); its revision is stamped later.
        """

    @abc.abstractmethod
    def apply_delete(self, request: Delete, change: Change) -> DeleteResult:
        """Delete the keys of ``request`` at ``change.revision`` (each counted with
        ``change.next_write``); the result's revision is ``change.view_revision``.

        Returns:
            The ``DeleteResult``: how many keys were deleted (and their key-values when asked for),
            at ``change.view_revision``.
        """

    @abc.abstractmethod
    def commit(self, change: Change) -> None:
        """Make ``change`` the store's (if it wrote anything, the store revision becomes
        ``change.revision``)."""

    def new_change(self) -> Change:
        """A change for the next write transaction (a backend may return a subclass that
        collects more).

        Returns:
            A ``Change`` at the next store revision.
        """
        return Change(self.store_revision() + 1)

    # ------------------------------------------------------------------ checks

    def check_read_revision(self, revision: int | None, key: str, operation: str) -> None:
        """Check a read's revision against the store's (None: the current one).

        Raises:
            InvalidArgumentError: ``revision`` is not a positive int, or is in the future.
            CompactedError: ``revision`` is below the compact revision.
        """
        if revision is None:
            return
        check_revision(revision, operation=operation, key=key)
        current = self.store_revision()
        if revision > current:
            raise InvalidArgumentError(
                f"{operation}: revision {revision} is in the future (current {current})",
                key=key,
                operation=operation,
            )
        compacted = self.compacted_revision()
        if revision < compacted:
            raise CompactedError(
                f"{operation}: revision {revision} of {key!r} was compacted "
                f"(compact revision {compacted})",
                compact_revision=compacted,
                key=key,
                operation=operation,
            )

    def check_compact(self, revision: int) -> None:
        """Check that the store may be compacted to ``revision``.

        Raises:
            InvalidArgumentError: ``revision`` is not a positive int, or is in the future.
            CompactedError: ``revision`` is at or below the compact revision.
        """
        check_revision(revision, operation="compact")
        current, compacted = self.store_revision(), self.compacted_revision()
        if revision > current:
            raise InvalidArgumentError(
                f"compact: revision {revision} is in the future (current {current})",
                operation="compact",
            )
        if revision <= compacted:
            raise CompactedError(
                f"compact: revision {revision} is already compacted (compact revision {compacted})",
                compact_revision=compacted,
                operation="compact",
            )

    def check_put(self, request: Put, operation: str = "put") -> None:
        """Check a put's lease: ``ignore_lease`` needs the key, a lease must be live.

        Raises:
            KeyNotFoundError: ``ignore_lease`` on a key that does not exist.
            LeaseNotFoundError: The lease is not live.
        """
        if request.ignore_lease and not self.key_exists(request.key):
            raise KeyNotFoundError(
                f"{operation}: ignore_lease needs an existing key, none found for key "
                f"{request.key!r}",
                key=request.key,
                operation=operation,
            )
        if request.lease is None or request.lease == 0:
            return
        if not self.lease_exists(request.lease):
            raise LeaseNotFoundError(
                f"{operation}: lease {request.lease:#x} for key {request.key!r} not found",
                key=request.key,
                operation=operation,
            )

    # ------------------------------------------------------------------ transactions

    def plan(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnPath:
        """Evaluate every compare, nested ones included, on the state before the
        transaction (as etcd does); returns the branches chosen.

        Returns:
            The ``TxnPath``: whether the compares held, and the chosen operations, nested paths for
            nested transactions.
        """
        succeeded = all(
            compare_holds(compare, self.current_range(compare.key, compare.range_end))
            for compare in compares
        )
        ops = success if succeeded else failure
        steps: list[Op | TxnPath] = [
            self.plan(op.compares, op.success, op.failure) if isinstance(op, Txn) else op
            for op in ops
        ]
        return TxnPath(succeeded, steps)

    def check_path(self, path: TxnPath) -> None:
        """Check the chosen operations, so that nothing fails half-way through, in etcd's
        order (``checkRequests``): every put (ignore_lease, lease) first, then every read's
        revision, each pass in operation order, nested transactions in place.

        Raises:
            KeyNotFoundError: An ``ignore_lease`` put on a key that does not exist.
            LeaseNotFoundError: A put names a lease that is not live.
            InvalidArgumentError: A read is at a future revision.
            CompactedError: A read is below the compact revision.
        """
        for put in path.ops(Put):
            self.check_put(put, "txn")
        for get in path.ops(Get):
            self.check_read_revision(get.revision, get.key, "txn")

    def apply_path(self, path: TxnPath, change: Change) -> TxnResult:
        """Apply the chosen operations in order; returns the result, its revisions not
        yet stamped (:func:`stamp_txn`).

        Returns:
            The ``TxnResult`` of the path, with revision 0 until :func:`stamp_txn` stamps it.
        """
        responses: list[OpResult] = []
        for step in path.steps:
            if isinstance(step, TxnPath):
                responses.append(self.apply_path(step, change))
            elif isinstance(step, Put):
                responses.append(self.apply_put(step, change))
            elif isinstance(step, Delete):
                responses.append(self.apply_delete(step, change))
            elif isinstance(step, Get):
                responses.append(self.read(step, change.view_revision))
        return TxnResult(path.succeeded, tuple(responses), 0)

    def evaluate_put(self, request: Put) -> PutResult:
        """A put, checked, applied and committed.

        Returns:
            The committed put's ``PutResult``.

        Raises:
            KeyNotFoundError: ``ignore_lease`` on a key that does not exist.
            LeaseNotFoundError: The lease is not live.
        """
        self.check_put(request)
        change = self.new_change()
        result = self.apply_put(request, change)
        self.commit(change)
        return result

    def evaluate_delete(self, request: Delete) -> DeleteResult:
        """A delete, applied and committed; its revision is the store's after it.

        Returns:
            The committed delete's ``DeleteResult``, at the store's revision after it.
        """
        change = self.new_change()
        result = self.apply_delete(request, change)
        self.commit(change)
        return attrs.evolve(result, revision=self.store_revision())

    def evaluate_txn(self, request: Txn) -> TxnResult:
        """A transaction: planned, checked, applied and committed at one revision.

        Returns:
            The committed ``TxnResult``, every nested result stamped with its revision.

        Raises:
            KeyNotFoundError: An ``ignore_lease`` put of the chosen branches on a key that
                does not exist.
            LeaseNotFoundError: A put of the chosen branches names a lease that is not live.
            InvalidArgumentError: A read of the chosen branches is at a future revision.
            CompactedError: A read of the chosen branches is below the compact revision.
        """
        path = self.plan(request.compares, request.success, request.failure)
        self.check_path(path)
        change = self.new_change()
        result = self.apply_path(path, change)
        self.commit(change)
        return stamp_txn(result, self.store_revision())

    def evaluate_drop_lease(self, keys: Sequence[str]) -> None:
        """Delete a revoked or expired lease's ``keys`` at one revision (DELETE events)."""
        change = self.new_change()
        for key in keys:
            self.apply_delete(Delete(key), change)
        self.commit(change)
