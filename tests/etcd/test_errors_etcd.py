"""The etcd backend words its errors as the memory backend does (SPEC 8).

Each case runs the same call on a ``MemoryStore`` and on an ``EtcdStore`` against a real
etcd and compares the two errors: same class, same operation, and a message that names the
lease (in hex), the revision or the key. etcd's own text ("etcdserver: ...") is the
``__cause__``, never the message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import grpc
import pytest

from kvstore.base import BaseStore
from kvstore.errors import (
    AuthenticationError,
    InvalidArgumentError,
    KVStoreError,
    LeaseNotFoundError,
    PermissionDeniedError,
)
from kvstore_etcd import EtcdConfig, EtcdStore
from kvstore_etcd._errors import _WORDING, map_errors, translate, translate_cancel_reason
from kvstore_memory import MemoryStore

pytestmark = pytest.mark.etcd

UNKNOWN_LEASE = 0x1234
FAR_REVISION = 1_000_000
COMPACT_REVISION = 99_999


class _FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    """A gRPC error as the channel raises it (code and details)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.fixture
def memory() -> Iterator[MemoryStore]:
    store = MemoryStore()
    try:
        yield store
    finally:
        store.close()


def _errors_of(
    call: Callable[[BaseStore], object], memory: MemoryStore, etcd: EtcdStore
) -> tuple[KVStoreError, KVStoreError]:
    """The errors ``call`` raises on each backend, after the same single put on both."""
    found: list[KVStoreError] = []
    for store in (memory, etcd):
        store.put("a", b"1")
        with pytest.raises(KVStoreError) as info:
            call(store)
        found.append(info.value)
    return found[0], found[1]


def _assert_alike(memory_error: KVStoreError, etcd_error: KVStoreError, operation: str) -> None:
    assert type(etcd_error) is type(memory_error)
    assert etcd_error.operation == memory_error.operation == operation
    assert etcd_error.key == memory_error.key
    assert str(etcd_error).startswith(f"{operation}: ")
    assert "etcdserver" not in str(etcd_error)
    assert isinstance(etcd_error.__cause__, grpc.RpcError)


# -- memory and etcd, side by side ------------------------------------------------------


def test_revoking_an_unknown_lease_reads_alike(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.revoke_lease(UNKNOWN_LEASE), memory, etcd_store
    )
    _assert_alike(memory_error, etcd_error, "lease_revoke")
    assert isinstance(etcd_error, LeaseNotFoundError)
    assert "not found" in str(etcd_error)


def test_revoking_an_unknown_lease_names_it(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.revoke_lease(UNKNOWN_LEASE), memory, etcd_store
    )
    assert str(etcd_error) == str(memory_error) == "lease_revoke: lease 0x1234 not found"


def test_put_with_an_unknown_lease_reads_alike(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.put("k", b"v", lease=UNKNOWN_LEASE), memory, etcd_store
    )
    _assert_alike(memory_error, etcd_error, "put")
    assert etcd_error.key == "k"
    assert "'k'" in str(etcd_error) and "not found" in str(etcd_error)


def test_put_with_an_unknown_lease_names_it(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.put("k", b"v", lease=UNKNOWN_LEASE), memory, etcd_store
    )
    assert str(etcd_error) == str(memory_error) == "put: lease 0x1234 for key 'k' not found"


def test_read_at_a_future_revision_reads_alike(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.kv_range("k", revision=FAR_REVISION), memory, etcd_store
    )
    _assert_alike(memory_error, etcd_error, "range")
    assert isinstance(etcd_error, InvalidArgumentError)
    assert "in the future" in str(etcd_error) and "'k'" in str(etcd_error)


def test_read_at_a_future_revision_names_it(memory: MemoryStore, etcd_store: EtcdStore) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.kv_range("k", revision=FAR_REVISION), memory, etcd_store
    )
    common = f"range: revision {FAR_REVISION} is in the future"
    assert str(memory_error).startswith(common) and str(etcd_error).startswith(common)


def test_compacting_at_a_future_revision_reads_alike(
    memory: MemoryStore, etcd_store: EtcdStore
) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.compact_revision(COMPACT_REVISION), memory, etcd_store
    )
    _assert_alike(memory_error, etcd_error, "compact")
    assert isinstance(etcd_error, InvalidArgumentError)
    assert "in the future" in str(etcd_error)


def test_compacting_at_a_future_revision_names_it(
    memory: MemoryStore, etcd_store: EtcdStore
) -> None:
    memory_error, etcd_error = _errors_of(
        lambda store: store.compact_revision(COMPACT_REVISION), memory, etcd_store
    )
    common = f"compact: revision {COMPACT_REVISION} is in the future"
    assert str(memory_error).startswith(common) and str(etcd_error).startswith(common)


def test_credentials_for_an_etcd_without_auth(etcd_endpoints: list[str]) -> None:
    canary = "canary-password-5f1e"
    config = EtcdConfig(
        endpoints=etcd_endpoints, username="alice", password=canary, request_timeout=5.0
    )
    with EtcdStore(config) as store, pytest.raises(AuthenticationError) as info:
        store.put("k", b"v")
    message = str(info.value)
    assert message.startswith("put: authentication failed: ")
    assert "does not have authentication enabled" in message and "'k'" in message
    assert "etcdserver" not in message and canary not in message
    cause = info.value.__cause__
    assert isinstance(cause, grpc.RpcError)
    assert "etcdserver: authentication is not enabled" in cause.details()


# -- the translation itself --------------------------------------------------------------


@pytest.mark.parametrize("etcd_text", sorted(_WORDING))
def test_every_known_etcd_text_gets_kvstore_wording(etcd_text: str) -> None:
    for key in ("k", None):
        error = translate(
            _FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, f"etcdserver: {etcd_text}"),
            operation="op",
            key=key,
            endpoint="127.0.0.1:2379",
            lease=UNKNOWN_LEASE,
            revision=FAR_REVISION,
        )
        message = str(error)
        assert message.startswith("op: ")
        assert "etcdserver" not in message and "{" not in message
        assert error.operation == "op" and error.key == key
        if key is not None:
            assert "'k'" in message


def test_unknown_etcd_text_is_kept_without_the_etcdserver_prefix() -> None:
    error = translate(
        _FakeRpcError(grpc.StatusCode.FAILED_PRECONDITION, "etcdserver: something new"),
        operation="put",
        key="k",
        endpoint="127.0.0.1:2379",
    )
    assert str(error) == "put: etcd at 127.0.0.1:2379: something new (key 'k')"


@pytest.mark.parametrize(
    ("details", "key", "lease", "revision", "expected"),
    [
        (
            "etcdserver: requested lease not found",
            None,
            UNKNOWN_LEASE,
            None,
            "lease_revoke: lease 0x1234 not found",
        ),
        (
            "etcdserver: requested lease not found",
            "k",
            UNKNOWN_LEASE,
            None,
            "lease_revoke: lease 0x1234 for key 'k' not found",
        ),
        (
            "etcdserver: requested lease not found",
            None,
            None,
            None,
            "lease_revoke: lease not found",
        ),
        (
            "etcdserver: mvcc: required revision is a future revision",
            "k",
            None,
            FAR_REVISION,
            f"lease_revoke: revision {FAR_REVISION} is in the future (key 'k')",
        ),
        (
            "etcdserver: lease already exists",
            None,
            UNKNOWN_LEASE,
            None,
            "lease_revoke: lease 0x1234 already exists",
        ),
        (
            "etcdserver: permission denied",
            "k",
            None,
            None,
            "lease_revoke: permission denied on 'k'",
        ),
    ],
)
def test_translate_names_the_lease_revision_and_key(
    details: str, key: str | None, lease: int | None, revision: int | None, expected: str
) -> None:
    original = _FakeRpcError(grpc.StatusCode.NOT_FOUND, details)
    with (
        pytest.raises(KVStoreError) as info,
        map_errors("lease_revoke", key=key, lease=lease, revision=revision),
    ):
        raise original
    assert str(info.value) == expected
    assert info.value.__cause__ is original


def test_a_watch_cancelled_for_permission_names_the_key() -> None:
    error = translate_cancel_reason(
        "etcdserver: permission denied", compact_revision=0, key="w/k", revision=None
    )
    assert isinstance(error, PermissionDeniedError)
    assert str(error) == "watch: permission denied on 'w/k'"
