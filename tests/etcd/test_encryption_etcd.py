"""EncryptedStore on a real etcd: the server holds only envelopes, tampering is refused.

Stored bytes are read and written behind the store's back with a raw ``etcd3`` client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import etcd3
import pytest

from kvstore import (
    BaseStore,
    DecryptionError,
    EncryptedStore,
    Keyring,
    WrapperStore,
)
from kvstore.testing import ConformanceSuite
from kvstore.txn import Compare, Get, Op, Put
from kvstore.types import RangeResult, TxnResult
from kvstore_etcd import EtcdConfig, EtcdStore, new_client

pytestmark = pytest.mark.etcd

KEY1 = bytes(range(32))
KEY2 = bytes(range(64, 96))


@pytest.fixture
def raw_client(etcd_endpoints: list[str]) -> Iterator[Any]:
    """A plain etcd3 client on the test's etcd: what the server really stores."""
    host, _, port = etcd_endpoints[0].rpartition(":")
    client = etcd3.client(host=host, port=int(port))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def store(etcd_store: EtcdStore) -> EncryptedStore:
    return EncryptedStore(etcd_store, Keyring.single(KEY1))


def stored(raw_client: Any, key: str) -> bytes:
    value, _ = raw_client.get(key)
    assert value is not None, f"{key!r} is not in etcd"
    return bytes(value)


def test_etcd_holds_ciphertext(store: EncryptedStore, raw_client: Any) -> None:
    store.put("db/password", b"PLAINTEXT-MARKER")
    envelope = stored(raw_client, "db/password")
    assert envelope[:5] == b"kve\x01\x01"
    assert envelope[5:9] == b"\x00\x00\x00\x01"
    assert b"PLAINTEXT-MARKER" not in envelope
    assert len(envelope) == len(b"PLAINTEXT-MARKER") + 37
    assert store.get("db/password") == b"PLAINTEXT-MARKER"


def test_transactions_and_bulk_writes_are_encrypted(store: EncryptedStore, raw_client: Any) -> None:
    store.bulk_put({"a": b"1", "b": b"2"})
    result = store.kv_txn([], [Put("c", b"3"), Get("a")], [])
    get = result.responses[1]
    assert isinstance(get, RangeResult) and get.kvs[0].value == b"1"
    store.move_key("c", "d")
    assert store.compare_and_swap("d", b"3", b"4")
    for key in ("a", "b", "d"):
        assert stored(raw_client, key)[:3] == b"kve"
    assert store.get_multiple("") == {"a": b"1", "b": b"2", "d": b"4"}


def test_copied_ciphertext_does_not_decrypt(store: EncryptedStore, raw_client: Any) -> None:
    store.put("a", b"secret")
    raw_client.put("b", stored(raw_client, "a"))
    with pytest.raises(DecryptionError, match="'b'") as info:
        store.get("b")
    assert info.value.key == "b"


def test_plaintext_behind_the_stores_back_is_refused(
    store: EncryptedStore, raw_client: Any
) -> None:
    raw_client.put("p", b"plaintext")
    with pytest.raises(DecryptionError, match="not encrypted"):
        store.get("p")
    migrating = EncryptedStore(store.inner, Keyring.single(KEY1), allow_plaintext=True)
    assert migrating.get("p") == b"plaintext"


def test_flipped_bit_and_truncation_are_refused(store: EncryptedStore, raw_client: Any) -> None:
    store.put("k", b"value")
    envelope = bytearray(stored(raw_client, "k"))
    envelope[-1] ^= 1
    raw_client.put("k", bytes(envelope))
    with pytest.raises(DecryptionError):
        store.get("k")
    raw_client.put("k", bytes(envelope[:30]))
    with pytest.raises(DecryptionError, match="truncated"):
        store.get("k")


def test_watch_events_are_decrypted(store: EncryptedStore) -> None:
    with store.watch("k", prev_kv=True) as watch:
        store.put("k", b"1")
        store.put("k", b"2")
        first, second = watch.next_event(10), watch.next_event(10)
    assert first is not None and first.kv.value == b"1"
    assert second is not None and second.kv.value == b"2"
    assert second.prev_kv is not None and second.prev_kv.value == b"1"


def test_rotation_and_reencrypt(store: EncryptedStore, raw_client: Any) -> None:
    store.bulk_put({f"app/{i}": f"v{i}".encode() for i in range(10)})
    store.keyring = store.keyring.rotate(2, KEY2)
    store.put("app/new", b"n")
    assert store.get("app/3") == b"v3"
    assert store.is_stale("app/3") and not store.is_stale("app/new")
    report = store.reencrypt("app/", progress=lambda done, total: None)
    assert (report.rewritten, report.current, report.skipped, report.failed) == (10, 1, (), ())
    for i in range(10):
        assert stored(raw_client, f"app/{i}")[5:9] == b"\x00\x00\x00\x02"
    only_new = EncryptedStore(store.inner, Keyring.single(KEY2, key_id=2))
    assert only_new.get_multiple("app/")["app/3"] == b"v3"


class _BeforeFirstTxn(WrapperStore):
    """Runs ``interfere`` once, right before the first transaction reaches etcd."""

    def __init__(self, inner: BaseStore, interfere: Callable[[], object]) -> None:
        super().__init__(inner)
        self._interfere: Callable[[], object] | None = interfere

    def kv_txn(
        self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]
    ) -> TxnResult:
        if self._interfere is not None:
            interfere, self._interfere = self._interfere, None
            interfere()
        return super().kv_txn(compares, success, failure)


def test_reencrypt_does_not_overwrite_a_concurrent_update(
    etcd_store: EtcdStore, raw_client: Any
) -> None:
    old = EncryptedStore(etcd_store, Keyring.single(KEY1))
    old.bulk_put({"a": b"1", "b": b"2", "c": b"3"})
    concurrent = EncryptedStore(etcd_store, Keyring.single(KEY1))
    interfering = _BeforeFirstTxn(etcd_store, lambda: concurrent.put("b", b"concurrent"))
    store = EncryptedStore(interfering, Keyring({1: KEY1, 2: KEY2}))
    report = store.reencrypt("")
    assert report.skipped == ("b",) and report.rewritten == 2
    assert store.get("b") == b"concurrent"
    assert stored(raw_client, "b")[5:9] == b"\x00\x00\x00\x01"


def test_config_with_encryption(etcd_config: EtcdConfig, raw_client: Any) -> None:
    store = new_client(etcd_config.with_encryption(KEY1))
    try:
        assert isinstance(store, EncryptedStore)
        store.put("k", b"v")
        assert stored(raw_client, "k")[:3] == b"kve"
        assert "KEY" not in repr(store) and KEY1.hex() not in repr(store)
    finally:
        store.close()


# ---------------------------------------------------------------------- conformance


class TestEncryptedEtcdStore(ConformanceSuite):
    value_compares = False
    value_sort = False

    @pytest.fixture
    def store(self, etcd_config: EtcdConfig) -> Iterator[BaseStore]:
        store = EncryptedStore(EtcdStore(etcd_config), Keyring.single(KEY1))
        yield store
        store.close()
