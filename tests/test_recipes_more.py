"""The recipes of SPEC 18 part A on MemoryStore and its wrappers: safety under contention."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from recipe_helpers import Worker

from kvstore import BaseStore, InvalidArgumentError, InvalidKeyError, LockTimeoutError


def test_a_semaphore_never_has_more_than_limit_holders(any_store: BaseStore) -> None:
    inside, most = 0, 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(5):
            with any_store.new_semaphore("s", 2):
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    workers = [Worker(work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert 1 <= most <= 2
    assert any_store.count("__kvstore/") == 0


def test_each_queue_item_is_taken_exactly_once(any_store: BaseStore) -> None:
    queue = any_store.new_queue("q")
    for n in range(40):
        queue.put(str(n).encode())
    taken: list[bytes] = []

    def work() -> None:
        for _ in range(10):
            taken.append(any_store.new_queue("q").get(timeout=10))

    workers = [Worker(work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert sorted(taken) == sorted(str(n).encode() for n in range(40))
    assert queue.len() == 0


def test_eight_concurrent_adders_end_exact(any_store: BaseStore) -> None:
    workers = [
        Worker(lambda: [any_store.new_counter("c").add() for _ in range(10)]) for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.result()
    assert any_store.new_counter("c").value == 80


def test_bad_input_is_refused_and_stores_nothing(store: BaseStore) -> None:
    with pytest.raises(InvalidKeyError):
        store.new_queue("")
    with pytest.raises(InvalidArgumentError):
        store.new_semaphore("s", 0)
    with pytest.raises(InvalidArgumentError):
        store.new_double_barrier("d", 0)
    with pytest.raises(InvalidArgumentError):
        store.new_queue("q").put("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        store.new_priority_queue("p").put(b"x", True)
    with pytest.raises(InvalidArgumentError):
        store.new_barrier("b").wait(timeout=-1)
    assert store.count("__kvstore/") == 0


def _run_all(*targets: Callable[[], object]) -> list[object]:
    workers = [Worker(target) for target in targets]
    for worker in workers:
        worker.start()
    return [worker.result() for worker in workers]


def test_a_writer_never_overlaps_anyone_in_a_rwlock(any_store: BaseStore) -> None:
    state = {"readers": 0, "writers": 0, "most_readers": 0}
    violations: list[str] = []
    guard = threading.Lock()

    def enter(kind: str) -> None:
        with guard:
            if state["writers"] or (kind == "writers" and state["readers"]):
                violations.append(f"{kind} entered with {state}")
            state[kind] += 1
            state["most_readers"] = max(state["most_readers"], state["readers"])

    def leave(kind: str) -> None:
        with guard:
            state[kind] -= 1

    def work(seed: int) -> None:
        rw = any_store.new_rwlock("rw")
        for step in range(6):
            kind = "writers" if (seed + step) % 3 == 0 else "readers"
            holder = rw.write_lock() if kind == "writers" else rw.read_lock()
            with holder:
                enter(kind)
                time.sleep(0.002)
                leave(kind)

    _run_all(*(lambda seed=seed: work(seed) for seed in range(4)))
    assert violations == []
    assert any_store.count("__kvstore/") == 0


def test_a_priority_queue_hands_out_lower_numbers_first(any_store: BaseStore) -> None:
    queue = any_store.new_priority_queue("pq")
    for priority, value in [(5, b"e"), (-3, b"a"), (5, b"f"), (0, b"c"), (-3, b"b")]:
        queue.put(value, priority)
    assert [queue.get(timeout=5) for _ in range(5)] == [b"a", b"b", b"c", b"e", b"f"]
    assert queue.len() == 0


def test_a_double_barrier_lets_all_in_and_all_out(any_store: BaseStore) -> None:
    entered: list[int] = []

    def member(index: int) -> None:
        barrier = any_store.new_double_barrier("db", 3)
        barrier.enter(timeout=10)
        entered.append(index)
        barrier.leave(timeout=10)

    _run_all(*(lambda index=index: member(index) for index in range(3)))
    assert sorted(entered) == [0, 1, 2]
    assert any_store.count("__kvstore/") == 0


def test_a_double_barrier_that_times_out_leaves_nothing_behind(any_store: BaseStore) -> None:
    lonely = any_store.new_double_barrier("db2", 2)
    with pytest.raises(LockTimeoutError):
        lonely.enter(timeout=0.2)
    assert any_store.count("__kvstore/") == 0


def test_a_barrier_holds_waiters_until_released(any_store: BaseStore) -> None:
    barrier = any_store.new_barrier("b")
    assert barrier.hold() is True
    assert barrier.hold() is False
    assert any_store.new_barrier("b").wait(timeout=0.2) is False
    waiter = Worker(lambda: any_store.new_barrier("b").wait(timeout=10))
    waiter.start()
    assert barrier.release() is True
    assert waiter.result() is True
    assert any_store.count("__kvstore/") == 0


def test_party_members_join_and_leave(any_store: BaseStore) -> None:
    first = any_store.new_party("p", "worker-b")
    second = any_store.new_party("p", "worker-a")
    first.join()
    second.join()
    assert first.members() == ["worker-a", "worker-b"]
    first.leave()
    assert second.members() == ["worker-a"]
    second.leave()
    assert any_store.count("__kvstore/") == 0


def test_a_semaphore_waiter_that_times_out_leaves_no_key(any_store: BaseStore) -> None:
    holder = any_store.new_semaphore("s1", 1)
    assert holder.acquire(timeout=5) is True
    try:
        assert any_store.new_semaphore("s1", 1).acquire(timeout=0.2) is False
        assert any_store.count("__kvstore/") == 1
        assert holder.fencing_token > 0
    finally:
        holder.release()
    assert any_store.count("__kvstore/") == 0
