"""The backend-neutral transaction model and etcd's rules, checked once for every backend."""

from __future__ import annotations

import pytest

from kvstore.errors import (
    DuplicateKeyError,
    InvalidArgumentError,
    InvalidKeyError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import MAX_REQUEST_BYTES
from kvstore.txn import (
    Compare,
    CompareOp,
    CompareTarget,
    CreateRevision,
    Delete,
    Get,
    ModRevision,
    Put,
    Txn,
    Value,
    Version,
    validate_txn,
)


def test_operators_build_compares() -> None:
    assert (Version("k") == 0) == Compare("k", CompareTarget.VERSION, CompareOp.EQUAL, 0)
    assert (ModRevision("k") > 3).op is CompareOp.GREATER
    assert (CreateRevision("k") < 3).op is CompareOp.LESS
    assert (Value("k") != b"x").operand == b"x"
    prefix = Version("p/", prefix=True) > 0
    assert prefix.range_end == "p0"


def test_compare_operands_are_typed() -> None:
    with pytest.raises(InvalidArgumentError):
        Value("k") == "text"  # noqa: B015 - the comparison is the call under test
    with pytest.raises(InvalidArgumentError):
        Version("k") == b"1"  # noqa: B015


def test_ops_check_their_arguments() -> None:
    with pytest.raises(InvalidKeyError):
        Put("", b"v")
    with pytest.raises(InvalidArgumentError):
        Put("k", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Delete.prefix("")
    assert Get.prefix("").range_end == "\0"
    assert Put("k", bytearray(b"v")).value == b"v"  # type: ignore[arg-type]


def test_max_ops_per_branch() -> None:
    puts = [Put(f"k{i}", b"") for i in range(128)]
    validate_txn([], puts, puts, max_txn_ops=128)
    with pytest.raises(TransactionTooLargeError):
        validate_txn([], [*puts, Put("x", b"")], [], max_txn_ops=128)
    with pytest.raises(TransactionTooLargeError):
        validate_txn([Version("k") == 0] * 129, [], [], max_txn_ops=128)
    with pytest.raises(TransactionTooLargeError):
        validate_txn([], [Txn([], [*puts, Put("x", b"")])], [], max_txn_ops=128)


@pytest.mark.parametrize(
    "ops",
    [
        [Put("a", b"1"), Put("a", b"2")],
        [Delete("a", "c"), Put("b", b"1")],
        [Delete("a"), Put("a", b"1")],
        [Put("a", b"1"), Txn([], [Put("a", b"2")])],
        [Txn([], [Put("a", b"1")]), Txn([], [Put("a", b"2")])],
        [Delete("a", "\0"), Txn([], [Put("z", b"1")])],
    ],
)
def test_duplicate_writes_are_refused(ops: list[Put | Delete | Txn]) -> None:
    with pytest.raises(DuplicateKeyError):
        validate_txn([], ops, [], max_txn_ops=128)


@pytest.mark.parametrize(
    "ops",
    [
        [Put("a", b"1"), Put("b", b"2")],
        [Delete("a"), Delete("a")],
        [Txn([], [Put("a", b"1")], [Put("a", b"2")])],
        [Get("a"), Put("a", b"1")],
        [Delete("a", "b"), Put("b", b"1")],
    ],
)
def test_distinct_writes_pass(ops: list[Put | Delete | Txn | Get]) -> None:
    validate_txn([], ops, [], max_txn_ops=128)


def test_the_request_size_covers_every_op() -> None:
    half = b"x" * (MAX_REQUEST_BYTES // 2)
    validate_txn([], [Put("a", half[:-1000])], [], max_txn_ops=128)
    with pytest.raises(ValueTooLargeError):
        validate_txn([], [Put("a", half), Put("b", half)], [], max_txn_ops=128)


def test_builder_refuses_foreign_objects() -> None:
    from kvstore.txn import TransactionBuilder

    builder = TransactionBuilder(store=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        builder.if_("k == 1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        builder.then(("put", "k"))  # type: ignore[arg-type]
