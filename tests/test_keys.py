"""Keys, ranges and the shared argument checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvstore.errors import InvalidArgumentError, InvalidKeyError, ValueTooLargeError
from kvstore.keys import (
    ALL_KEYS,
    MAX_REQUEST_BYTES,
    REQUEST_OVERHEAD_BYTES,
    check_key,
    check_revision,
    check_ttl,
    check_value,
    check_value_size,
    prefix_range_end,
)

utf8_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


@given(prefix=utf8_text.filter(bool), key=utf8_text)
def test_prefix_range_end_selects_exactly_the_prefixed_keys(prefix: str, key: str) -> None:
    end = prefix_range_end(prefix)
    in_range = prefix <= key and (end == ALL_KEYS or key < end)
    assert in_range == key.startswith(prefix)
    # the order of str is the order of the UTF-8 encodings, so etcd agrees with Python
    assert (prefix.encode() <= key.encode()) == (prefix <= key)


def test_prefix_range_end_edges() -> None:
    assert prefix_range_end("") == ALL_KEYS
    assert prefix_range_end("a") == "b"
    assert prefix_range_end("a\U0010ffff") == "b"
    assert prefix_range_end("\U0010ffff") == ALL_KEYS
    assert prefix_range_end("\ud7ff") == "\ue000"


@pytest.mark.parametrize("key", ["", None, b"k", 1, "\ud800"])
def test_bad_keys_are_refused(key: object) -> None:
    with pytest.raises(InvalidKeyError):
        check_key(key, operation="put")


def test_values_are_bytes() -> None:
    assert check_value(bytearray(b"x"), operation="put") == b"x"
    for value in (None, "text", 1):
        with pytest.raises(InvalidArgumentError):
            check_value(value, operation="put")


def test_value_size_limit_is_exact() -> None:
    limit = MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES
    check_value_size("k", b"x" * (limit - 1), operation="put")
    with pytest.raises(ValueTooLargeError) as info:
        check_value_size("k", b"x" * limit, operation="put")
    assert info.value.key == "k"


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "3", None])
def test_revisions_and_ttls_are_positive_ints(bad: object) -> None:
    with pytest.raises(InvalidArgumentError):
        check_revision(bad, operation="get")
    with pytest.raises(InvalidArgumentError):
        check_ttl(bad, operation="lease")
