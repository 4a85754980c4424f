"""SPEC 12 "Bad input": every rejected call gets the same typed error on every backend and
changes nothing stored.

One table of cases, run against each backend (memory, SQLite, etcd). Each case prepares what it
needs, then the whole store (every key with value, version, create / mod revision and
lease; the store revision; the live leases) is read before and after the bad call, through
the raw backend (under ``EncryptedStore`` that is the ciphertext).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

import kvstore
from kvstore import (
    BackendNotFoundError,
    BaseStore,
    ConfigurationError,
    DecryptionError,
    DuplicateKeyError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyValue,
    KVStoreError,
    LeaseNotFoundError,
    StoreClosedError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import ALL_KEYS, MAX_REQUEST_BYTES, REQUEST_OVERHEAD_BYTES
from kvstore.txn import Put
from kvstore.wrappers.encryption import EncryptedStore, Keyring

_KEY_A = bytes(range(32))
_KEY_B = bytes(range(1, 33))
_UNKNOWN_LEASE = 0x5EED_0000_0001


@attrs.frozen
class _State:
    revision: int
    kvs: tuple[KeyValue, ...]
    leases: frozenset[int]


def _state(store: BaseStore) -> _State:
    result = store.kv_range(ALL_KEYS, ALL_KEYS)
    assert not result.more
    return _State(result.revision, result.kvs, frozenset(store.lease_leases()))


@attrs.define
class _Bench:
    """The store under test, and how to reach the same data through another handle."""

    backend: str
    store: BaseStore
    observer: BaseStore | None
    """A second handle on the same data (etcd: another client; SQLite: another store on
    the file; memory: the same store)."""

    url: str

    @property
    def raw(self) -> BaseStore:
        return self.store

    def encrypted(self, key: bytes = _KEY_A) -> EncryptedStore:
        return EncryptedStore(self.store, Keyring.single(key))


@attrs.frozen
class _Case:
    name: str
    error: type[KVStoreError]
    call: Callable[[_Bench], object]
    prepare: Callable[[_Bench], None] | None = None


def _over_limit_value(key: str) -> bytes:
    return b"x" * (MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES - len(key.encode()) + 1)


def _store_encrypted(bench: _Bench) -> None:
    bench.encrypted().put("enc/a", b"secret value")


def _tamper(change: Callable[[bytes], bytes], target: str = "enc/a") -> Callable[[_Bench], None]:
    def prepare(bench: _Bench) -> None:
        _store_encrypted(bench)
        bench.raw.put(target, change(bench.raw.get("enc/a")))

    return prepare


def _flip_last_bit(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


def _plaintext(bench: _Bench) -> None:
    bench.raw.put("enc/a", b"plain, never encrypted")


def _closed_call(bench: _Bench) -> object:
    bench.store.close()
    return bench.store.put("after-close", b"v")


def _open(url: str) -> Callable[[_Bench], object]:
    return lambda bench: kvstore.open(url)


def _malformed_backend_url(bench: _Bench) -> object:
    # The backend's own URL parser refuses it (a bad port, an unknown option).
    bad = "etcd://127.0.0.1:99999" if bench.backend == "etcd" else "memory://?no_such_option=1"
    return kvstore.open(bad)


CASES = [
    _Case("empty key", InvalidKeyError, lambda b: b.store.put("", b"v")),
    _Case("empty key in get", InvalidKeyError, lambda b: b.store.get("")),
    _Case("bytes key", InvalidKeyError, lambda b: b.store.put(b"k", b"v")),  # type: ignore[arg-type]
    _Case("int key", InvalidKeyError, lambda b: b.store.get(7)),  # type: ignore[arg-type]
    _Case("None value", InvalidArgumentError, lambda b: b.store.put("k", None)),  # type: ignore[arg-type]
    _Case("str value", InvalidArgumentError, lambda b: b.store.put("k", "text")),  # type: ignore[arg-type]
    _Case(
        "value one byte over the request limit",
        ValueTooLargeError,
        lambda b: b.store.put("big", _over_limit_value("big")),
    ),
    _Case(
        "129-op txn",
        TransactionTooLargeError,
        lambda b: b.store.kv_txn([], [Put(f"t/{i:03}", b"v") for i in range(129)], []),
    ),
    _Case(
        "129-key atomic bulk_put",
        TransactionTooLargeError,
        lambda b: b.store.bulk_put({f"t/{i:03}": b"v" for i in range(129)}),
    ),
    _Case(
        "duplicate key in a txn",
        DuplicateKeyError,
        lambda b: b.store.kv_txn([], [Put("dup", b"1"), Put("dup", b"2")], []),
    ),
    _Case(
        "negative revision",
        InvalidArgumentError,
        lambda b: b.store.get_with_revision("a", -1),
    ),
    _Case(
        "negative revision in a range read",
        InvalidArgumentError,
        lambda b: b.store.kv_range("a", revision=-1),
    ),
    _Case(
        "future revision",
        InvalidArgumentError,
        lambda b: b.store.get_with_revision("a", _state(b.store).revision + 1000),
    ),
    _Case("TTL 0", InvalidArgumentError, lambda b: b.store.lease(0)),
    _Case("TTL -1", InvalidArgumentError, lambda b: b.store.lease(-1)),
    _Case("TTL 0 through the primitive", InvalidArgumentError, lambda b: b.store.lease_grant(0)),
    _Case(
        "put with an unknown lease",
        LeaseNotFoundError,
        lambda b: b.store.put("leased", b"v", lease=_UNKNOWN_LEASE),
    ),
    _Case(
        "txn put with an unknown lease",
        LeaseNotFoundError,
        lambda b: b.store.kv_txn([], [Put("leased", b"v", lease=_UNKNOWN_LEASE)], []),
    ),
    _Case(
        "revoke an unknown lease",
        LeaseNotFoundError,
        lambda b: b.store.revoke_lease(_UNKNOWN_LEASE),
    ),
    _Case("put after close()", StoreClosedError, _closed_call),
    _Case(
        "wrong encryption key",
        DecryptionError,
        lambda b: b.encrypted(_KEY_B).get("enc/a"),
        prepare=_store_encrypted,
    ),
    _Case(
        "flipped bit in the envelope",
        DecryptionError,
        lambda b: b.encrypted().get("enc/a"),
        prepare=_tamper(_flip_last_bit),
    ),
    _Case(
        "truncated envelope",
        DecryptionError,
        lambda b: b.encrypted().get("enc/a"),
        prepare=_tamper(lambda value: value[:20]),
    ),
    _Case(
        "value moved to another key",
        DecryptionError,
        lambda b: b.encrypted().get("enc/b"),
        prepare=_tamper(lambda value: value, target="enc/b"),
    ),
    _Case(
        "plaintext under encryption",
        DecryptionError,
        lambda b: b.encrypted().get("enc/a"),
        prepare=_plaintext,
    ),
    _Case(
        "plaintext under encryption, in a prefix read",
        DecryptionError,
        lambda b: b.encrypted().get_multiple("enc/"),
        prepare=_plaintext,
    ),
    _Case("unknown scheme", BackendNotFoundError, _open("nosuchbackend://somewhere")),
    _Case("malformed URL", ConfigurationError, _open("not a url at all")),
    _Case("malformed backend URL", ConfigurationError, _malformed_backend_url),
]


@pytest.fixture(params=["memory", "sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
def bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_Bench]:
    if request.param == "sqlite":
        from kvstore_sql import SQLiteStore

        path = tmp_path / "kvstore.db"
        sqlite, sqlite_observer = SQLiteStore(path), SQLiteStore(path)
        try:
            yield _Bench("sqlite", sqlite, sqlite_observer, f"sqlite:///{path}")
        finally:
            sqlite.close()
            sqlite_observer.close()
        return
    if request.param == "memory":
        from kvstore_memory import MemoryStore

        memory = MemoryStore()
        try:
            # A MemoryStore has no second handle; after close() there is nothing to observe.
            yield _Bench("memory", memory, memory, "memory://")
        finally:
            memory.close()
        return
    from kvstore_etcd import EtcdConfig, EtcdStore

    endpoints: list[str] = request.getfixturevalue("etcd_endpoints")
    config = EtcdConfig().with_endpoints(*endpoints).with_timeout(5)
    store, observer = EtcdStore(config), EtcdStore(config)
    try:
        yield _Bench("etcd", store, observer, f"etcd://{endpoints[0]}")
    finally:
        store.close()
        observer.close()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gets_a_typed_error_and_changes_nothing(bench: _Bench, case: _Case) -> None:
    bench.store.put("a", b"1")
    bench.store.put("b", b"2")
    lease = bench.store.lease(30)
    bench.store.put("leased/a", b"3", lease=lease)
    if case.prepare is not None:
        case.prepare(bench)
    before = _state(bench.store)

    with pytest.raises(KVStoreError) as caught:
        case.call(bench)

    assert type(caught.value) is case.error, f"{case.name}: {caught.value!r}"
    assert str(caught.value), "the error says what went wrong"
    observer = bench.observer
    if bench.store.closed and bench.backend == "memory":
        observer = None
    if observer is not None:
        assert _state(observer) == before, f"{case.name} changed the store"
