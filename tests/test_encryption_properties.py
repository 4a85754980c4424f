"""Property tests of EncryptedStore: round trips, and every tampering fails to decrypt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvstore import DecryptionError, EncryptedStore, Keyring
from kvstore.wrappers.encryption import OVERHEAD_BYTES
from kvstore_memory import ManualClock, MemoryStore

KEY1 = bytes(range(32))
KEY2 = bytes(range(100, 132))

keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
values = st.binary(max_size=600)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@contextmanager
def encrypted(keyring: Keyring | None = None, **options: bool) -> Iterator[EncryptedStore]:
    memory = MemoryStore(clock=ManualClock())
    try:
        yield EncryptedStore(memory, keyring or Keyring.single(KEY1), **options)
    finally:
        memory.close()


def flip(envelope: bytes, bit: int) -> bytes:
    changed = bytearray(envelope)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


@PROPERTY_SETTINGS
@given(key=keys, value=values)
def test_round_trip(key: str, value: bytes) -> None:
    with encrypted() as store:
        store.put(key, value)
        assert store.get(key) == value
        stored = store.inner.get(key)
        assert len(stored) == len(value) + OVERHEAD_BYTES
        assert store.get_multiple("") == {key: value}


@PROPERTY_SETTINGS
@given(key=keys, other=keys, value=values)
def test_a_value_copied_behind_the_store_fails_but_move_key_works(
    key: str, other: str, value: bytes
) -> None:
    if other == key:
        other += "/other"
    with encrypted() as store:
        store.put(key, value)
        store.inner.put(other, store.inner.get(key))
        with pytest.raises(DecryptionError) as info:
            store.get(other)
        assert info.value.key == other
        store.move_key(key, other)
        assert store.get(other) == value
        assert not store.exists(key)


@pytest.mark.parametrize("allow_plaintext", [False, True])
def test_every_single_bit_flip_fails(allow_plaintext: bool) -> None:
    with encrypted(allow_plaintext=allow_plaintext) as store:
        store.put("k", b"v")
        envelope = store.inner.get("k")
        # with allow_plaintext, a flip inside the magic makes the value look like
        # plaintext: that is the documented limit of the migration mode
        first = 24 if allow_plaintext else 0
        for bit in range(first, len(envelope) * 8):
            store.inner.put("k", flip(envelope, bit))
            with pytest.raises(DecryptionError):
                store.get("k")


@pytest.mark.parametrize("allow_plaintext", [False, True])
def test_every_truncation_fails(allow_plaintext: bool) -> None:
    with encrypted(allow_plaintext=allow_plaintext) as store:
        store.put("k", b"value")
        envelope = store.inner.get("k")
        shortest = 3 if allow_plaintext else 0
        for length in range(shortest, len(envelope)):
            store.inner.put("k", envelope[:length])
            with pytest.raises(DecryptionError):
                store.get("k")


@PROPERTY_SETTINGS
@given(key=keys, value=values, data=st.data())
def test_any_bit_flip_fails(key: str, value: bytes, data: st.DataObject) -> None:
    with encrypted() as store:
        store.put(key, value)
        envelope = store.inner.get(key)
        bit = data.draw(st.integers(0, len(envelope) * 8 - 1), label="bit")
        store.inner.put(key, flip(envelope, bit))
        with pytest.raises(DecryptionError):
            store.get(key)


@PROPERTY_SETTINGS
@given(key=keys, value=values, data=st.data())
def test_any_truncation_or_extension_fails(key: str, value: bytes, data: st.DataObject) -> None:
    with encrypted() as store:
        store.put(key, value)
        envelope = store.inner.get(key)
        cut = data.draw(st.integers(0, len(envelope) - 1), label="length")
        store.inner.put(key, envelope[:cut])
        with pytest.raises(DecryptionError):
            store.get(key)
        extra = data.draw(st.binary(min_size=1, max_size=16), label="extra")
        store.inner.put(key, envelope + extra)
        with pytest.raises(DecryptionError):
            store.get(key)


@PROPERTY_SETTINGS
@given(key=keys, value=values)
def test_wrong_key_fails(key: str, value: bytes) -> None:
    with encrypted() as store:
        store.put(key, value)
        other = EncryptedStore(store.inner, Keyring.single(KEY2))
        with pytest.raises(DecryptionError):
            other.get(key)


@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d/e", "d/f"]), values, st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_rotations_keep_every_value_readable(writes: list[tuple[str, bytes, bool]]) -> None:
    """Random writes interleaved with rotations; reencrypt then leaves only the primary."""
    keyring = Keyring.single(KEY1)
    expected: dict[str, bytes] = {}
    with encrypted(keyring) as store:
        for key, value, rotate in writes:
            if rotate:
                new_id = store.keyring.primary + 1
                store.keyring = store.keyring.rotate(new_id, bytes([new_id]) * 32)
            store.put(key, value)
            expected[key] = value
            assert store.get_multiple("") == dict(sorted(expected.items()))
        report = store.reencrypt("")
        assert report.complete and not report.skipped
        assert report.rewritten + report.current == len(expected)
        assert {store.inspect(key).key_id for key in expected} == {store.keyring.primary}
        assert store.get_multiple("") == dict(sorted(expected.items()))
