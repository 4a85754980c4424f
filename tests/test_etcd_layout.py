"""``new_lock(name, layout="etcd")`` / ``new_election(name, layout="etcd")`` on MemoryStore.

etcd's own layout is Go's ``concurrency.Mutex`` / ``concurrency.Election``: prefix
``name + "/"``, key ``prefix + "%x" % lease_id`` (lowercase hex, no padding). The tests
here pin the key bytes and play a Go holder by writing its key by hand; the tests against
``etcdctl`` itself are in ``tests/etcd/test_etcd_layout_interop.py``.
"""

from __future__ import annotations

import pytest
from recipe_helpers import Worker

from kvstore import (
    BaseStore,
    Get,
    InvalidArgumentError,
    InvalidKeyError,
    NamespacedStore,
    Put,
    SortOrder,
    SortTarget,
)
from kvstore.keys import prefix_range_end
from kvstore.recipes import LAYOUTS, LOCK_NAMESPACE
from kvstore_memory import AsyncMemoryStore, ManualClock, MemoryStore


def test_the_etcd_layout_key_is_name_slash_lowercase_hex_lease_id(store: BaseStore) -> None:
    lock = store.new_lock("jobs/nightly", layout="etcd")
    assert lock.layout == "etcd" and lock.prefix == "jobs/nightly/"
    with lock:
        lease_id = lock.session.lease_id
        assert lock.key == "jobs/nightly/" + format(lease_id, "x")
        assert lock.key == f"jobs/nightly/{lease_id:x}"  # Go: fmt.Sprintf("%s%x", pfx, id)
        assert store.list("jobs/nightly/") == [lock.key]
        assert store.count(LOCK_NAMESPACE) == 0
        kv = store.get_kv(lock.key)
        assert kv is not None and kv.value == b"" and kv.lease == lease_id
        assert lock.fencing_token == kv.create_revision
    assert store.list("jobs/nightly/") == []


def test_the_name_is_not_escaped_in_the_etcd_layout(store: BaseStore) -> None:
    lock = store.new_lock("/a b/%", layout="etcd")
    assert lock.prefix == "/a b/%/"
    default = store.new_lock("/a b/%")
    assert default.layout == "kvstore" and default.prefix == LOCK_NAMESPACE + "%2Fa%20b%2F%25/"


def test_a_go_holder_of_the_same_name_excludes_an_etcd_layout_lock(
    store: BaseStore, clock: ManualClock
) -> None:
    go_lease = store.lease(10)
    store.put(f"resource/{go_lease.id:x}", b"", lease=go_lease)  # what Go's Mutex.Lock puts
    lock = store.new_lock("resource", layout="etcd")
    assert not lock.try_lock()
    assert store.new_lock("resource").try_lock()  # the kvstore layout is another lock
    waiter = Worker(lambda: lock.lock(timeout=5))
    waiter.start()
    store.revoke_lease(go_lease)  # the Go holder exits
    waiter.result()
    assert lock.is_locked
    result = store.transaction().if_(lock.guard()).then(Put("resource-data", b"x")).commit()
    assert result.succeeded
    lock.unlock()


def test_a_go_waiter_queues_behind_an_etcd_layout_holder(store: BaseStore) -> None:
    lock = store.new_lock("resource", layout="etcd")
    lock.lock()
    go_lease = store.lease(10)
    go_key = f"resource/{go_lease.id:x}"
    store.put(go_key, b"", lease=go_lease)
    # Go's owner read (WithFirstCreate): the key of the prefix with the lowest create revision
    assert [kv.key for kv in store.kv_range(first_created("resource/")).kvs] == [lock.key]
    lock.unlock()
    assert [kv.key for kv in store.kv_range(first_created("resource/")).kvs] == [go_key]


def first_created(prefix: str) -> Get:
    return Get(
        prefix,
        prefix_range_end(prefix),
        limit=1,
        sort_target=SortTarget.CREATE,
        sort_order=SortOrder.ASCEND,
    )


def test_an_etcd_layout_election_puts_the_proposal_at_name_slash_hex(store: BaseStore) -> None:
    election = store.new_election("primary", layout="etcd")
    election.campaign(b"worker-1")
    key = f"primary/{election.session.lease_id:x}"
    assert election.key == key
    kv = store.get_kv(key)
    assert kv is not None and kv.value == b"worker-1"
    leader = election.leader()
    assert leader is not None and leader.key == key and leader.value == b"worker-1"
    election.proclaim(b"worker-1b")
    assert store.get(key) == b"worker-1b"
    election.resign()
    assert store.list("primary/") == []


def test_an_etcd_layout_election_follows_a_go_leader(store: BaseStore) -> None:
    go_lease = store.lease(10)
    store.put(f"primary/{go_lease.id:x}", b"go-proposal", lease=go_lease)
    election = store.new_election("primary", layout="etcd")
    leader = election.leader()
    assert leader is not None and leader.value == b"go-proposal"
    with election.observe() as leaders:
        first = leaders.next_leader(timeout=5)
        assert first is not None and first.value == b"go-proposal"
        candidate = Worker(lambda: election.campaign(b"python", timeout=5))
        candidate.start()
        store.revoke_lease(go_lease)
        candidate.result()
        following = leaders.next_leader(timeout=5)
        assert following is not None and following.value == b"python"
    election.resign()


def test_through_a_namespace_the_etcd_layout_sits_under_the_prefix() -> None:
    memory = MemoryStore(clock=ManualClock())
    with NamespacedStore(memory, "app/") as namespaced:
        lock = namespaced.new_lock("jobs", layout="etcd")
        with lock:
            assert lock.key == f"jobs/{lock.session.lease_id:x}"
            assert memory.list("app/jobs/") == ["app/" + lock.key]
            # a Go client with namespace "app/" writes the same bytes
            assert not memory.new_lock("app/jobs", layout="etcd").try_lock()
        assert memory.list("app/") == []


@pytest.mark.parametrize("layout", ["go", "ETCD", "", None, 1])
@pytest.mark.parametrize("creator", ["new_lock", "new_election"])
def test_an_unknown_layout_is_refused_and_nothing_is_stored(
    store: BaseStore, creator: str, layout: object
) -> None:
    revision = store.status().revision
    with pytest.raises(InvalidArgumentError, match="layout") as caught:
        getattr(store, creator)("x", layout=layout)
    assert caught.value.operation == creator
    assert store.status().revision == revision
    assert store.lease_leases() == []


@pytest.mark.parametrize("creator", ["new_lock", "new_election"])
def test_the_etcd_layout_checks_the_name_as_a_key(store: BaseStore, creator: str) -> None:
    with pytest.raises(InvalidKeyError):
        getattr(store, creator)("", layout="etcd")


def test_the_layouts_are_listed() -> None:
    assert LAYOUTS == ("kvstore", "etcd")


async def test_the_async_recipes_take_the_layout_too() -> None:
    memory = MemoryStore(clock=ManualClock())
    async with AsyncMemoryStore(memory) as store:
        lock = store.new_lock("async-jobs", layout="etcd")
        async with lock:
            assert memory.list("async-jobs/") == [f"async-jobs/{lock.session.lease_id:x}"]
        election = store.new_election("async-primary", layout="etcd")
        await election.campaign(b"v")
        assert memory.get(f"async-primary/{election.session.lease_id:x}") == b"v"
        await election.resign()
