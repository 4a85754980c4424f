"""The error tree: one root, keys and operations carried, pickling, no secrets."""

from __future__ import annotations

import pickle

import pytest

import kvstore
from kvstore import errors


def test_every_error_derives_from_the_root_and_is_exported() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.KVStoreError)
        assert getattr(kvstore, name) is cls


def test_key_not_found_is_a_key_error_with_a_plain_message() -> None:
    error = errors.KeyNotFoundError("get: key 'a' not found", key="a", operation="get")
    assert isinstance(error, KeyError)
    assert str(error) == "get: key 'a' not found"


@pytest.mark.parametrize(
    "error",
    [
        errors.KeyNotFoundError("m", key="k", operation="get"),
        errors.CompactedError("m", compact_revision=7, key="k", operation="range"),
        errors.BackendNotFoundError("m", scheme="x", known=("etcd",)),
        errors.PluginLoadError("m", plugin="broken"),
        errors.LockTimeoutError("m", key="lock"),
    ],
)
def test_errors_pickle_with_their_attributes(error: errors.KVStoreError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_timeouts_are_timeout_errors() -> None:
    assert issubclass(errors.LockTimeoutError, TimeoutError)
    assert issubclass(errors.OperationTimeoutError, TimeoutError)
    assert issubclass(errors.InvalidKeyError, ValueError)
