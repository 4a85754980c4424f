"""``CompressedStore``: what it stores, what it reads back, what it refuses."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvstore import (
    CompressedStore,
    CompressionError,
    ConfigurationError,
    EncryptedStore,
    Keyring,
    NamespacedStore,
    UnsupportedCompareError,
)
from kvstore.txn import Put, Value
from kvstore.wrappers._sync.compression import MAGIC
from kvstore_memory import MemoryStore

BIG = b"abcdefgh" * 512


@pytest.fixture
def memory() -> Iterator[MemoryStore]:
    store = MemoryStore()
    yield store
    store.close()


@pytest.fixture
def store(memory: MemoryStore) -> CompressedStore:
    return CompressedStore(memory, threshold=64)


def test_large_values_are_stored_compressed(store: CompressedStore, memory: MemoryStore) -> None:
    store.put("k", BIG)
    stored = memory.get("k")
    assert stored.startswith(MAGIC + b"\x01")
    assert zlib.decompress(stored[5:]) == BIG
    assert len(stored) < len(BIG) // 10
    assert store.get("k") == BIG


def test_small_and_incompressible_values_are_stored_as_they_are(
    store: CompressedStore, memory: MemoryStore
) -> None:
    noise = random.Random(0).randbytes(512)  # zlib cannot shrink it
    store.bulk_put({"small": b"tiny", "noise": noise})
    assert memory.get("small") == b"tiny"
    assert memory.get("noise") == noise
    assert store.get_multiple("") == {"noise": noise, "small": b"tiny"}


def test_values_written_before_compression_still_read(memory: MemoryStore) -> None:
    memory.put("old", BIG)
    assert CompressedStore(memory).get("old") == BIG


def test_a_value_that_looks_like_the_header_round_trips(
    store: CompressedStore, memory: MemoryStore
) -> None:
    tricky = MAGIC + b"\x01not zlib"
    store.put("k", tricky)
    assert memory.get("k") == MAGIC + b"\x00" + tricky
    assert store.get("k") == tricky


@pytest.mark.parametrize("stored", [MAGIC + b"\x01garbage", MAGIC + b"\x07x"])
def test_a_corrupt_value_raises_compression_error(
    store: CompressedStore, memory: MemoryStore, stored: bytes
) -> None:
    memory.put("k", stored)
    with pytest.raises(CompressionError) as info:
        store.get("k")
    assert info.value.key == "k" and info.value.operation == "range"


def test_value_compares_are_refused_and_compare_and_swap_works(store: CompressedStore) -> None:
    store.put("k", BIG)
    revision = store.kv_range("k").revision
    with pytest.raises(UnsupportedCompareError):
        store.kv_txn([Value("k") == BIG], [Put("k", b"x")], [])
    assert store.kv_range("k").revision == revision
    assert store.compare_and_swap("k", BIG, BIG + b"!") is True
    assert store.get("k") == BIG + b"!"


def test_transactions_and_watches_see_values(store: CompressedStore) -> None:
    watch = store.watch_prefix("w/", start_revision=store.kv_range("k").revision + 1)
    result = store.kv_txn([], [Put("w/a", BIG, prev_kv=True)], [])
    assert result.succeeded
    events = [next(iter(watch))]
    watch.cancel()
    assert events[0].kv.value == BIG


def test_composes_under_namespace_and_over_encryption(memory: MemoryStore) -> None:
    key = bytes(range(32))
    store = NamespacedStore(CompressedStore(EncryptedStore(memory, Keyring.single(key))), "a/")
    store.put("k", BIG)
    assert store.get("k") == BIG
    assert memory.get("a/k").startswith(b"kve")  # encrypted last, after compression
    assert len(memory.get("a/k")) < len(BIG)


@pytest.mark.parametrize(
    "options", [{"level": 10}, {"level": -1}, {"level": True}, {"threshold": -1}]
)
def test_bad_options_are_refused(memory: MemoryStore, options: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        CompressedStore(memory, **options)


@settings(max_examples=200, deadline=None)
@given(value=st.binary(max_size=4096) | st.builds(lambda n: b"z" * n, st.integers(0, 5000)))
def test_every_value_round_trips(value: bytes) -> None:
    with MemoryStore() as memory:
        store = CompressedStore(memory, threshold=0)
        store.put("k", value)
        assert store.get("k") == value
        assert len(memory.get("k")) <= len(value) + 5
