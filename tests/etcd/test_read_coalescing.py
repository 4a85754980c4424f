"""Read coalescing in ``AsyncEtcdStore`` and ``EtcdStore`` (``EtcdConfig.coalesce_reads``)
on real etcd.

Reads at the current revision issued in one event-loop iteration (asyncio) or while
another read is in flight (threads sharing a sync store) leave as one etcd Txn;
each must still return exactly what it would have returned alone, errors included, and
stay linearizable. Every test compares the coalescing store with one that sends a Range
per read (``coalesce_reads=False``) or with sequential reads.
"""

from __future__ import annotations

import asyncio
import re
import threading
import urllib.request
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvstore import (
    AsyncEncryptedStore,
    AsyncNamespacedStore,
    EncryptedStore,
    Keyring,
    NamespacedStore,
)
from kvstore.base import AsyncBaseStore, BaseStore
from kvstore.errors import (
    CompactedError,
    KeyNotFoundError,
    KVStoreError,
    PermissionDeniedError,
    StoreClosedError,
)
from kvstore_etcd import AsyncEtcdStore, EtcdConfig, EtcdStore
from kvstore_etcd.launcher import EtcdServer, EtcdUser, enable_auth

pytestmark = pytest.mark.etcd

KEY = bytes(range(32))


@pytest.fixture
async def store(etcd_config: EtcdConfig) -> AsyncIterator[AsyncEtcdStore]:
    coalescing = AsyncEtcdStore(attrs.evolve(etcd_config, coalesce_reads=True))
    yield coalescing
    await coalescing.aclose()


@pytest.fixture
async def lone(etcd_config: EtcdConfig) -> AsyncIterator[AsyncEtcdStore]:
    """A store of the same etcd that sends one Range per read."""
    single = AsyncEtcdStore(attrs.evolve(etcd_config, coalesce_reads=False))
    yield single
    await single.aclose()


def test_coalescing_is_on_by_default_and_a_url_option() -> None:
    assert EtcdConfig().coalesce_reads is True
    assert EtcdConfig.from_url("etcd://localhost:2379?coalesce_reads=0").coalesce_reads is False
    assert EtcdConfig.from_url("etcd://localhost:2379?coalesce_reads=true").coalesce_reads


async def _outcome(read: Any) -> Any:
    """What a read returned, or its error as (type, key, message)."""
    try:
        return await read
    except KVStoreError as exc:
        return (type(exc), exc.key, str(exc))


async def _reads(store: AsyncBaseStore, keys: list[str]) -> list[Any]:
    """Every kind of read that may be coalesced, for each key."""
    reads: list[Any] = []
    for key in keys:
        reads += [
            store.get(key),
            store.get_kv(key),
            store.exists(key),
            store.kv_range(key, key + "\xff", limit=2),
            store.kv_range(key, key + "\xff", keys_only=True),
            store.kv_range(key, key + "\xff", count_only=True),
        ]
    return reads


async def test_coalesced_reads_return_what_single_reads_return(
    store: AsyncEtcdStore, lone: AsyncEtcdStore
) -> None:
    for index in range(20):
        await lone.put(f"c/{index:02d}", f"value {index}".encode())
    keys = [f"c/{index:02d}" for index in range(0, 25, 2)]  # some are missing
    together = await asyncio.gather(*map(_outcome, await _reads(store, keys)))
    alone = [await _outcome(read) for read in await _reads(lone, keys)]
    assert together == alone
    missing = [outcome for outcome in together if isinstance(outcome, tuple)]
    assert {(kind, key) for kind, key, _ in missing} == {
        (KeyNotFoundError, "c/20"),
        (KeyNotFoundError, "c/22"),
        (KeyNotFoundError, "c/24"),
    }


async def test_more_reads_than_max_txn_ops(etcd_config: EtcdConfig) -> None:
    async with AsyncEtcdStore(attrs.evolve(etcd_config, max_txn_ops=4)) as store:
        await store.bulk_put(
            {f"m/{index:02d}": bytes([index]) for index in range(30)}, atomic=False
        )
        values = await asyncio.gather(*(store.get(f"m/{index:02d}") for index in range(30)))
        assert values == [bytes([index]) for index in range(30)]


async def test_a_read_at_a_past_revision_keeps_its_own_error(store: AsyncEtcdStore) -> None:
    first = await store.put("r/a", b"1")
    await store.put("r/a", b"2")
    latest = await store.put("r/b", b"3")
    await store.compact_revision(latest)
    outcomes = await asyncio.gather(
        store.get("r/a"),
        store.get_with_revision("r/a", first),
        store.get("r/b"),
        store.get("r/missing"),
        return_exceptions=True,
    )
    assert outcomes[0] == b"2" and outcomes[2] == b"3"
    assert isinstance(outcomes[1], CompactedError) and outcomes[1].key == "r/a"
    assert isinstance(outcomes[3], KeyNotFoundError) and outcomes[3].key == "r/missing"


async def test_reads_on_a_closed_store_fail_each_with_its_own_key(etcd_config: EtcdConfig) -> None:
    store = AsyncEtcdStore(etcd_config)
    await store.put("closed/a", b"1")
    await store.aclose()
    outcomes = await asyncio.gather(
        *(store.get(f"closed/{name}") for name in "abc"), return_exceptions=True
    )
    for name, outcome in zip("abc", outcomes, strict=True):
        assert isinstance(outcome, StoreClosedError)
        assert outcome.key == f"closed/{name}"


async def test_reads_pending_when_the_store_closes_fail_with_store_closed(
    etcd_config: EtcdConfig,
) -> None:
    store = AsyncEtcdStore(etcd_config)
    await store.put("closing/a", b"1")
    reads = [asyncio.ensure_future(store.get("closing/a")) for _ in range(5)]
    await store.aclose()
    for outcome in await asyncio.gather(*reads, return_exceptions=True):
        # each read either left before the close (and got its answer) or failed alone
        assert outcome == b"1" or isinstance(outcome, StoreClosedError)


@pytest.mark.parametrize("when", ["queued", "in flight"])
async def test_a_cancelled_reader_leaves_the_others_intact(
    store: AsyncEtcdStore, when: str
) -> None:
    await store.bulk_put({f"x/{index}": bytes([index]) for index in range(10)})
    tasks = [asyncio.ensure_future(store.get(f"x/{index}")) for index in range(10)]
    if when == "in flight":
        await asyncio.sleep(0)  # the readers queue their reads
        await asyncio.sleep(0)  # the flush sends them
    tasks[3].cancel()
    tasks[7].cancel()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for index, outcome in enumerate(outcomes):
        if index in (3, 7):
            assert isinstance(outcome, asyncio.CancelledError) or outcome == bytes([index])
        else:
            assert outcome == bytes([index])


async def test_a_batch_over_the_receive_limit_is_split(store: AsyncEtcdStore) -> None:
    # twenty 200 KB values: 4 MB together, twice the 2 MiB receive limit
    values = {f"big/{index:02d}": bytes([index]) * 200_000 for index in range(20)}
    for key, value in values.items():
        await store.put(key, value)
    got = await asyncio.gather(*(store.get(key) for key in values))
    assert got == list(values.values())


async def test_a_read_too_big_alone_fails_alone(etcd_config: EtcdConfig) -> None:
    config = attrs.evolve(etcd_config, max_call_recv_msg_size=300_000)
    async with (
        AsyncEtcdStore(config) as store,
        AsyncEtcdStore(attrs.evolve(config, coalesce_reads=False)) as lone,
    ):
        await store.put("huge/big", b"b" * 400_000)
        for index in range(6):
            await store.put(f"huge/{index}", b"s" * 100_000)
        keys = ["huge/big", *(f"huge/{index}" for index in range(6))]
        together = await asyncio.gather(*(_outcome(store.get(key)) for key in keys))
        alone = [await _outcome(lone.get(key)) for key in keys]
        assert together[1:] == [b"s" * 100_000] * 6
        assert isinstance(together[0], tuple) and together[0][:2] == alone[0][:2]
        assert together[0][1] == "huge/big"


async def test_a_read_issued_after_a_write_returned_sees_it(store: AsyncEtcdStore) -> None:
    async def writer_reader(index: int) -> None:
        for round_ in range(20):
            value = f"{index}-{round_}".encode()
            await store.put(f"rw/{index}", value)
            assert await store.get(f"rw/{index}") == value

    await asyncio.gather(*(writer_reader(index) for index in range(16)))


async def test_reads_after_another_task_s_write_see_it(store: AsyncEtcdStore) -> None:
    written = asyncio.Event()

    async def reader() -> bytes:
        await written.wait()
        return await store.get("seen/k")

    readers = [asyncio.ensure_future(reader()) for _ in range(10)]
    await store.put("seen/k", b"new")
    written.set()
    assert await asyncio.gather(*readers) == [b"new"] * 10


@pytest.mark.parametrize("wrapper", ["namespaced", "encrypted"])
async def test_coalesced_reads_through_wrappers(etcd_config: EtcdConfig, wrapper: str) -> None:
    async with (
        AsyncEtcdStore(etcd_config) as inner_store,
        AsyncEtcdStore(attrs.evolve(etcd_config, coalesce_reads=False)) as inner_lone,
    ):
        if wrapper == "namespaced":
            store: AsyncBaseStore = AsyncNamespacedStore(inner_store, "ns/")
            lone: AsyncBaseStore = AsyncNamespacedStore(inner_lone, "ns/")
        else:
            store = AsyncEncryptedStore(inner_store, Keyring.single(KEY))
            lone = AsyncEncryptedStore(inner_lone, Keyring.single(KEY))
        for index in range(10):
            await lone.put(f"w/{index}", f"v{index}".encode())
        keys = [f"w/{index}" for index in range(12)]
        together = await asyncio.gather(*map(_outcome, await _reads(store, keys)))
        alone = [await _outcome(read) for read in await _reads(lone, keys)]
        assert together == alone


# ------------------------------------------------------------------ property


@pytest.fixture(scope="module")
def property_server(etcd_binary: str) -> Iterator[EtcdServer]:
    with EtcdServer(etcd_binary) as server:
        yield server


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.dictionaries(
        st.sampled_from([f"p/{index}" for index in range(12)]), st.binary(max_size=64)
    ),
    reads=st.lists(st.sampled_from([f"p/{index}" for index in range(14)]), max_size=40),
)
def test_concurrent_coalesced_gets_equal_sequential_ones(
    property_server: EtcdServer, data: dict[str, bytes], reads: list[str]
) -> None:
    config = EtcdConfig(endpoints=property_server.endpoints, request_timeout=10.0)

    async def run() -> None:
        async with AsyncEtcdStore(config) as store:
            await store.delete_prefix("p/")
            if data:
                await store.bulk_put(data)
            together = await asyncio.gather(*(_outcome(store.get(key)) for key in reads))
            in_turn = [await _outcome(store.get(key)) for key in reads]
            assert together == in_turn
            assert [value for value in together if isinstance(value, bytes)] == [
                data[key] for key in reads if key in data
            ]

    asyncio.run(run())


# ------------------------------------------------------------------ permissions


@pytest.fixture(scope="module")
def auth_server(etcd_binary: str) -> Iterator[EtcdServer]:
    with EtcdServer(etcd_binary) as server:
        enable_auth(
            server, {"bob": EtcdUser("bob-canary-5d1e", prefix="app/")}, root_password="r00t-c4n"
        )
        yield server


async def test_a_denied_read_fails_alone(auth_server: EtcdServer) -> None:
    config = EtcdConfig(endpoints=auth_server.endpoints, request_timeout=5.0).with_auth(
        "bob", "bob-canary-5d1e"
    )
    async with AsyncEtcdStore(config) as store:
        await store.put("app/a", b"1")
        outcomes = await asyncio.gather(
            store.get("app/a"), store.get("secret/x"), store.get("app/a"), return_exceptions=True
        )
        assert outcomes[0] == outcomes[2] == b"1"
        assert isinstance(outcomes[1], PermissionDeniedError)
        assert outcomes[1].key == "secret/x"


# ------------------------------------------------------------------ the sync store


def _threads(count: int, work: Any) -> list[Any]:
    """``work(index)`` on ``count`` threads released together: their outcomes, in order."""
    barrier = threading.Barrier(count)

    def run(index: int) -> Any:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _sync_outcome(read: Any) -> Any:
    try:
        return read()
    except KVStoreError as exc:
        return (type(exc), exc.key, str(exc))


def _sync_reads(store: BaseStore, key: str) -> list[Any]:
    return [
        _sync_outcome(lambda: store.get(key)),
        _sync_outcome(lambda: store.get_kv(key)),
        _sync_outcome(lambda: store.exists(key)),
        _sync_outcome(lambda: store.kv_range(key, key + "\xff", limit=2)),
        _sync_outcome(lambda: store.kv_range(key, key + "\xff", count_only=True)),
    ]


@pytest.mark.parametrize("wrapper", ["bare", "namespaced", "encrypted"])
def test_threads_sharing_a_sync_store_read_what_lone_reads_return(
    etcd_config: EtcdConfig, wrapper: str
) -> None:
    with (
        EtcdStore(etcd_config) as inner,
        EtcdStore(attrs.evolve(etcd_config, coalesce_reads=False)) as inner_lone,
    ):
        store: BaseStore = inner
        lone: BaseStore = inner_lone
        if wrapper == "namespaced":
            store, lone = NamespacedStore(inner, "ns/"), NamespacedStore(inner_lone, "ns/")
        elif wrapper == "encrypted":
            store = EncryptedStore(inner, Keyring.single(KEY))
            lone = EncryptedStore(inner_lone, Keyring.single(KEY))
        for index in range(12):
            lone.put(f"t/{index:02d}", f"value {index}".encode())
        keys = [f"t/{index % 16:02d}" for index in range(32)]  # some are missing
        together = _threads(32, lambda index: [_sync_reads(store, keys[index]) for _ in range(5)])
        for index, outcomes in enumerate(together):
            assert outcomes == [_sync_reads(lone, keys[index])] * 5


def test_threads_reading_big_values_split_their_batches(etcd_config: EtcdConfig) -> None:
    with EtcdStore(etcd_config) as store:
        values = {f"tbig/{index:02d}": bytes([index]) * 200_000 for index in range(20)}
        for key, value in values.items():
            store.put(key, value)
        keys = list(values)
        got = _threads(20, lambda index: [store.get(keys[index]) for _ in range(3)])
        assert got == [[values[key]] * 3 for key in keys]


def test_threads_read_their_own_writes(etcd_config: EtcdConfig) -> None:
    with EtcdStore(etcd_config) as store:

        def work(index: int) -> bool:
            for round_ in range(20):
                value = f"{index}-{round_}".encode()
                store.put(f"trw/{index}", value)
                if store.get(f"trw/{index}") != value:
                    return False
            return True

        assert all(_threads(16, work))


def test_threads_reading_a_closed_sync_store_fail_with_their_own_key(
    etcd_config: EtcdConfig,
) -> None:
    store = EtcdStore(etcd_config)
    store.put("tclosed/a", b"1")
    store.close()
    outcomes = _threads(8, lambda index: _sync_outcome(lambda: store.get(f"tclosed/{index}")))
    for index, outcome in enumerate(outcomes):
        assert outcome[:2] == (StoreClosedError, f"tclosed/{index}")


def test_sync_threads_with_a_denied_read(auth_server: EtcdServer) -> None:
    config = EtcdConfig(endpoints=auth_server.endpoints, request_timeout=5.0).with_auth(
        "bob", "bob-canary-5d1e"
    )
    with EtcdStore(config) as store:
        store.put("app/t", b"1")
        keys = ["app/t" if index % 3 else "secret/t" for index in range(12)]
        outcomes = _threads(12, lambda index: _sync_outcome(lambda: store.get(keys[index])))
        for key, outcome in zip(keys, outcomes, strict=True):
            if key == "app/t":
                assert outcome == b"1"
            else:
                assert outcome[:2] == (PermissionDeniedError, key)


# ------------------------------------------------------------------ what goes on the wire


def _calls_served(endpoint: str) -> dict[str, int]:
    """How many Range and Txn calls etcd answered (its own /metrics counters)."""
    with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    served = {"Range": 0, "Txn": 0}
    for method in served:
        pattern = (
            rf'grpc_server_handled_total{{grpc_code="OK",grpc_method="{method}",[^}}]*}} (\S+)'
        )
        served[method] = sum(int(float(count)) for count in re.findall(pattern, text))
    return served


def _served_since(endpoint: str, before: dict[str, int]) -> dict[str, int]:
    return {method: count - before[method] for method, count in _calls_served(endpoint).items()}


@pytest.fixture(scope="module")
def wire_config(etcd_binary: str) -> Iterator[EtcdConfig]:
    """A config of an etcd of these tests' own: nothing else sends it calls."""
    with EtcdServer(etcd_binary) as server:
        yield EtcdConfig(endpoints=server.endpoints, request_timeout=10.0)


@pytest.mark.parametrize(("coalesce", "max_txn_ops"), [(True, 128), (True, 8), (False, 128)])
async def test_concurrent_reads_leave_as_one_txn_per_max_txn_ops(
    wire_config: EtcdConfig, coalesce: bool, max_txn_ops: int
) -> None:
    config = attrs.evolve(wire_config, coalesce_reads=coalesce, max_txn_ops=max_txn_ops)
    endpoint = config.endpoints[0]
    async with AsyncEtcdStore(config) as store:
        await store.put("wire/k", b"v")
        before = _calls_served(endpoint)
        assert await asyncio.gather(*(store.get("wire/k") for _ in range(20))) == [b"v"] * 20
        served = _served_since(endpoint, before)
    if not coalesce:
        assert served == {"Range": 20, "Txn": 0}
    else:
        assert served == {"Range": 0, "Txn": -(-20 // max_txn_ops)}


def test_threads_sharing_a_sync_store_send_fewer_calls_than_reads(
    wire_config: EtcdConfig,
) -> None:
    endpoint = wire_config.endpoints[0]
    with EtcdStore(wire_config) as store:
        store.put("wire/t", b"v")
        before = _calls_served(endpoint)
        outcomes = _threads(16, lambda index: [store.get("wire/t") for _ in range(20)])
        served = _served_since(endpoint, before)
    assert outcomes == [[b"v"] * 20] * 16
    # 320 reads: a read that finds another on the wire waits and leaves with the next batch
    assert served["Txn"] >= 1
    assert served["Range"] + served["Txn"] < 320
