"""EncryptedStore, Keyring and the envelope, on MemoryStore (etcd: tests/etcd/)."""

from __future__ import annotations

import base64
import copy
import logging
import pickle
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs
import pytest

import kvstore
from kvstore import (
    ConfigurationError,
    DecryptionError,
    EncryptedStore,
    InvalidArgumentError,
    InvalidKeyError,
    KeyNotFoundError,
    Keyring,
    KVStoreError,
    NamespacedStore,
    StoreClosedError,
    UnsupportedCompareError,
    ValueTooLargeError,
)
from kvstore.base import BaseStore
from kvstore.keys import MAX_REQUEST_BYTES, REQUEST_OVERHEAD_BYTES
from kvstore.txn import Compare, CreateRevision, Delete, Get, ModRevision, Op, Put, Txn, Value
from kvstore.types import EventType, PutResult, RangeResult, TxnResult, WatchEvent
from kvstore.wrappers import WrapperStore
from kvstore.wrappers.encryption import OVERHEAD_BYTES
from kvstore.wrappers.encryption.envelope import HEADER_BYTES, MAGIC, NONCE_BYTES
from kvstore_memory import ManualClock, MemoryStore

# Canary key material: none of its spellings may show up in a repr, an error or a log.
KEY1 = b"CANARY-key-one-0123456789abcdef!"
KEY2 = b"CANARY-key-two-0123456789abcdef?"
KEY3 = b"CANARY-key-six-0123456789abcdef%"
assert len(KEY1) == len(KEY2) == len(KEY3) == 32


def spellings(key: bytes) -> list[str]:
    """Every way key material could leak into text."""
    return [
        key.decode("latin-1"),
        repr(key),
        key.hex(),
        key.hex().upper(),
        base64.b64encode(key).decode(),
        base64.urlsafe_b64encode(key).decode(),
        "CANARY",
    ]


def assert_no_secret(text: str) -> None:
    for key in (KEY1, KEY2, KEY3):
        for spelling in spellings(key):
            assert spelling not in text, f"key material leaked: {text!r}"


@pytest.fixture
def memory() -> Iterator[MemoryStore]:
    store = MemoryStore(clock=ManualClock())
    yield store
    store.close()


@pytest.fixture
def store(memory: MemoryStore) -> EncryptedStore:
    return EncryptedStore(memory, Keyring.single(KEY1))


def raw(store: EncryptedStore, key: str) -> bytes:
    return store.inner.get(key)


def plant(store: EncryptedStore, key: str, value: bytes) -> None:
    """Write ``value`` behind the encrypted store's back."""
    store.inner.put(key, value)


# ---------------------------------------------------------------------- keyring


class TestKeyring:
    def test_single_is_primary(self) -> None:
        keyring = Keyring.single(KEY1)
        assert keyring.primary == 1
        assert keyring.key_ids == (1,)
        assert 1 in keyring and 2 not in keyring
        assert len(keyring) == 1

    def test_primary_defaults_to_the_highest_id(self) -> None:
        assert Keyring({3: KEY1, 7: KEY2}).primary == 7
        assert Keyring({3: KEY1, 7: KEY2}, primary=3).primary == 3

    @pytest.mark.parametrize("length", [0, 1, 16, 24, 31, 33, 64])
    def test_key_material_must_be_32_bytes(self, length: int) -> None:
        with pytest.raises(ConfigurationError, match="exactly 32 bytes"):
            Keyring.single(b"k" * length)

    @pytest.mark.parametrize("material", [None, "k" * 32, 12345, ["k"] * 32])
    def test_key_material_must_be_bytes(self, material: object) -> None:
        with pytest.raises(ConfigurationError, match="32 bytes"):
            Keyring.single(material)  # type: ignore[arg-type]

    def test_bytearray_key_is_accepted(self) -> None:
        assert Keyring.single(bytearray(KEY1)) == Keyring.single(KEY1)  # type: ignore[arg-type]

    @pytest.mark.parametrize("key_id", [-1, 2**32, True, "1", 1.0, None])
    def test_invalid_key_ids(self, key_id: object) -> None:
        with pytest.raises(ConfigurationError, match="key id"):
            Keyring({key_id: KEY1})  # type: ignore[dict-item]

    def test_no_keys_is_an_error(self) -> None:
        with pytest.raises(ConfigurationError, match="at least one key"):
            Keyring({})

    def test_primary_must_be_a_key(self) -> None:
        with pytest.raises(ConfigurationError, match="primary key id 3"):
            Keyring({1: KEY1, 2: KEY2}, primary=3)

    def test_derived_keyrings_leave_the_original_alone(self) -> None:
        one = Keyring.single(KEY1)
        two = one.add(2, KEY2)
        assert (two.key_ids, two.primary) == ((1, 2), 1)
        assert two.with_primary(2).primary == 2
        rotated = one.rotate(2, KEY2)
        assert (rotated.key_ids, rotated.primary) == ((1, 2), 2)
        assert rotated.without(1).key_ids == (2,)
        assert (one.key_ids, one.primary) == ((1,), 1)

    def test_derived_keyring_errors(self) -> None:
        keyring = Keyring({1: KEY1, 2: KEY2}, primary=2)
        with pytest.raises(ConfigurationError, match="already"):
            keyring.add(1, KEY3)
        with pytest.raises(ConfigurationError, match="not among"):
            keyring.with_primary(5)
        with pytest.raises(ConfigurationError, match="primary"):
            keyring.without(2)
        with pytest.raises(ConfigurationError, match="not in the keyring"):
            keyring.without(9)
        with pytest.raises(ConfigurationError, match="exactly 32"):
            keyring.rotate(3, b"short")

    def test_repr_shows_ids_and_primary_only(self) -> None:
        keyring = Keyring({1: KEY1, 2: KEY2, 6: KEY3}, primary=2)
        assert repr(keyring) == "Keyring(key_ids=[1, 2, 6], primary=2)"
        assert_no_secret(repr(keyring) + str(keyring))

    def test_keyring_cannot_be_pickled_but_copies(self) -> None:
        keyring = Keyring.single(KEY1)
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(keyring)
        assert copy.copy(keyring) is keyring
        assert copy.deepcopy(keyring) is keyring

    def test_generate_and_encode_key(self) -> None:
        key = Keyring.generate_key()
        assert len(key) == 32 and key != Keyring.generate_key()
        assert Keyring.from_text(Keyring.encode_key(key)) == Keyring.single(key)


class TestKeyText:
    @pytest.mark.parametrize(
        "text",
        [
            KEY1.hex(),
            KEY1.hex().upper(),
            base64.b64encode(KEY1).decode(),
            base64.b64encode(KEY1).decode().rstrip("="),
            base64.urlsafe_b64encode(KEY1).decode(),
            f"  {base64.b64encode(KEY1).decode()}\n",
            f"# the key\n1:{KEY1.hex()}  # current\n",
        ],
    )
    def test_one_key_spellings(self, text: str) -> None:
        assert Keyring.from_text(text) == Keyring.single(KEY1)

    def test_several_entries_highest_is_primary(self) -> None:
        text = f"1:{KEY1.hex()}\n2:{base64.b64encode(KEY2).decode()}, 6:{KEY3.hex()}"
        keyring = Keyring.from_text(text)
        assert keyring == Keyring({1: KEY1, 2: KEY2, 6: KEY3}, primary=6)
        assert Keyring.from_text(text, primary=2).primary == 2

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "holds no key"),
            ("# only a comment\n", "holds no key"),
            (f"{KEY1.hex()} {KEY2.hex()}", "no key id"),
            (f"1:{KEY1.hex()}\n1:{KEY2.hex()}", "repeats key id 1"),
            (f"x:{KEY1.hex()}", "invalid key id"),
            (f"-1:{KEY1.hex()}", "invalid key id"),
            (f"1:{KEY1.hex()[:-2]}", "not a 32-byte key"),
            (f"1:{base64.b64encode(KEY1 + b'x').decode()}", "not a 32-byte key"),
            ("1:CANARY-not-base64!!", "not a 32-byte key"),
            (KEY1.decode(), "not a 32-byte key"),
        ],
    )
    def test_bad_key_text_never_echoed(self, text: str, message: str) -> None:
        with pytest.raises(ConfigurationError, match=message) as info:
            Keyring.from_text(text)
        assert_no_secret(str(info.value))

    def test_from_file(self, tmp_path: Path) -> None:
        path = tmp_path / "keys"
        path.write_text(f"1:{KEY1.hex()}\n2:{KEY2.hex()}\n")
        assert Keyring.from_file(path) == Keyring({1: KEY1, 2: KEY2}, primary=2)
        assert Keyring.from_file(str(path), primary=1).primary == 1

    def test_from_file_errors_name_the_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigurationError, match="cannot read key file"):
            Keyring.from_file(tmp_path / "missing")
        path = tmp_path / "bad"
        path.write_text("1:" + KEY1.decode())
        with pytest.raises(ConfigurationError, match="bad") as info:
            Keyring.from_file(path)
        assert_no_secret(str(info.value))

    def test_from_env(self) -> None:
        environ = {"KVSTORE_ENCRYPTION_KEY": base64.b64encode(KEY1).decode()}
        assert Keyring.from_env(environ=environ) == Keyring.single(KEY1)
        environ = {"MY_KEYS": f"1:{KEY1.hex()},2:{KEY2.hex()}"}
        assert Keyring.from_env("MY_KEYS", environ=environ).primary == 2

    @pytest.mark.parametrize("environ", [{}, {"KVSTORE_ENCRYPTION_KEY": ""}, {"X": "y"}])
    def test_from_env_unset_is_an_error(self, environ: dict[str, str]) -> None:
        with pytest.raises(ConfigurationError, match="unset or empty"):
            Keyring.from_env(environ=environ)


# ---------------------------------------------------------------------- construction


class TestConstruction:
    @pytest.mark.parametrize("keyring", [None, "", b"", b"short", "k" * 32, 42])
    def test_no_usable_key_is_an_error(self, memory: MemoryStore, keyring: object) -> None:
        with pytest.raises(ConfigurationError):
            EncryptedStore(memory, keyring)  # type: ignore[arg-type]

    def test_bare_key_means_single_keyring(self, memory: MemoryStore) -> None:
        store = EncryptedStore(memory, KEY1)
        assert store.keyring == Keyring.single(KEY1)

    def test_inner_must_be_a_store(self) -> None:
        with pytest.raises(ConfigurationError, match="inner"):
            EncryptedStore({}, Keyring.single(KEY1))  # type: ignore[arg-type]

    def test_keyring_assignment_is_checked(self, store: EncryptedStore) -> None:
        with pytest.raises(ConfigurationError):
            store.keyring = None  # type: ignore[assignment]
        assert store.keyring == Keyring.single(KEY1)

    def test_is_a_complete_store(self, store: EncryptedStore) -> None:
        assert isinstance(store, WrapperStore)
        assert isinstance(store, kvstore.KVStore)
        assert store.capabilities == store.inner.capabilities

    def test_repr_names_inner_and_key_ids_only(self, store: EncryptedStore) -> None:
        store.keyring = Keyring({1: KEY1, 2: KEY2, 6: KEY3})
        text = repr(store) + str(store)
        assert "EncryptedStore(MemoryStore(" in text
        assert "key_ids=[1, 2, 6], primary=6" in text
        assert_no_secret(text)

    def test_close_closes_inner(self, store: EncryptedStore) -> None:
        store.close()
        assert store.inner.closed
        with pytest.raises(StoreClosedError):
            store.put("k", b"v")
        with pytest.raises(StoreClosedError):
            store.get("k")


# ---------------------------------------------------------------------- envelope


class TestEnvelope:
    def test_layout(self, store: EncryptedStore) -> None:
        store.keyring = Keyring({1: KEY1, 0x01020304: KEY2})
        store.put("k", b"secret value")
        envelope = raw(store, "k")
        assert envelope[:3] == MAGIC == b"kve"
        assert envelope[3:5] == b"\x01\x01"
        assert struct.unpack(">I", envelope[5:9]) == (0x01020304,)
        assert HEADER_BYTES == 9 and NONCE_BYTES == 12 and OVERHEAD_BYTES == 37
        assert len(envelope) == len(b"secret value") + 37
        assert b"secret value" not in envelope

    def test_equal_values_get_different_ciphertexts(self, store: EncryptedStore) -> None:
        store.put("a", b"same")
        store.put("b", b"same")
        first = raw(store, "a")
        store.put("a", b"same")
        assert len({first, raw(store, "a"), raw(store, "b")}) == 3
        nonces = {first[9:21], raw(store, "a")[9:21], raw(store, "b")[9:21]}
        assert len(nonces) == 3

    def test_empty_value_round_trips(self, store: EncryptedStore) -> None:
        store.put("k", b"")
        assert store.get("k") == b""
        assert len(raw(store, "k")) == OVERHEAD_BYTES


# ---------------------------------------------------------------------- reads and writes


class TestValues:
    def test_every_read_decrypts(self, store: EncryptedStore) -> None:
        first = store.put("app/a", b"1")
        store.put("app/b", b"2")
        store.put("other", b"3")
        store.put("app/a", b"4")
        assert store.get("app/a") == b"4"
        kv = store.get_kv("app/a")
        assert kv is not None and kv.value == b"4" and kv.version == 2
        assert store.get_multiple("app/") == {"app/a": b"4", "app/b": b"2"}
        assert store.list_with_values("app/") == {"app/a": b"4", "app/b": b"2"}
        assert store.get_range("app/a", "other") == {"app/a": b"4", "app/b": b"2"}
        assert store.get_with_revision("app/a", first) == b"1"
        assert store.list("app/") == ["app/a", "app/b"]
        assert store.count("app/") == 2
        assert store.exists("other")

    def test_paged_reads_decrypt(self, store: EncryptedStore) -> None:
        store.range_page_size = 2
        store.bulk_put({f"k{i}": bytes([i]) * i for i in range(7)})
        assert store.get_multiple("k") == {f"k{i}": bytes([i]) * i for i in range(7)}

    def test_keys_only_and_count_only_skip_decryption(self, store: EncryptedStore) -> None:
        store.put("a", b"x")
        plant(store, "b", b"plaintext")
        keys = store.kv_range("a", "c", keys_only=True)
        assert [(kv.key, kv.value) for kv in keys.kvs] == [("a", b""), ("b", b"")]
        assert store.kv_range("a", "c", count_only=True).count == 2
        assert store.list("") == ["a", "b"]
        assert store.count("") == 2

    def test_prev_kv_of_put_and_delete(self, store: EncryptedStore) -> None:
        store.put("k", b"old")
        result = store.kv_put("k", b"new", prev_kv=True)
        assert result.prev_kv is not None and result.prev_kv.value == b"old"
        deleted = store.kv_delete_range("k", prev_kv=True)
        assert [kv.value for kv in deleted.prev_kvs] == [b"new"]
        assert store.kv_delete_range("k", prev_kv=True).prev_kvs == ()

    def test_leases_carry_through(self, store: EncryptedStore) -> None:
        lease = store.lease(10)
        store.put("k", b"v", lease=lease)
        kv = store.get_kv("k")
        assert kv is not None and kv.lease == lease.id
        assert list(lease.keys()) == ["k"]

    def test_conveniences(self, store: EncryptedStore) -> None:
        assert store.put_if_not_exists("k", b"1")
        assert not store.put_if_not_exists("k", b"2")
        assert store.compare_and_swap("k", b"1", b"3")
        assert not store.compare_and_swap("k", b"1", b"4")
        assert store.get("k") == b"3"
        store.bulk_put({"b1": b"x", "b2": b"y"})
        store.max_txn_ops = 2
        store.bulk_put({f"n{i}": b"z" for i in range(5)}, atomic=False)
        assert store.get_multiple("b") == {"b1": b"x", "b2": b"y"}
        assert store.get_multiple("n") == {f"n{i}": b"z" for i in range(5)}
        assert store.bulk_delete(["b1", "b2"]) == 2

    def test_move_key_reencrypts_under_the_new_name(self, store: EncryptedStore) -> None:
        lease = store.lease(30)
        store.put("old", b"value", lease=lease)
        before = raw(store, "old")
        store.move_key("old", "new")
        assert store.get("new") == b"value"
        assert not store.exists("old")
        after = raw(store, "new")
        assert after != before and after[:9] == before[:9]
        kv = store.get_kv("new")
        assert kv is not None and kv.lease == lease.id
        store.put("other", b"x")
        with pytest.raises(kvstore.KeyExistsError):
            store.move_key("new", "other", overwrite=False)


class TestSize:
    def test_largest_value_fits_and_one_more_byte_is_too_large(self, store: EncryptedStore) -> None:
        key = "big"
        largest = MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES - len(key) - OVERHEAD_BYTES
        store.put(key, b"x" * largest)
        assert store.get(key) == b"x" * largest
        revision = store.kv_range(key, count_only=True).revision
        with pytest.raises(ValueTooLargeError, match="once encrypted") as info:
            store.put(key, b"y" * (largest + 1))
        assert info.value.key == key
        assert f"at most {largest} bytes" in str(info.value)
        assert store.kv_range(key, count_only=True).revision == revision

    def test_a_value_the_plain_store_takes_gets_a_clear_error(self, store: EncryptedStore) -> None:
        value = b"x" * (MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES - 1)
        store.inner.put("k", value)  # fits unencrypted
        with pytest.raises(ValueTooLargeError, match="envelope adds 37 bytes"):
            store.put("k", value)

    def test_transaction_over_the_limit(self, store: EncryptedStore) -> None:
        value = b"x" * (MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES - 10)
        with pytest.raises(ValueTooLargeError, match="encrypted"):
            store.kv_txn([], [Put("k", value)], [])
        assert not store.exists("k")

    def test_inner_limit_is_used(self) -> None:
        small = MemoryStore(clock=ManualClock(), max_request_bytes=1024)
        store = EncryptedStore(small, Keyring.single(KEY1))
        fits = 1024 - REQUEST_OVERHEAD_BYTES - 1 - OVERHEAD_BYTES
        store.put("k", b"x" * fits)
        with pytest.raises(ValueTooLargeError):
            store.put("k", b"x" * (fits + 1))
        store.close()


class TestBadInput:
    @pytest.mark.parametrize("value", [None, "text", 5, [b"x"]])
    def test_non_bytes_value(self, store: EncryptedStore, value: object) -> None:
        with pytest.raises(InvalidArgumentError, match="values are bytes"):
            store.put("k", value)  # type: ignore[arg-type]
        assert not store.exists("k")

    @pytest.mark.parametrize("key", ["", None, 3, b"k"])
    def test_invalid_key(self, store: EncryptedStore, key: object) -> None:
        with pytest.raises(InvalidKeyError):
            store.put(key, b"v")  # type: ignore[arg-type]
        assert store.count("") == 0

    def test_bytes_like_values(self, store: EncryptedStore) -> None:
        store.put("a", bytearray(b"xy"))  # type: ignore[arg-type]
        store.put("b", memoryview(b"zw"))  # type: ignore[arg-type]
        assert store.get_multiple("") == {"a": b"xy", "b": b"zw"}

    def test_missing_key(self, store: EncryptedStore) -> None:
        with pytest.raises(KeyNotFoundError):
            store.get("missing")
        assert store.get_kv("missing") is None


# ---------------------------------------------------------------------- transactions


class TestTransactions:
    def test_puts_are_encrypted_and_gets_decrypted(self, store: EncryptedStore) -> None:
        store.put("a", b"1")
        result = (
            store.transaction()
            .if_(ModRevision("a") > 0)
            .then(
                Put("b", b"2"), Get("a"), Get("a", "c", keys_only=True), Get("a", count_only=True)
            )
            .commit()
        )
        assert result.succeeded
        put, get, keys_only, count_only = result.responses
        assert isinstance(put, PutResult)
        assert isinstance(get, RangeResult) and [kv.value for kv in get.kvs] == [b"1"]
        assert isinstance(keys_only, RangeResult)
        assert [(kv.key, kv.value) for kv in keys_only.kvs] == [("a", b""), ("b", b"")]
        assert isinstance(count_only, RangeResult) and count_only.count == 1
        assert store.get("b") == b"2"
        assert raw(store, "b")[:3] == MAGIC

    def test_failure_branch(self, store: EncryptedStore) -> None:
        store.put("a", b"1")
        result = store.kv_txn(
            [CreateRevision("a") == 0], [Put("a", b"no")], [Put("b", b"else"), Get("a")]
        )
        assert not result.succeeded
        get = result.responses[1]
        assert isinstance(get, RangeResult) and get.kvs[0].value == b"1"
        assert store.get("b") == b"else"
        assert raw(store, "b")[:3] == MAGIC

    def test_nested_transactions(self, store: EncryptedStore) -> None:
        store.put("a", b"1")
        inner_then = Txn([ModRevision("a") > 0], [Put("x", b"then"), Get("a")], [Put("y", b"e")])
        inner_else = Txn([ModRevision("a") == 0], [Put("z", b"then")], [Put("w", b"else")])
        result = store.kv_txn([], [inner_then, inner_else, Delete("a", prev_kv=True)], [])
        first, second, deleted = result.responses
        assert isinstance(first, TxnResult) and first.succeeded
        get = first.responses[1]
        assert isinstance(get, RangeResult) and get.kvs[0].value == b"1"
        assert isinstance(second, TxnResult) and not second.succeeded
        assert [kv.value for kv in deleted.prev_kvs] == [b"1"]  # type: ignore[union-attr]
        assert store.get_multiple("") == {"w": b"else", "x": b"then"}
        assert raw(store, "w")[:3] == raw(store, "x")[:3] == MAGIC

    def test_put_prev_kv_in_transaction(self, store: EncryptedStore) -> None:
        store.put("a", b"before")
        result = store.kv_txn([], [Put("a", b"after", prev_kv=True)], [])
        put = result.responses[0]
        assert isinstance(put, PutResult) and put.prev_kv is not None
        assert put.prev_kv.value == b"before"

    @pytest.mark.parametrize(
        "build",
        [
            lambda: ([Value("a") == b"1"], []),
            lambda: ([Value("a") != b"1"], []),
            lambda: ([Value("a", prefix=True) > b""], []),
            lambda: ([], [Txn([Value("a") == b"1"], [Put("b", b"x")], [])]),
            lambda: ([], [Txn([], [Txn([Value("a") < b"1"], [], [])], [])]),
        ],
    )
    def test_value_compares_are_refused(
        self,
        store: EncryptedStore,
        build: Callable[[], tuple[list[Compare], list[Op]]],
    ) -> None:
        store.put("a", b"1")
        revision = store.kv_range("a", count_only=True).revision
        compares, ops = build()
        with pytest.raises(UnsupportedCompareError, match="ciphertexts") as info:
            store.kv_txn(compares, [*ops, Put("c", b"x")], [])
        assert info.value.key == "a"
        assert isinstance(info.value, kvstore.TransactionError)
        assert store.kv_range("a", count_only=True).revision == revision

    def test_builder_value_compare_refused(self, store: EncryptedStore) -> None:
        with pytest.raises(UnsupportedCompareError):
            store.transaction().if_(Value("k") == b"v").then(Put("k", b"w")).commit()
        assert not store.exists("k")


# ---------------------------------------------------------------------- watches


class TestWatch:
    def test_events_are_decrypted(self, store: EncryptedStore) -> None:
        with store.watch_prefix("app/", prev_kv=True) as watch:
            store.put("app/a", b"1")
            store.put("app/a", b"2")
            store.delete("app/a")
            events = [watch.next_event(5) for _ in range(3)]
        assert [e.type for e in events if e] == [EventType.PUT, EventType.PUT, EventType.DELETE]
        put1, put2, deleted = events
        assert put1 is not None and put1.kv.value == b"1" and put1.prev_kv is None
        assert put2 is not None and put2.kv.value == b"2"
        assert put2.prev_kv is not None and put2.prev_kv.value == b"1"
        assert deleted is not None and deleted.kv.value == b""
        assert deleted.prev_kv is not None and deleted.prev_kv.value == b"2"

    def test_replay_from_revision(self, store: EncryptedStore) -> None:
        first = store.put("k", b"1")
        store.kv_txn([], [Put("k", b"2"), Put("j", b"3")], [])
        with store.watch_prefix("", start_revision=first) as watch:
            events = [watch.next_event(5) for _ in range(3)]
        assert [(e.kv.key, e.kv.value) for e in events if e] == [
            ("k", b"1"),
            ("k", b"2"),
            ("j", b"3"),
        ]

    def test_undecryptable_event_raises_and_the_watch_goes_on(self, store: EncryptedStore) -> None:
        with store.watch("k") as watch:
            plant(store, "k", b"plaintext")
            store.put("k", b"fine")
            with pytest.raises(DecryptionError, match="'k'"):
                watch.next_event(5)
            event = watch.next_event(5)
        assert event is not None and event.kv.value == b"fine"

    def test_callback_form(self, store: EncryptedStore) -> None:
        seen: list[bytes] = []
        arrived = threading.Event()

        def on_event(event: WatchEvent) -> None:
            seen.append(event.kv.value)
            arrived.set()

        watch = store.watch("k", callback=on_event)
        store.put("k", b"v")
        assert arrived.wait(5)
        watch.cancel()
        assert seen == [b"v"]


# ---------------------------------------------------------------------- failures


class TestFailures:
    def test_plaintext_is_refused(self, store: EncryptedStore) -> None:
        plant(store, "k", b"plaintext")
        with pytest.raises(DecryptionError, match="not encrypted") as info:
            store.get("k")
        assert info.value.key == "k"
        with pytest.raises(DecryptionError):
            store.get_multiple("")

    def test_value_copied_to_another_key(self, store: EncryptedStore) -> None:
        store.put("a", b"secret")
        plant(store, "b", raw(store, "a"))
        with pytest.raises(DecryptionError, match="failed authentication") as info:
            store.get("b")
        assert info.value.key == "b"

    def test_wrong_key(self, memory: MemoryStore) -> None:
        EncryptedStore(memory, Keyring.single(KEY1)).put("k", b"v")
        with pytest.raises(DecryptionError, match="failed authentication"):
            EncryptedStore(memory, Keyring.single(KEY2)).get("k")

    def test_unknown_key_id(self, memory: MemoryStore) -> None:
        EncryptedStore(memory, Keyring.single(KEY1, key_id=9)).put("k", b"v")
        with pytest.raises(DecryptionError, match="key id 9, which is not in the keyring"):
            EncryptedStore(memory, Keyring.single(KEY1)).get("k")

    @pytest.mark.parametrize(
        ("offset", "byte", "message"),
        [(3, 2, "envelope version 2"), (4, 7, "unknown algorithm 7"), (8, 2, "key id 2")],
    )
    def test_changed_header(
        self, store: EncryptedStore, offset: int, byte: int, message: str
    ) -> None:
        store.put("k", b"value")
        envelope = bytearray(raw(store, "k"))
        envelope[offset] = byte
        plant(store, "k", bytes(envelope))
        with pytest.raises(DecryptionError, match=message):
            store.get("k")

    def test_header_bound_even_for_a_known_key_id(self, memory: MemoryStore) -> None:
        keyring = Keyring({1: KEY1, 2: KEY1}, primary=1)  # same key under two ids
        store = EncryptedStore(memory, keyring)
        store.put("k", b"value")
        envelope = bytearray(raw(store, "k"))
        envelope[8] = 2
        plant(store, "k", bytes(envelope))
        with pytest.raises(DecryptionError, match="failed authentication"):
            store.get("k")

    def test_truncated(self, store: EncryptedStore) -> None:
        store.put("k", b"value")
        plant(store, "k", raw(store, "k")[:20])
        with pytest.raises(DecryptionError, match="truncated"):
            store.get("k")

    def test_allow_plaintext(self, memory: MemoryStore) -> None:
        store = EncryptedStore(memory, Keyring.single(KEY1), allow_plaintext=True)
        plant(store, "plain", b"legacy")
        plant(store, "empty", b"")
        store.put("new", b"sealed")
        assert store.get_multiple("") == {"empty": b"", "new": b"sealed", "plain": b"legacy"}
        assert raw(store, "new")[:3] == MAGIC
        plant(store, "corrupt", raw(store, "new")[:-1])
        with pytest.raises(DecryptionError, match="'corrupt'"):
            store.get("corrupt")
        plant(store, "moved", raw(store, "new"))
        with pytest.raises(DecryptionError, match="'moved'"):
            store.get("moved")

    def test_errors_from_every_path_name_the_key(self, store: EncryptedStore) -> None:
        store.put("a", b"1")
        plant(store, "k", b"plain")
        calls: list[Callable[[], object]] = [
            lambda: store.get("k"),
            lambda: store.get_kv("k"),
            lambda: store.get_range("a", "z"),
            lambda: store.kv_put("k", b"x", prev_kv=True),
        ]
        for call in calls:
            plant(store, "k", b"plain")
            with pytest.raises(DecryptionError) as info:
                call()
            assert info.value.key == "k"
        plant(store, "k", b"plain")
        with pytest.raises(DecryptionError):
            store.kv_delete_range("k", prev_kv=True)
        plant(store, "k", b"plain")
        with pytest.raises(DecryptionError):
            store.kv_txn([], [Get("k")], [])

    def test_errors_pickle(self, store: EncryptedStore) -> None:
        plant(store, "k", b"plain")
        with pytest.raises(DecryptionError) as info:
            store.get("k")
        copy_ = pickle.loads(pickle.dumps(info.value))
        assert (type(copy_), copy_.key, str(copy_)) == (DecryptionError, "k", str(info.value))


# ---------------------------------------------------------------------- composition


class TestComposition:
    def test_inside_a_namespace(self, memory: MemoryStore) -> None:
        store = EncryptedStore(NamespacedStore(memory, "ns/"), Keyring.single(KEY1))
        store.put("k", b"v")
        assert store.get("k") == b"v"
        assert memory.get("ns/k")[:3] == MAGIC
        # bound to the name the encrypted store sees ("k"), so it moves with the namespace
        other = EncryptedStore(NamespacedStore(memory, "other/"), Keyring.single(KEY1))
        memory.put("other/k", memory.get("ns/k"))
        assert other.get("k") == b"v"

    def test_around_a_namespace(self, memory: MemoryStore) -> None:
        store = NamespacedStore(EncryptedStore(memory, Keyring.single(KEY1)), "ns/")
        store.put("k", b"v")
        assert store.get("k") == b"v"
        memory.put("other/k", memory.get("ns/k"))
        with pytest.raises(DecryptionError):
            EncryptedStore(memory, Keyring.single(KEY1)).get("other/k")


# ---------------------------------------------------------------------- rotation


def key_ids(store: EncryptedStore, prefix: str = "") -> dict[str, int | None]:
    return {key: store.inspect(key).key_id for key in store.list(prefix)}


class TestRotation:
    def test_inspect_and_is_stale(self, store: EncryptedStore) -> None:
        store.put("k", b"v")
        info = store.inspect("k")
        assert (info.key, info.key_id, info.primary_key_id, info.stale) == ("k", 1, 1, False)
        store.keyring = store.keyring.rotate(2, KEY2)
        assert store.is_stale("k")
        with pytest.raises(KeyNotFoundError):
            store.inspect("missing")
        plant(store, "p", b"plain")
        with pytest.raises(DecryptionError):
            store.inspect("p")

    def test_old_values_read_after_rotation(self, store: EncryptedStore) -> None:
        store.put("old", b"1")
        store.keyring = store.keyring.rotate(2, KEY2)
        store.put("new", b"2")
        assert store.get_multiple("") == {"new": b"2", "old": b"1"}
        assert key_ids(store) == {"new": 2, "old": 1}

    def test_reencrypt_leaves_nothing_under_the_old_key(self, store: EncryptedStore) -> None:
        lease = store.lease(60)
        store.bulk_put({f"app/{i:02}": f"v{i}".encode() for i in range(20)})
        store.put("app/leased", b"L", lease=lease)
        store.put("outside", b"o")
        store.keyring = store.keyring.rotate(2, KEY2)
        store.put("app/05", b"fresh")
        calls: list[tuple[int, int]] = []
        report = store.reencrypt("app/", progress=lambda done, total: calls.append((done, total)))
        assert (report.key_id, report.examined, report.rewritten, report.current) == (2, 21, 20, 1)
        assert report.skipped == report.failed == () and report.complete
        assert set(key_ids(store, "app/").values()) == {2}
        assert key_ids(store, "outside") == {"outside": 1}
        assert calls[0] == (0, 21) and calls[-1] == (21, 21)
        assert [done for done, _ in calls] == sorted(done for done, _ in calls)
        assert store.get("app/07") == b"v7" and store.get("app/05") == b"fresh"
        kv = store.get_kv("app/leased")
        assert kv is not None and kv.lease == lease.id
        # the old key can go once nothing needs it
        store.keyring = store.keyring.without(1).add(1, KEY3).with_primary(2)
        assert store.get_multiple("app/")["app/leased"] == b"L"

    def test_reencrypt_again_rewrites_nothing(self, store: EncryptedStore) -> None:
        store.bulk_put({"a": b"1", "b": b"2"})
        store.keyring = store.keyring.rotate(2, KEY2)
        assert store.reencrypt("").rewritten == 2
        revision = store.kv_range("a", count_only=True).revision
        report = store.reencrypt("")
        assert (report.rewritten, report.current, report.revision) == (0, 2, 0)
        assert store.kv_range("a", count_only=True).revision == revision

    @pytest.mark.parametrize("batch_size", [1, 3, 64])
    def test_reencrypt_batches_and_pages(self, memory: MemoryStore, batch_size: int) -> None:
        memory.max_txn_ops = 4
        store = EncryptedStore(memory, Keyring.single(KEY1))
        store.range_page_size = 5
        store.bulk_put({f"k{i:02}": bytes([i]) for i in range(13)}, atomic=False)
        store.keyring = store.keyring.rotate(2, KEY2)
        report = store.reencrypt("", batch_size=batch_size)
        assert report.rewritten == 13
        assert set(key_ids(store).values()) == {2}
        assert store.get_multiple("") == {f"k{i:02}": bytes([i]) for i in range(13)}

    def test_concurrent_update_is_not_overwritten(self, memory: MemoryStore) -> None:
        old_writer = EncryptedStore(memory, Keyring.single(KEY1))
        old_writer.bulk_put({"a": b"1", "b": b"2", "c": b"3"})
        interfering = _BeforeFirstTxn(memory, lambda: old_writer.put("b", b"concurrent"))
        store = EncryptedStore(interfering, Keyring({1: KEY1, 2: KEY2}))
        report = store.reencrypt("")
        assert report.skipped == ("b",)
        assert report.rewritten == 2 and not report.failed
        assert store.get("b") == b"concurrent"
        assert key_ids(store) == {"a": 2, "b": 1, "c": 2}
        # a second run picks the straggler up
        assert store.reencrypt("").rewritten == 1

    def test_concurrent_delete_is_not_resurrected(self, memory: MemoryStore) -> None:
        EncryptedStore(memory, Keyring.single(KEY1)).put("a", b"1")
        interfering = _BeforeFirstTxn(memory, lambda: memory.delete("a"))
        store = EncryptedStore(interfering, Keyring({1: KEY1, 2: KEY2}))
        report = store.reencrypt("", batch_size=1)
        assert report.skipped == ("a",)
        assert not store.exists("a")

    def test_undecryptable_values_are_reported_and_left_alone(self, store: EncryptedStore) -> None:
        store.put("good", b"1")
        plant(store, "plain", b"plaintext")
        plant(store, "foreign", raw(store, "good"))
        EncryptedStore(store.inner, Keyring.single(KEY3, key_id=7)).put("unknown", b"x")
        store.keyring = store.keyring.rotate(2, KEY2)
        report = store.reencrypt("")
        assert report.failed == ("foreign", "plain", "unknown") and not report.complete
        assert report.rewritten == 1
        assert raw(store, "plain") == b"plaintext"

    def test_plaintext_migration(self, memory: MemoryStore) -> None:
        memory.bulk_put({"a": b"legacy-1", "b": b"legacy-2"})
        migrating = EncryptedStore(memory, Keyring.single(KEY1), allow_plaintext=True)
        assert migrating.inspect("a").key_id is None and migrating.is_stale("a")
        report = migrating.reencrypt("")
        assert report.rewritten == 2 and report.complete
        strict = EncryptedStore(memory, Keyring.single(KEY1))
        assert strict.get_multiple("") == {"a": b"legacy-1", "b": b"legacy-2"}

    def test_reencrypt_arguments(self, store: EncryptedStore) -> None:
        for batch_size in (0, -1, True, 1.5):
            with pytest.raises(InvalidArgumentError, match="batch_size"):
                store.reencrypt("", batch_size=batch_size)  # type: ignore[arg-type]
        with pytest.raises(InvalidKeyError):
            store.reencrypt(None)  # type: ignore[arg-type]
        calls: list[tuple[int, int]] = []
        report = store.reencrypt("", progress=lambda d, t: calls.append((d, t)))
        assert report.examined == 0 and calls and set(calls) == {(0, 0)}

    def test_progress_error_stops_the_run(self, store: EncryptedStore) -> None:
        store.put("a", b"1")
        store.keyring = store.keyring.rotate(2, KEY2)

        def stop(done: int, total: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            store.reencrypt("", progress=stop)
        assert store.inspect("a").key_id == 1


class _BeforeFirstTxn(WrapperStore):
    """An inner store that runs ``interfere`` once, right before the first transaction."""

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


# ---------------------------------------------------------------------- secrets


class TestSecrets:
    def test_no_key_material_in_errors_reprs_or_logs(
        self, memory: MemoryStore, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        keyring = Keyring({1: KEY1, 2: KEY2, 6: KEY3}, primary=1)
        store = EncryptedStore(memory, keyring)
        texts = [repr(store), str(store), repr(keyring), str(keyring)]
        store.put("a", b"v")
        store.keyring = keyring.with_primary(6)
        report = store.reencrypt("", progress=lambda d, t: None)
        texts.append(repr(report))
        texts.append(repr(store.inspect("a")))
        failures: list[Callable[[], object]] = [
            lambda: EncryptedStore(memory, KEY1[:31]),
            lambda: Keyring({1: KEY1 + b"x"}),
            lambda: Keyring.from_text("1:" + KEY1.decode()),
            lambda: Keyring({1: KEY1}).add(1, KEY2),
            lambda: EncryptedStore(memory, Keyring.single(KEY2)).get("a"),
            lambda: store.put("big", b"x" * MAX_REQUEST_BYTES),
            lambda: store.kv_txn([Value("a") == KEY1], [], []),
        ]
        for failure in failures:
            with pytest.raises(KVStoreError) as info:
                failure()
            error = info.value
            texts += [str(error), repr(error), repr(error.args), str(error.__cause__)]
        texts += [record.getMessage() for record in caplog.records]
        texts += [caplog.text]
        assert any("reencrypt" in record.getMessage() for record in caplog.records)
        for text in texts:
            assert_no_secret(text)

    def test_stored_bytes_hold_no_key_and_no_plaintext(self, store: EncryptedStore) -> None:
        store.put("k", b"PLAINTEXT-MARKER")
        stored = raw(store, "k")
        assert b"PLAINTEXT-MARKER" not in stored
        assert KEY1 not in stored


def test_public_names() -> None:
    for name in ("EncryptedStore", "Keyring", "EnvelopeInfo", "ReencryptReport"):
        assert name in kvstore.__all__
        assert getattr(kvstore, name) is getattr(kvstore.wrappers.encryption, name)


def test_envelope_info_is_frozen(store: EncryptedStore) -> None:
    store.put("k", b"v")
    info = store.inspect("k")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.key_id = 3  # type: ignore[misc]
