"""The recipes of SPEC 18 part A on MemoryStore and its wrappers: safety under contention."""

from __future__ import annotations

import threading

import pytest
from recipe_helpers import Worker

from kvstore import BaseStore, InvalidArgumentError, InvalidKeyError


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
