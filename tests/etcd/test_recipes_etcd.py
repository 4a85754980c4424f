"""The recipes of SPEC 18 part A on real etcd: the memory tests of ``test_recipes_more``,
run again on an ``EtcdStore`` (each test under a namespace of its own, so its
``count("__kvstore/")`` sees only its own recipe keys)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from test_recipes_more import (  # noqa: F401 - collected here again, on etcd
    test_a_barrier_holds_waiters_until_released,
    test_a_double_barrier_lets_all_in_and_all_out,
    test_a_double_barrier_that_times_out_leaves_nothing_behind,
    test_a_priority_queue_hands_out_lower_numbers_first,
    test_a_semaphore_never_has_more_than_limit_holders,
    test_a_semaphore_waiter_that_times_out_leaves_no_key,
    test_a_writer_never_overlaps_anyone_in_a_rwlock,
    test_bad_input_is_refused_and_stores_nothing,
    test_each_queue_item_is_taken_exactly_once,
    test_eight_concurrent_adders_end_exact,
    test_party_members_join_and_leave,
)

from kvstore import BaseStore, NamespacedStore
from kvstore_etcd import EtcdStore

pytestmark = [pytest.mark.etcd]

_NAMESPACES = itertools.count()


@pytest.fixture
def any_store(etcd_store: EtcdStore) -> Iterator[BaseStore]:
    prefix = f"test-recipes-{next(_NAMESPACES)}/"
    etcd_store.delete_prefix(prefix)
    yield NamespacedStore(etcd_store, prefix)
    etcd_store.delete_prefix(prefix)


@pytest.fixture
def store(any_store: BaseStore) -> BaseStore:
    return any_store
