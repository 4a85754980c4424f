"""``kvstore.testing.differential``: it finds divergences it must find, replays them from
their seed, finds none between two fakes, and covers every feature it claims to."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest

from kvstore import NamespacedStore
from kvstore.testing.differential import (
    FEATURES,
    CheckLeaseBounds,
    Compact,
    Coverage,
    Divergence,
    GrantLease,
    LeaseTimeToLive,
    Send,
    WatchReplay,
    brief,
    compare_many,
    run_differential,
)
from kvstore.txn import Get, Put, Txn
from kvstore.types import (
    LeaseGrant,
    LeaseInfo,
    PutResult,
    RangeResult,
    TxnResult,
)
from kvstore.watch import MappedWatch, Watch, WatchRequest
from kvstore.wrappers import WrapperStore
from kvstore_memory import ManualClock, MemoryStore

# ---------------------------------------------------------------------- broken stores


class _NoPrevKvInTxn(WrapperStore):
    """Drops ``prev_kv`` from the puts of transactions (a per-operation txn result)."""

    def do_txn(self, request: Txn) -> TxnResult:
        return _strip_prev_kv(self.inner.do_txn(request))


def _strip_prev_kv(result: TxnResult) -> TxnResult:
    responses = []
    for response in result.responses:
        if isinstance(response, PutResult):
            response = attrs.evolve(response, prev_kv=None)
        elif isinstance(response, TxnResult):
            response = _strip_prev_kv(response)
        responses.append(response)
    return attrs.evolve(result, responses=tuple(responses))


class _NeverMore(WrapperStore):
    """Says ``more=False`` even when ``limit`` cut the range."""

    def do_range(self, request: Get) -> RangeResult:
        return attrs.evolve(self.inner.do_range(request), more=False)


class _NoMinimumTtl(WrapperStore):
    """Reports the TTL asked for, not etcd's 2 s minimum."""

    def lease_grant(self, ttl: int) -> LeaseGrant:
        return LeaseGrant(self.inner.lease_grant(ttl).id, ttl)


class _RemainingTtlTooLow(WrapperStore):
    """Reports a remaining TTL 3 s below the real one."""

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo:
        info = self.inner.lease_time_to_live(lease_id, keys=keys)
        return attrs.evolve(info, ttl=info.ttl - 3)


class _WatchWithoutPrevKv(WrapperStore):
    """Drops ``prev_kv`` from watch events."""

    def do_watch(self, request: WatchRequest) -> Watch:
        return MappedWatch(
            self.inner.do_watch(request), lambda event: attrs.evolve(event, prev_kv=None)
        )


class _NoCompaction(WrapperStore):
    """Accepts compactions and keeps the history (reads below them still work)."""

    def compact_revision(self, revision: int, *, physical: bool = False) -> None:
        return None


class _TxnCountsOneMore(WrapperStore):
    """A txn's ``Get`` counts one key too many."""

    def do_txn(self, request: Txn) -> TxnResult:
        result = self.inner.do_txn(request)
        responses = tuple(
            attrs.evolve(r, count=r.count + 1) if isinstance(r, RangeResult) else r
            for r in result.responses
        )
        return attrs.evolve(result, responses=responses)


_BROKEN: list[tuple[type[WrapperStore], Callable[[object], bool]]] = [
    (_NoPrevKvInTxn, lambda a: isinstance(a, Send) and isinstance(a.request, Txn)),
    (_NeverMore, lambda a: isinstance(a, Send)),
    (_NoMinimumTtl, lambda a: isinstance(a, (GrantLease, CheckLeaseBounds))),
    (_RemainingTtlTooLow, lambda a: isinstance(a, (LeaseTimeToLive, CheckLeaseBounds))),
    (_WatchWithoutPrevKv, lambda a: isinstance(a, WatchReplay)),
    (_NoCompaction, lambda a: isinstance(a, Send)),
    (_TxnCountsOneMore, lambda a: isinstance(a, Send) and isinstance(a.request, Txn)),
]


def _first_divergence(
    broken: type[WrapperStore], seeds: range = range(20), steps: int = 200
) -> Divergence:
    for seed in seeds:
        with MemoryStore() as reference, broken(MemoryStore()) as store:
            divergence = run_differential(reference, store, seed=seed, steps=steps)
        if divergence is not None:
            return divergence
    raise AssertionError(f"{broken.__name__}: no divergence found in seeds {seeds}")


@pytest.mark.parametrize(
    ("broken", "where"), _BROKEN, ids=[broken.__name__ for broken, _ in _BROKEN]
)
def test_a_broken_store_is_caught_and_its_seed_replays_it(
    broken: type[WrapperStore], where: Callable[[object], bool]
) -> None:
    divergence = _first_divergence(broken)
    assert where(divergence.action), str(divergence)
    assert divergence.result_a != divergence.result_b
    # the seed and the step count replay the same divergence, on new stores
    with MemoryStore() as reference, broken(MemoryStore()) as store:
        replayed = run_differential(
            reference, store, seed=divergence.seed, steps=divergence.step + 1
        )
    assert replayed is not None
    assert (replayed.step, replayed.action, replayed.history) == (
        divergence.step,
        divergence.action,
        divergence.history,
    )
    assert replayed.result_a == divergence.result_a
    assert replayed.result_b == divergence.result_b
    # one step fewer: the stores agree (the final reads of the keys and leases included)
    with MemoryStore() as reference, broken(MemoryStore()) as store:
        assert (
            run_differential(reference, store, seed=divergence.seed, steps=divergence.step) is None
        )


def test_the_report_names_the_seed_the_replay_and_both_answers() -> None:
    divergence = _first_divergence(_NoPrevKvInTxn)
    text = str(divergence)
    assert f"seed {divergence.seed}" in text
    assert divergence.replay in text
    assert divergence.replay == (
        f"run_differential(store_a, store_b, seed={divergence.seed}, steps={divergence.step + 1})"
    )
    assert "differs at .result.responses" in text
    assert brief(divergence.action) in text
    assert brief(divergence.result_a.result) in text
    assert brief(divergence.result_b.result) in text


def test_the_replay_hint_names_options_that_are_not_the_defaults() -> None:
    with MemoryStore() as reference, _NeverMore(MemoryStore()) as store:
        divergence = None
        for seed in range(20):
            divergence = run_differential(
                reference, store, seed=seed, steps=200, watch=False, prefix=f"p{seed}/"
            )
            if divergence is not None:
                break
    assert divergence is not None
    assert "watch=False" in divergence.replay
    assert f"prefix='p{divergence.seed}/'" in divergence.replay


def test_brief_leaves_out_defaults() -> None:
    assert brief(Get("a", limit=2)) == "Get('a', limit=2)"
    assert brief(Put("a", b"1", prev_kv=True)) == "Put('a', b'1', prev_kv=True)"


# ---------------------------------------------------------------------- agreement


@pytest.fixture
def clocks() -> Iterator[tuple[MemoryStore, MemoryStore]]:
    with MemoryStore() as real_time, MemoryStore(clock=ManualClock()) as manual:
        yield real_time, manual


def test_two_fakes_agree_over_many_seeds() -> None:
    divergences = compare_many(
        MemoryStore, lambda: MemoryStore(clock=ManualClock()), seeds=range(30), steps=200
    )
    assert not divergences, "\n\n".join(map(str, divergences))


def test_revisions_and_leases_are_compared_relative_to_the_start() -> None:
    # store B has history and leases of its own before the run: the run still agrees
    with MemoryStore() as fresh, MemoryStore() as used:
        for i in range(17):
            used.put(f"elsewhere/{i}", b"x")
        used.lease_grant(60)
        used.compact_revision(10)
        for seed in range(5):
            divergence = run_differential(fresh, used, seed=seed, prefix=f"run{seed}/")
            assert divergence is None, str(divergence)
        assert used.get("elsewhere/3") == b"x"


def test_a_store_through_a_namespace_is_the_same_store() -> None:
    divergences = compare_many(
        MemoryStore, lambda: NamespacedStore(MemoryStore(), "ns/"), seeds=range(10)
    )
    assert not divergences, "\n\n".join(map(str, divergences))


def test_the_run_leaves_no_key_and_no_lease(clocks: tuple[MemoryStore, MemoryStore]) -> None:
    a, b = clocks
    for seed in range(3):
        assert run_differential(a, b, seed=seed, prefix="run/") is None
    for store in (a, b):
        assert store.count("run/") == 0
        assert store.lease_leases() == []


def test_cleanup_false_keeps_the_run(clocks: tuple[MemoryStore, MemoryStore]) -> None:
    a, b = clocks
    assert run_differential(a, b, seed=1, prefix="run/", cleanup=False) is None
    assert a.count("run/") == b.count("run/") > 0


def test_steps_can_be_turned_off() -> None:
    coverage = Coverage()
    divergences = compare_many(
        MemoryStore,
        MemoryStore,
        seeds=range(5),
        coverage=coverage,
        watch=False,
        compact=False,
        leases=False,
    )
    assert not divergences
    assert not any(name.startswith(("watch", "lease", "compact")) for name in coverage.counts)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="unknown options: sorting"):
        compare_many(MemoryStore, MemoryStore, seeds=range(1), sorting=False)


# ---------------------------------------------------------------------- the sequence


def test_a_few_seeds_cover_every_feature() -> None:
    coverage = Coverage()
    divergences = compare_many(MemoryStore, MemoryStore, seeds=range(5), coverage=coverage)
    assert not divergences
    assert coverage.missing() == set()
    assert set(coverage.counts) <= FEATURES


def test_the_sequence_depends_on_the_seed_only() -> None:
    def history(seed: int) -> tuple[object, ...]:
        with MemoryStore() as a, _NeverMore(MemoryStore()) as b:
            # steps=300: every seed here diverges before (more=False is common)
            divergence = run_differential(a, b, seed=seed, steps=300)
        assert divergence is not None
        return (*divergence.history, divergence.action)

    assert history(3) == history(3)
    assert history(3) != history(4)


def test_compactions_are_physical() -> None:
    # a non-physical etcd compaction leaves the tombstones at its revision to a
    # background job, which a watch from there could race
    with MemoryStore() as a, _NoCompaction(MemoryStore()) as b:
        for seed in range(20):
            divergence = run_differential(a, b, seed=seed, prefix=f"s{seed}/")
            if divergence is not None:
                break
    assert divergence is not None
    compactions = [step for step in divergence.history if isinstance(step, Compact)]
    assert compactions
    assert all(step.physical for step in compactions)


def test_watch_replays_are_compared_relative_to_the_start() -> None:
    coverage = Coverage()
    with MemoryStore() as a, MemoryStore() as b:
        for i in range(50):
            b.put(f"other/{i}", b"x")  # B's revisions run 50 ahead
        assert run_differential(a, b, seed=2, coverage=coverage) is None
    assert coverage.counts["watch replay"] > 0
