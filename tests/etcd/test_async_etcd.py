"""``AsyncEtcdStore`` on real etcd: the same results and errors as ``EtcdStore`` (a
differential run on one server), leases, compaction, resumable watches, task hygiene,
TLS and auth.

Written on the primitives (``do_range``, ``do_put`` ...), the contract every async
backend implements; the conveniences are the async base class's, tested by the async
conformance suite.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import attrs
import pytest

import kvstore
from kvstore.errors import (
    AuthenticationError,
    CompactedError,
    InvalidArgumentError,
    KVStoreError,
    LeaseNotFoundError,
    PermissionDeniedError,
    StoreClosedError,
    UnavailableError,
)
from kvstore.txn import Delete, Get, Put, Txn, Value, Version, WatchRequest
from kvstore.types import (
    DeleteResult,
    KeyValue,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    TxnResult,
    WatchEvent,
)
from kvstore.wrappers.encryption import AsyncEncryptedStore, Keyring
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore, new_async_client, new_client
from kvstore_etcd.launcher import EtcdServer, EtcdUser, PKIFiles, enable_auth, make_test_pki

pytestmark = pytest.mark.etcd

ROOT_PASSWORD = "root-canary-a93f"
ALICE_PASSWORD = "alice-canary-2e77"
CLIENT = "client"


@pytest.fixture
async def store(etcd_config: EtcdConfig) -> AsyncIterator[AsyncEtcdStore]:
    async_store = AsyncEtcdStore(etcd_config)
    yield async_store
    await async_store.aclose()


@pytest.fixture
def sync_store(etcd_config: EtcdConfig) -> Iterator[EtcdStore]:
    with EtcdStore(etcd_config) as sync:
        yield sync


def _other_tasks() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[arg-type]


async def _no_task_left(timeout: float = 2.0) -> None:
    """Wait for grpc's own short-lived tasks to finish; none of ours may stay."""
    deadline = time.monotonic() + timeout
    while _other_tasks() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not _other_tasks(), _other_tasks()


# ------------------------------------------------------------------ same results as sync


def _shift(result: Any, base: int) -> Any:
    """``result`` with every revision made relative to ``base``."""
    if isinstance(result, KeyValue):
        return attrs.evolve(
            result,
            create_revision=result.create_revision - base,
            mod_revision=result.mod_revision - base,
            key=result.key.split("/", 1)[1],
        )
    if isinstance(result, RangeResult):
        return attrs.evolve(
            result,
            kvs=tuple(_shift(kv, base) for kv in result.kvs),
            revision=result.revision - base,
        )
    if isinstance(result, PutResult):
        previous = None if result.prev_kv is None else _shift(result.prev_kv, base)
        return attrs.evolve(result, revision=result.revision - base, prev_kv=previous)
    if isinstance(result, DeleteResult):
        return attrs.evolve(
            result,
            revision=result.revision - base,
            prev_kvs=tuple(_shift(kv, base) for kv in result.prev_kvs),
        )
    if isinstance(result, TxnResult):
        return attrs.evolve(
            result,
            revision=result.revision - base,
            responses=tuple(_shift(item, base) for item in result.responses),
        )
    raise AssertionError(result)


def _requests(prefix: str, base: int) -> list[Get | Put | Delete | Txn]:
    """One sequence of every kind of request, on keys under ``prefix``."""
    k = prefix.__add__
    return [
        Put(k("a"), b"1"),
        Put(k("b"), b"2", prev_kv=True),
        Put(k("a"), b"3", prev_kv=True),
        Get(k("a")),
        Get(k(""), k("~"), limit=1),
        Get(k(""), k("~"), sort_target=SortTarget.VALUE, sort_order=SortOrder.DESCEND),
        Get(k(""), k("~"), count_only=True),
        Get(k(""), k("~"), keys_only=True),
        Get(k("a"), revision=base + 1),
        Txn(
            [Value(k("a")) == b"3", Version(k("b")) > 0],
            [Put(k("c"), b"4"), Get(k("a")), Delete(k("b"), prev_kv=True)],
            [Get(k("b"))],
        ),
        Txn([Value(k("a")) == b"nope"], [Put(k("d"), b"5")], [Get(k(""), k("~"))]),
        Delete(k("missing")),
        Delete(k(""), k("~"), prev_kv=True),
        Get(k(""), k("~")),
    ]


async def _run_async(store: AsyncEtcdStore, request: Any) -> Any:
    if isinstance(request, Get):
        return await store.do_range(request)
    if isinstance(request, Put):
        return await store.do_put(request)
    if isinstance(request, Delete):
        return await store.do_delete_range(request)
    return await store.do_txn(request)


def _run_sync(store: EtcdStore, request: Any) -> Any:
    if isinstance(request, Get):
        return store.do_range(request)
    if isinstance(request, Put):
        return store.do_put(request)
    if isinstance(request, Delete):
        return store.do_delete_range(request)
    return store.do_txn(request)


async def test_results_are_those_of_the_sync_store_on_the_same_etcd(
    store: AsyncEtcdStore, sync_store: EtcdStore
) -> None:
    base = sync_store.do_range(Get("\0", "\0", count_only=True)).revision
    synced = [_shift(_run_sync(sync_store, r), base) for r in _requests("s/", base)]
    base = (await store.do_range(Get("\0", "\0", count_only=True))).revision
    awaited = [_shift(await _run_async(store, r), base) for r in _requests("a/", base)]
    assert awaited == synced


async def test_a_sync_write_is_read_by_the_async_store(
    store: AsyncEtcdStore, sync_store: EtcdStore
) -> None:
    written = sync_store.do_put(Put("shared", b"v"))
    result = await store.do_range(Get("shared"))
    assert result.kvs[0].value == b"v" and result.kvs[0].mod_revision == written.revision


async def test_construction_needs_no_event_loop(etcd_config: EtcdConfig) -> None:
    def build() -> AsyncEtcdStore:
        return AsyncEtcdStore(etcd_config)  # no loop in this thread

    built = await asyncio.to_thread(build)
    try:
        assert (await built.do_put(Put("lazy", b"1"))).revision > 0
    finally:
        await built.aclose()


async def test_new_async_client_and_repr(etcd_config: EtcdConfig) -> None:
    config = attrs.evolve(etcd_config, username="bob", password="pw-canary-77")
    opened = new_async_client(config)
    assert isinstance(opened, AsyncEtcdStore)
    assert "pw-canary-77" not in repr(opened) and "bob" in repr(opened)
    await opened.aclose()


async def test_new_async_client_encrypts_like_new_client(etcd_config: EtcdConfig) -> None:
    key = Keyring.generate_key()
    config = etcd_config.with_encryption(key)
    async_store = new_async_client(config)
    assert isinstance(async_store, AsyncEncryptedStore)
    sync_store = new_client(config)
    try:
        await async_store.put("enc/a", b"secret")
        assert sync_store.get("enc/a") == b"secret"  # one format for both APIs
        raw = EtcdStore(etcd_config)
        assert b"secret" not in raw.get("enc/a")
        raw.delete("enc/a")
        raw.close()
    finally:
        sync_store.close()
        await async_store.aclose()


async def test_open_async_composes_the_url_wrappers(etcd_endpoints: list[str]) -> None:
    url = f"etcd://{etcd_endpoints[0]}?namespace=async-open/&compress=1"
    async with kvstore.open_async(url) as store:
        assert isinstance(store, kvstore.AsyncNamespacedStore)
        await store.put("a", b"x" * 1000)
        assert await store.get("a") == b"x" * 1000
        with kvstore.open(url) as sync_store:
            assert sync_store.get("a") == b"x" * 1000
        await store.delete_prefix("", allow_all=True)  # only the namespace's keys


# ------------------------------------------------------------------ same errors as sync


def _error_of(call: Callable[[], Any]) -> tuple[type[BaseException], str]:
    try:
        call()
    except KVStoreError as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


async def _async_error_of(call: Callable[[], Any]) -> tuple[type[BaseException], str]:
    try:
        await call()
    except KVStoreError as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("lease_grant", (0,)),
        ("lease_grant", (-1,)),
        ("lease_revoke", (0,)),
        ("lease_revoke", (0x1234,)),
        ("lease_keepalive_once", (0x1234,)),
        ("lease_time_to_live", (0x1234,)),
        ("compact_revision", (0,)),
        ("compact_revision", (10**9,)),
        ("hash_kv", (-3,)),
    ],
)
async def test_bad_input_gets_the_sync_store_error(
    store: AsyncEtcdStore, sync_store: EtcdStore, name: str, args: tuple[Any, ...]
) -> None:
    expected = _error_of(lambda: getattr(sync_store, name)(*args))
    assert await _async_error_of(lambda: getattr(store, name)(*args)) == expected


async def test_a_future_revision_gets_the_sync_store_error(
    store: AsyncEtcdStore, sync_store: EtcdStore
) -> None:
    request = Get("k", revision=10**9)
    assert await _async_error_of(lambda: store.do_range(request)) == _error_of(
        lambda: sync_store.do_range(request)
    )


async def test_calls_after_aclose_raise_store_closed(store: AsyncEtcdStore) -> None:
    await store.do_put(Put("k", b"1"))
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreClosedError):
        await store.do_range(Get("k"))
    with pytest.raises(StoreClosedError):
        store.do_watch(WatchRequest("k"))
    assert store.closed


# ------------------------------------------------------------------ leases and compaction


async def test_lease_primitives(store: AsyncEtcdStore) -> None:
    grant = await store.lease_grant(1)
    assert grant.ttl == 2  # etcd's floor, as on the sync store
    await store.do_put(Put("leased", b"1", lease=grant.id))
    assert await store.lease_keepalive_once(grant.id) == 2
    info = await store.lease_time_to_live(grant.id, keys=True)
    assert info.keys == ("leased",) and 0 < info.ttl <= 2
    assert grant.id in await store.lease_leases()
    await store.lease_revoke(grant.id)
    assert (await store.do_range(Get("leased"))).kvs == ()
    with pytest.raises(LeaseNotFoundError):
        await store.lease_time_to_live(grant.id)


async def test_compaction_errors_name_the_compact_revision(store: AsyncEtcdStore) -> None:
    first = (await store.do_put(Put("c", b"1"))).revision
    second = (await store.do_put(Put("c", b"2"))).revision
    await store.compact_revision(second)
    with pytest.raises(CompactedError) as info:
        await store.do_range(Get("c", revision=first))
    assert info.value.compact_revision == second
    assert (await store.do_range(Get("c", revision=second))).kvs[0].value == b"2"
    with pytest.raises(CompactedError):
        await store.do_txn(Txn([], [Get("c", revision=first)], []))
    with pytest.raises(CompactedError):
        await store.compact_revision(first)
    assert (await store.status()).compact_revision == second
    async with store.do_watch(WatchRequest("c", start_revision=first)) as watch:
        with pytest.raises(CompactedError) as watched:
            await watch.next_event(5)
    assert watched.value.compact_revision == second
    assert (await store.hash_kv()).compact_revision == second


async def test_cluster_calls(store: AsyncEtcdStore) -> None:
    status = await store.status()
    assert status.version and status.leader == status.member_id
    assert [member.id for member in await store.member_list()] == [status.member_id]
    assert await store.alarms() == []
    await store.defragment()


# ------------------------------------------------------------------ watches


async def _collect(watch: Any, count: int, timeout: float = 10.0) -> list[WatchEvent]:
    events = []
    while len(events) < count:
        event = await watch.next_event(timeout)
        assert event is not None, f"only {len(events)} of {count} events arrived"
        events.append(event)
    return events


async def test_watch_returns_at_once_and_sees_every_revision(store: AsyncEtcdStore) -> None:
    first = (await store.do_put(Put("w/a", b"0"))).revision
    watch = store.do_watch(WatchRequest("w/", "w0", start_revision=first, prev_kv=True))
    later = [(await store.do_put(Put(f"w/{i}", b"x"))).revision for i in range(5)]
    events = await _collect(watch, 6)
    assert [event.revision for event in events] == [first, *later]
    assert await watch.next_event(0.3) is None
    await watch.cancel()
    assert watch.cancelled and await watch.next_event(0.1) is None


async def test_watch_cancel_cancels_its_id_only_and_the_last_one_ends_the_stream(
    store: AsyncEtcdStore, etcd_server: EtcdServer
) -> None:
    streams, watchers = etcd_server.watch_counts()
    first = store.do_watch(WatchRequest("quiet/a"))
    second = store.do_watch(WatchRequest("quiet/b"))
    await first.ready()
    await second.ready()
    # The two watches share one stream on the server.
    assert await asyncio.to_thread(
        etcd_server.wait_for_watch_counts, (streams + 1, watchers + 2)
    ) == (
        streams + 1,
        watchers + 2,
    )
    await first.cancel()
    assert await asyncio.to_thread(
        etcd_server.wait_for_watch_counts, (streams + 1, watchers + 1)
    ) == (
        streams + 1,
        watchers + 1,
    )
    revision = (await store.do_put(Put("quiet/b", b"1"))).revision
    event = await second.next_event(5)
    assert event is not None and event.revision == revision
    assert store.watches() == [second]
    await second.cancel()
    assert await asyncio.to_thread(etcd_server.wait_for_watch_counts, (streams, watchers)) == (
        streams,
        watchers,
    )
    hub = store.watch_hub()
    for _ in range(100):
        if not hub.running:
            break
        await asyncio.sleep(0.01)
    assert store.watches() == [] and not hub.running


async def test_aclose_ends_every_task_it_started(etcd_config: EtcdConfig) -> None:
    closing = AsyncEtcdStore(etcd_config)
    await closing.do_put(Put("t", b"1"))
    watches = [closing.do_watch(WatchRequest(f"t{i}")) for i in range(5)]
    await asyncio.sleep(0.2)
    await closing.aclose()
    assert all(watch.cancelled for watch in watches)
    await _no_task_left()  # the shared stream's tasks too


async def test_cancelling_a_put_leaves_no_task_behind(store: AsyncEtcdStore) -> None:
    await store.do_put(Put("warm", b"1"))
    tasks = [asyncio.create_task(store.do_put(Put(f"p{i}", b"1"))) for i in range(50)]
    await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, (PutResult, asyncio.CancelledError)) for r in results)
    await _no_task_left()
    assert (await store.do_put(Put("after", b"1"))).revision > 0


async def test_cancelling_a_task_that_awaits_a_watch_event(store: AsyncEtcdStore) -> None:
    watch = store.do_watch(WatchRequest("never"))
    waiter = asyncio.create_task(watch.next_event(None))
    await asyncio.sleep(0.1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await store.do_put(Put("never", b"1"))
    event = await watch.next_event(5)  # the watch is unharmed
    assert event is not None and event.kv.key == "never"
    await watch.cancel()
    await _no_task_left()


@pytest.fixture
def own_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """A single-member etcd of this test alone (the test restarts it)."""
    with EtcdServer(etcd_binary) as server:
        yield server


@pytest.mark.slow
async def test_watch_resumes_across_restarts_with_every_revision_once(
    own_server: EtcdServer,
) -> None:
    config = EtcdConfig(endpoints=own_server.endpoints, request_timeout=10.0, dial_timeout=10.0)
    async with AsyncEtcdStore(config) as store:
        revisions = [(await store.do_put(Put("r/k", str(i).encode()))).revision for i in range(3)]
        async with store.do_watch(WatchRequest("r/", "r0", start_revision=revisions[0])) as watch:
            assert [e.revision for e in await _collect(watch, 3)] == revisions
            await asyncio.to_thread(own_server.restart)
            revisions.append((await store.do_put(Put("r/k", b"3"))).revision)
            await asyncio.to_thread(own_server.stop)
            await asyncio.to_thread(own_server.start)
            # Another client writes before the watcher had a chance to reconnect.
            with EtcdStore(config) as writer:
                revisions += [writer.put("r/a", b"4"), writer.kv_delete_range("r/k").revision]
            events = await _collect(watch, 3)
            assert [e.revision for e in events] == revisions[3:]
            assert await watch.next_event(0.5) is None  # nothing twice
        lease = await store.lease_grant(3)
        await asyncio.to_thread(own_server.restart)
        assert await store.lease_keepalive_once(lease.id) > 0  # keep-alive after a restart
    await _no_task_left()


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_test_pki(tmp_path_factory.mktemp("pki"), client_names=[CLIENT])


@pytest.fixture(scope="module")
def tls_server(etcd_binary: str, pki: PKIFiles) -> Iterator[EtcdServer]:
    with EtcdServer(etcd_binary, tls=pki.etcd_tls(CLIENT)) as server:
        yield server


def _tls_config(server: EtcdServer) -> EtcdConfig:
    return EtcdConfig(endpoints=server.endpoints, request_timeout=3.0, dial_timeout=2.0)


async def _use(config: EtcdConfig) -> bytes:
    async with AsyncEtcdStore(config) as tls_store:
        await tls_store.do_put(Put("tls/key", b"value"))
        return (await tls_store.do_range(Get("tls/key"))).kvs[0].value


async def test_tls_with_ca_and_client_certificate(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(*pki.client(CLIENT), pki.ca_file)
    assert await _use(config) == b"value"


async def test_insecure_skip_verify(tls_server: EtcdServer, pki: PKIFiles) -> None:
    config = _tls_config(tls_server).with_tls(*pki.client(CLIENT), None, insecure_skip_verify=True)
    assert await _use(config) == b"value"


async def test_wrong_ca_fails_fast_naming_the_tls_error(
    tls_server: EtcdServer, pki: PKIFiles
) -> None:
    config = _tls_config(tls_server).with_dial_timeout(30.0).with_timeout(30.0)
    config = config.with_tls(*pki.client(CLIENT), pki.other_ca_file)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as info:
        await _use(config)
    assert time.monotonic() - started < 10
    assert "TLS handshake failed with every endpoint" in str(info.value)


# ------------------------------------------------------------------ authentication


@pytest.fixture(scope="module")
def auth_server(etcd_binary: str) -> Iterator[EtcdServer]:
    """etcd with auth on; simple tokens expire after 2 s of disuse."""
    with EtcdServer(
        etcd_binary, extra_args=["--auth-token=simple", "--auth-token-ttl=2"]
    ) as server:
        enable_auth(
            server, {"alice": EtcdUser(ALICE_PASSWORD, prefix="app/")}, root_password=ROOT_PASSWORD
        )
        yield server


def _alice(server: EtcdServer, password: str = ALICE_PASSWORD) -> AsyncEtcdStore:
    config = EtcdConfig(endpoints=server.endpoints, request_timeout=3.0).with_auth(
        "alice", password
    )
    return AsyncEtcdStore(config)


async def test_auth_prefix_permissions_and_token_renewal(auth_server: EtcdServer) -> None:
    async with _alice(auth_server) as alice:
        await alice.do_put(Put("app/t", b"1"))
        with pytest.raises(PermissionDeniedError):
            await alice.do_put(Put("other/t", b"1"))
        async with alice.do_watch(WatchRequest("other/t")) as denied:
            with pytest.raises(PermissionDeniedError):
                await denied.next_event(5)
        token = alice.caller.metadata_cache
        await asyncio.sleep(3.5)  # past --auth-token-ttl
        assert (await alice.do_range(Get("app/t"))).kvs[0].value == b"1"
        assert alice.caller.metadata_cache not in (None, token)
        async with alice.do_watch(WatchRequest("app/", "app0")) as watch:
            await asyncio.sleep(3.5)  # the watch reconnects with a renewed token if needed
            await alice.do_put(Put("app/w", b"2"))
            event = await watch.next_event(5)
        assert event is not None and event.kv.key == "app/w"


async def test_wrong_password_fails_with_authentication_error(auth_server: EtcdServer) -> None:
    wrong = "wrong-canary-41c0"
    async with _alice(auth_server, wrong) as alice:
        with pytest.raises(AuthenticationError) as info:
            await alice.do_range(Get("app/a"))
        async with alice.do_watch(WatchRequest("app/a")) as watch:
            with pytest.raises(AuthenticationError):
                await watch.next_event(5)
    for text in (str(info.value), repr(info.value), repr(alice)):
        assert wrong not in text and ALICE_PASSWORD not in text


async def test_invalid_argument_is_typed(store: AsyncEtcdStore) -> None:
    with pytest.raises(InvalidArgumentError):
        await store.lease_grant(0)


# ------------------------------------------------------------------ through the base class


async def test_conveniences_of_the_async_base(store: AsyncEtcdStore) -> None:
    revision = await store.put("conv/a", b"1")
    assert await store.get("conv/a") == b"1"
    async with store.watch_prefix("conv/", start_revision=revision) as watch:
        await store.put("conv/b", b"2")
        events = await _collect(watch, 2)
    assert [event.kv.key for event in events] == ["conv/a", "conv/b"]
    assert await store.delete("conv/a") == 1
    lease = await store.lease(2)
    keepalive = await store.keep_alive(lease)
    await store.put("conv/leased", b"1", lease=lease)
    await asyncio.sleep(3)
    assert await store.get_kv("conv/leased") is not None
    await keepalive.stop()


async def test_bad_input_is_refused_before_anything_is_sent(
    store: AsyncEtcdStore, sync_store: EtcdStore
) -> None:
    revision = (await store.do_range(Get("\0", "\0", count_only=True))).revision
    for name, args in [("put", ("", b"1")), ("put", ("k", None)), ("get", (3,))]:
        expected = _error_of(lambda: getattr(sync_store, name)(*args))  # noqa: B023
        assert await _async_error_of(lambda: getattr(store, name)(*args)) == expected  # noqa: B023
    assert (await store.do_range(Get("\0", "\0", count_only=True))).revision == revision


# ------------------------------------------------------------------ locks on etcd


async def test_cancelling_a_task_waiting_for_a_lock_leaves_no_waiter_key(
    store: AsyncEtcdStore,
) -> None:
    name = f"cancel-{time.monotonic_ns()}"
    holder = store.new_lock(name, ttl=5)
    await holder.lock()
    waiter = store.new_lock(name, ttl=5)
    task = asyncio.create_task(waiter.lock())
    for _ in range(200):  # until the waiter's key is queued
        await asyncio.sleep(0.02)
        if await store.count(holder.prefix) == 2:
            break
    assert await store.count(holder.prefix) == 2
    (waiter_key,) = set(await store.list(holder.prefix)) - {holder.key}
    waiter_lease = int(waiter_key.removeprefix(holder.prefix), 16)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await store.list(holder.prefix) == [holder.key]
    with pytest.raises(LeaseNotFoundError):  # its own session was closed with its key
        await store.lease_time_to_live(waiter_lease)
    await holder.unlock()
    assert await store.count(holder.prefix) == 0
    await _no_task_left()


async def test_a_lock_whose_lease_is_revoked_is_reported_lost_and_its_write_refused(
    store: AsyncEtcdStore, sync_store: EtcdStore
) -> None:
    lost = asyncio.Event()
    lock = store.new_lock(f"fenced-{time.monotonic_ns()}", ttl=2, on_lost=lambda _: lost.set())
    await lock.lock()
    guard = lock.guard()
    sync_store.revoke_lease(lock.session.lease_id)  # behind the holder's back
    await asyncio.wait_for(lost.wait(), 10)  # the keep-alive's next renewal notices
    assert lock.lost.is_set() and not lock.is_locked
    key = f"{lock.prefix}state"
    result = await store.transaction().if_(guard).then(Put(key, b"late")).commit()
    assert not result.succeeded
    assert not await store.exists(key)
    await lock.unlock()
