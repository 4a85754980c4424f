"""``store.stm``: Go's ``concurrency.STM`` on MemoryStore (and through the wrappers).

The bank test runs concurrent transfers and checks the invariants each isolation level
promises; the schedule tests force one interleaving with a barrier inside ``apply`` to
show what each level lets through and what it stops.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stm_helpers import (
    ACCOUNTS,
    SAFE_LEVELS,
    START,
    Insufficient,
    balances,
    open_accounts,
    run_bank_tasks,
    run_bank_threads,
    run_two_withdrawals,
    write_skew,
)

from kvstore import (
    STM,
    AsyncSTM,
    BaseStore,
    Get,
    InvalidArgumentError,
    InvalidKeyError,
    Put,
    RangeResult,
    STMConflictError,
    TransactionError,
    Txn,
    TxnResult,
    WrapperStore,
)
from kvstore.recipes import DEFAULT_STM_RETRIES, ISOLATION_LEVELS
from kvstore_memory import AsyncMemoryStore, ManualClock, MemoryStore

# ---------------------------------------------------------------- the bank


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
def test_concurrent_transfers_keep_the_total_and_never_overdraw(
    any_store: BaseStore, isolation: str
) -> None:
    open_accounts(any_store)
    attempts = run_bank_threads(any_store, isolation, threads=4, rounds=12)
    final = balances(any_store)
    assert sum(final) == START * len(ACCOUNTS)
    assert min(final) >= 0
    assert len(attempts) == 4 * 12


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
async def test_concurrent_async_transfers_keep_the_total_and_never_overdraw(
    isolation: str,
) -> None:
    data = MemoryStore(clock=ManualClock())
    open_accounts(data)
    async with AsyncMemoryStore(data) as store:
        attempts = await run_bank_tasks(store, isolation, tasks=5, rounds=15)
    final = balances(data)
    assert sum(final) == START * len(ACCOUNTS)
    assert min(final) >= 0
    assert max(attempts) > 1  # tasks yield between read and commit: conflicts did happen


async def test_the_async_stm_reads_its_writes_and_gives_up_on_endless_conflicts() -> None:
    async with AsyncMemoryStore(MemoryStore(clock=ManualClock())) as store:
        await store.put("k", b"1")

        async def apply(stm: AsyncSTM) -> tuple[bytes | None, ...]:
            before = await stm.get("k")
            stm.put("k", b"2")
            stm.delete("x")
            return before, await stm.get("k"), await stm.get("x")

        assert await store.stm(apply) == (b"1", b"2", None)

        async def hot(stm: AsyncSTM) -> None:
            await stm.get("k")
            await store.put("k", b"3")
            stm.put("never", b"x")

        with pytest.raises(STMConflictError) as caught:
            await store.stm(hot, "repeatable_reads", retries=2)
        assert caught.value.attempts == 3
        assert not await store.exists("never")
        with pytest.raises(InvalidArgumentError):
            await store.stm(apply, "linearizable")  # type: ignore[arg-type]


# ---------------------------------------------------------------- forced interleavings


def test_read_committed_loses_an_update_under_a_forced_interleaving(store: BaseStore) -> None:
    store.put("bank/0", b"100")
    outcomes = run_two_withdrawals(store, "read_committed")
    assert outcomes == [1, 1]  # both withdrawals succeeded: 120 handed out of 100 ...
    assert store.get("bank/0") == b"40"  # ... and the books show one of them
    assert store.get("bank/out") == b"60"


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
def test_the_same_interleaving_is_prevented_by_the_safe_levels(
    any_store: BaseStore, isolation: str
) -> None:
    any_store.put("bank/0", b"100")
    outcomes = run_two_withdrawals(any_store, isolation)
    # one commits at once; the other conflicts, retries on 40 and refuses to overdraw
    assert sorted(map(repr, outcomes)) == [repr(1), repr(Insufficient("bank/0"))]
    assert any_store.get("bank/0") == b"40"
    assert any_store.get("bank/out") == b"60"


def test_read_committed_allows_write_skew_to_a_negative_total(store: BaseStore) -> None:
    """Two withdrawals checked against the sum of two accounts, each writing one of them."""
    store.bulk_put({"a": b"50", "b": b"50"})
    results = write_skew(store, "read_committed")
    assert results == ["a", "b"] or results == ["b", "a"]
    assert int(store.get("a")) + int(store.get("b")) == -60


@pytest.mark.parametrize("isolation", SAFE_LEVELS)
def test_write_skew_is_prevented_by_the_safe_levels(store: BaseStore, isolation: str) -> None:
    store.bulk_put({"a": b"50", "b": b"50"})
    results = write_skew(store, isolation)
    refused = [result for result in results if isinstance(result, Insufficient)]
    assert len(refused) == 1 and set(results) - set(refused) <= {"a", "b"}
    assert int(store.get("a")) + int(store.get("b")) == 20


@pytest.mark.parametrize(
    ("isolation", "attempts"),
    [("serializable_snapshot", 2), ("serializable", 1), ("repeatable_reads", 1)],
)
def test_only_serializable_snapshot_refuses_a_blind_write_over_a_newer_one(
    store: BaseStore, isolation: str, attempts: int
) -> None:
    """Go's write-set check: a key written (not read) must not have changed after the snapshot."""
    store.bulk_put({"a": b"1", "b": b"old"})

    def apply(stm: STM) -> None:
        stm.get("a")
        if stm.attempts == 1:
            store.put("b", b"theirs")  # another writer, after this attempt's snapshot
        stm.put("b", b"mine")

    runner = STM(store, isolation)  # type: ignore[arg-type]
    runner.run(apply)
    assert runner.attempts == attempts
    assert store.get("b") == b"mine"


@pytest.mark.parametrize(
    ("isolation", "seen", "attempts"),
    [
        ("serializable_snapshot", [b"b0", b"b1"], 2),
        ("serializable", [b"b0", b"b1"], 2),
        ("repeatable_reads", [b"b1"], 1),
    ],
)
def test_the_first_read_pins_the_revision_of_later_reads(
    store: BaseStore, isolation: str, seen: list[bytes], attempts: int
) -> None:
    store.bulk_put({"a": b"a0", "b": b"b0"})
    reads: list[bytes | None] = []

    def apply(stm: STM) -> None:
        stm.get("a")
        if stm.attempts == 1:
            store.put("b", b"b1")  # between the first read and the read of b
        reads.append(stm.get("b"))
        stm.put("c", b"done")

    runner = STM(store, isolation)  # type: ignore[arg-type]
    runner.run(apply)
    assert reads == seen  # a pinned attempt saw the snapshot, then conflicted and retried
    assert runner.attempts == attempts


def test_read_committed_reads_each_key_once_per_attempt(store: BaseStore) -> None:
    store.put("a", b"1")
    reads: list[bytes | None] = []

    def apply(stm: STM) -> None:
        reads.append(stm.get("a"))
        store.put("a", b"2")
        reads.append(stm.get("a"))

    STM(store, "read_committed").run(apply)
    assert reads == [b"1", b"1"]


# ---------------------------------------------------------------- the API


def test_reads_see_the_attempts_own_writes_and_deletes(any_store: BaseStore) -> None:
    any_store.bulk_put({"k": b"old", "gone": b"x"})

    def apply(stm: STM) -> tuple[object, ...]:
        before = stm.get("k")
        stm.put("k", b"new")
        stm.delete("gone")
        stm.put("fresh", bytearray(b"ba"))
        return before, stm.get("k"), stm.get("gone"), stm.get("fresh"), stm.get("absent")

    assert any_store.stm(apply) == (b"old", b"new", None, b"ba", None)
    assert any_store.get("k") == b"new"
    assert not any_store.exists("gone")
    assert any_store.get("fresh") == b"ba"


def test_rev_reports_the_mod_revision_read(store: BaseStore) -> None:
    revision = store.put("k", b"v")
    assert store.stm(lambda stm: (stm.rev("k"), stm.rev("absent"))) == (revision, 0)


def test_all_writes_of_a_commit_share_one_revision(store: BaseStore) -> None:
    def apply(stm: STM) -> None:
        for n in range(10):
            stm.put(f"many/{n}", b"x")

    store.stm(apply)
    kvs = [store.get_kv(f"many/{n}") for n in range(10)]
    assert len({kv.mod_revision for kv in kvs if kv is not None}) == 1


def test_put_with_a_lease_attaches_it(store: BaseStore, clock: ManualClock) -> None:
    lease = store.lease(5)
    store.stm(lambda stm: stm.put("leased", b"v", lease=lease))
    kv = store.get_kv("leased")
    assert kv is not None and kv.lease == lease.id
    clock.advance(6)
    assert not store.exists("leased")


def test_an_exception_in_apply_propagates_and_nothing_is_written(store: BaseStore) -> None:
    store.put("k", b"1")
    calls = 0

    def apply(stm: STM) -> None:
        nonlocal calls
        calls += 1
        stm.put("k", b"2")
        stm.put("other", b"x")
        raise Insufficient("k")

    revision = store.status().revision
    with pytest.raises(Insufficient):
        store.stm(apply)
    assert calls == 1
    assert store.get("k") == b"1" and not store.exists("other")
    assert store.status().revision == revision


@pytest.mark.parametrize("retries", [0, 3])
def test_endless_conflicts_give_up_after_the_retries_with_nothing_written(
    store: BaseStore, retries: int
) -> None:
    store.put("hot", b"0")

    def apply(stm: STM) -> None:
        stm.get("hot")
        store.put("hot", str(stm.attempts).encode())  # another writer, every attempt
        stm.put("mine", b"x")

    with pytest.raises(STMConflictError) as caught:
        store.stm(apply, "serializable", retries=retries)
    error = caught.value
    assert isinstance(error, TransactionError)
    assert error.attempts == retries + 1
    assert error.key == "hot" and error.operation == "stm"
    assert "'hot'" in str(error)
    assert not store.exists("mine")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is STMConflictError and copy.__dict__ == error.__dict__


def test_the_default_retry_limit_is_documented_and_used(store: BaseStore) -> None:
    store.put("hot", b"0")

    def apply(stm: STM) -> None:
        stm.get("hot")
        store.put("hot", b"1")

    with pytest.raises(STMConflictError) as caught:
        store.stm(apply)
    assert caught.value.attempts == DEFAULT_STM_RETRIES + 1


def test_retries_none_keeps_going_until_the_commit_succeeds(store: BaseStore) -> None:
    store.put("hot", b"0")

    def apply(stm: STM) -> int:
        stm.get("hot")
        if stm.attempts <= DEFAULT_STM_RETRIES + 5:
            store.put("hot", b"1")
        stm.put("done", b"1")
        return stm.attempts

    assert store.stm(apply, retries=None) == DEFAULT_STM_RETRIES + 6
    assert store.get("done") == b"1"


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"isolation": "snapshot"}, InvalidArgumentError),
        ({"isolation": "SERIALIZABLE"}, InvalidArgumentError),
        ({"isolation": 0}, InvalidArgumentError),
        ({"retries": -1}, InvalidArgumentError),
        ({"retries": True}, InvalidArgumentError),
        ({"retries": 2.5}, InvalidArgumentError),
        ({"prefetch": "key"}, InvalidArgumentError),
        ({"prefetch": ["ok", ""]}, InvalidKeyError),
        ({"prefetch": [b"key"]}, InvalidKeyError),
    ],
)
def test_bad_arguments_are_refused_before_apply_runs(
    any_store: BaseStore, arguments: dict[str, Any], error: type[Exception]
) -> None:
    calls: list[object] = []

    def apply(stm: STM) -> None:
        calls.append(stm)
        stm.put("k", b"v")

    revision = any_store.status().revision
    with pytest.raises(error):
        any_store.stm(apply, **arguments)
    assert calls == []
    assert any_store.status().revision == revision


def test_apply_must_be_callable(store: BaseStore) -> None:
    with pytest.raises(InvalidArgumentError, match="callable"):
        store.stm(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda stm: stm.put("", b"v"), InvalidKeyError),
        (lambda stm: stm.put("k", "text"), InvalidArgumentError),
        (lambda stm: stm.put("k", b"v", lease=-1), InvalidArgumentError),
        (lambda stm: stm.get(""), InvalidKeyError),
        (lambda stm: stm.delete(3), InvalidKeyError),
    ],
)
def test_bad_keys_and_values_inside_apply_abort_it(
    store: BaseStore, call: Callable[[STM], object], error: type[Exception]
) -> None:
    def apply(stm: STM) -> None:
        stm.put("first", b"x")
        call(stm)

    with pytest.raises(error):
        store.stm(apply)
    assert not store.exists("first")


def test_prefetched_keys_are_in_the_read_set(store: BaseStore) -> None:
    store.bulk_put({"p": b"1", "q": b"2"})

    def apply(stm: STM) -> int:
        if stm.attempts == 1:
            store.put("p", b"changed")  # apply never gets p: only the prefetch read it
        stm.put("out", b"x")
        return stm.attempts

    assert store.stm(apply, prefetch=["p", "q"]) == 2


class CountingStore(WrapperStore):
    """Counts the reads and transactions that reach the store below."""

    def __init__(self, inner: BaseStore) -> None:
        super().__init__(inner)
        self.calls: list[str] = []

    def do_range(self, request: Get) -> RangeResult:
        self.calls.append("range")
        return super().do_range(request)

    def do_txn(self, request: Txn) -> TxnResult:
        self.calls.append("txn")
        return super().do_txn(request)


def test_prefetch_and_a_retry_after_a_failed_commit_cost_no_extra_reads(
    store: BaseStore,
) -> None:
    store.bulk_put({"a": b"1", "b": b"2", "c": b"3"})
    counting = CountingStore(store)

    def apply(stm: STM) -> bytes | None:
        values = [stm.get("a"), stm.get("b"), stm.get("c")]
        if stm.attempts == 1:
            store.put("a", b"10")
        stm.put("sum", str(sum(int(v or b"0") for v in values)).encode())
        return values[0]

    assert counting.stm(apply, prefetch=["a", "b", "c"]) == b"10"
    # attempt 1: one prefetch txn and the failed commit (which read a, b, c again);
    # attempt 2 starts from those reads: only its commit.
    assert counting.calls == ["txn", "txn", "txn"]
    assert store.get("sum") == b"15"


def test_a_pinned_read_below_compaction_starts_the_attempt_over(store: BaseStore) -> None:
    store.bulk_put({"a": b"1", "b": b"2"})

    def apply(stm: STM) -> bytes | None:
        stm.get("a")
        if stm.attempts == 1:
            store.put("b", b"3")
            store.compact_revision(store.put("b", b"4"))
        return stm.get("b")

    runner = STM(store)
    assert runner.run(apply) == b"4"
    assert runner.attempts == 2


def test_an_stm_repr_names_its_state(store: BaseStore) -> None:
    runner = STM(store, "repeatable_reads")
    assert repr(runner) == "STM(isolation='repeatable_reads', attempts=0, reads=0, writes=0)"
    assert set(ISOLATION_LEVELS) == {*SAFE_LEVELS, "read_committed"}


# ---------------------------------------------------------------- a model


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.sampled_from("abc")),
        st.tuples(st.just("put"), st.sampled_from("abc"), st.binary(max_size=3)),
        st.tuples(st.just("delete"), st.sampled_from("abc")),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.dictionaries(st.sampled_from("abc"), st.binary(max_size=3)),
    ops=OPS,
    isolation=st.sampled_from(ISOLATION_LEVELS),
)
def test_one_transaction_behaves_like_a_dict(
    initial: dict[str, bytes], ops: list[tuple[Any, ...]], isolation: str
) -> None:
    with MemoryStore(clock=ManualClock()) as store:
        if initial:
            store.bulk_put(initial)
        model = dict(initial)

        def apply(stm: STM) -> list[bytes | None]:
            seen = []
            for op in ops:
                if op[0] == "get":
                    seen.append(stm.get(op[1]))
                elif op[0] == "put":
                    stm.put(op[1], op[2])
                else:
                    stm.delete(op[1])
            return seen

        expected = []
        for op in ops:
            if op[0] == "get":
                expected.append(model.get(op[1]))
            elif op[0] == "put":
                model[op[1]] = op[2]
            else:
                model.pop(op[1], None)
        assert store.stm(apply, isolation) == expected  # type: ignore[arg-type]
        for key in "abc":
            kv = store.get_kv(key)
            assert (None if kv is None else kv.value) == model.get(key)


def test_a_plain_transaction_in_between_makes_the_stm_retry(store: BaseStore) -> None:
    store.put("n", b"0")

    def apply(stm: STM) -> None:
        n = int(stm.get("n") or b"0")
        if stm.attempts == 1:
            store.transaction().then(Put("n", b"5")).commit()
        stm.put("n", str(n + 1).encode())

    store.stm(apply)
    assert store.get("n") == b"6"
