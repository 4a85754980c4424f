"""The asyncio recipes of SPEC 18 part A on real etcd: the memory tests of
``test_recipes_async``, run again on an ``AsyncEtcdStore`` (through an
``AsyncNamespacedStore`` of the test's own, as ``test_recipes_etcd`` does for the sync
recipes). Only the party's lease expiry stays on memory: it advances a ``ManualClock``."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
from test_recipes_async import (  # noqa: F401 - collected here again, on etcd
    test_a_barrier_holds_waiters_until_released,
    test_a_double_barrier_lets_all_in_and_all_out,
    test_a_double_barrier_short_of_members_times_all_out,
    test_a_priority_queue_hands_out_lower_numbers_first,
    test_a_queue_getter_that_times_out_raises_and_takes_nothing,
    test_a_semaphore_never_has_more_than_limit_holders,
    test_a_semaphore_waiter_that_times_out_leaves_no_key,
    test_a_writer_never_overlaps_anyone_in_a_rwlock,
    test_bad_input_is_refused_and_stores_nothing,
    test_cancelling_a_double_barrier_member_lets_the_round_go_on,
    test_cancelling_a_queue_getter_leaves_the_item_to_another,
    test_cancelling_a_semaphore_waiter_leaves_no_key,
    test_cancelling_a_writer_waiting_in_a_rwlock_lets_later_readers_in,
    test_concurrent_counter_adds_end_at_their_sum,
    test_each_priority_queue_item_is_taken_exactly_once,
    test_each_queue_item_is_taken_exactly_once,
    test_eight_concurrent_adders_end_exact,
    test_party_members_join_and_leave,
    test_random_semaphores_keep_their_bound,
    test_rwlock_waiters_that_time_out_raise_and_leave_no_key,
)

from kvstore import AsyncBaseStore, AsyncNamespacedStore
from kvstore_etcd import AsyncEtcdStore, EtcdConfig

pytestmark = [pytest.mark.etcd]

_NAMESPACES = itertools.count()


@pytest.fixture
async def any_async_store(etcd_config: EtcdConfig) -> AsyncIterator[AsyncBaseStore]:
    """An ``AsyncEtcdStore`` on the emptied session etcd, under a prefix of the test's own."""
    prefix = f"test-recipes-async-{next(_NAMESPACES)}/"
    async with AsyncNamespacedStore(AsyncEtcdStore(etcd_config), prefix) as store:
        yield store
