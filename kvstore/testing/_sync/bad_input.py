# Generated from kvstore/testing/_async/bad_input.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``BadInputConformance``: every rejected call gets its typed error and changes nothing.

The cases are tables (SPEC section 12, "Bad input"); each runs against a store seeded
with a few keys, and the whole store (keys, values, versions, revisions, leases and the
store revision) must be identical before and after the rejected call.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from kvstore._sync.base import BaseStore
from kvstore._sync.lease import Lease
from kvstore.errors import (
    DuplicateKeyError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KVStoreError,
    LeaseNotFoundError,
    StoreClosedError,
    TransactionTooLargeError,
    ValueTooLargeError,
)
from kvstore.keys import MAX_REQUEST_BYTES, REQUEST_OVERHEAD_BYTES
from kvstore.testing._sync._support import (
    ConformanceBase,
    current_revision,
    requires,
    settle,
    snapshot,
)
from kvstore.testing._sync.lease import UNKNOWN_LEASE_ID
from kvstore.txn import Delete, Get, Put, Txn, Value, Version

__all__ = ["BAD_INPUT_CASES", "CLOSED_STORE_CASES", "BadInputCase", "BadInputConformance"]

SEED = {"seed/a": b"1", "seed/b": b"2", "seed/c": b"3"}


@attrs.frozen
class BadInputCase:
    """One rejected call.

    Attributes:
        name: The test id.
        call: Makes the call on a seeded store.
        error: The error class it must raise.
        capabilities: What the store needs for the case to apply.
    """

    name: str
    call: Callable[[BaseStore], object]
    error: type[KVStoreError]
    capabilities: tuple[str, ...] = ()


def _too_large(key: str) -> bytes:
    return b"x" * (MAX_REQUEST_BYTES - REQUEST_OVERHEAD_BYTES - len(key.encode()) + 1)


def _future(store: BaseStore) -> int:
    return current_revision(store) + 1000


def _get_with_future_revision(store: BaseStore) -> bytes:
    return store.get_with_revision("seed/a", _future(store))


def _range_at_future_revision(store: BaseStore) -> object:
    return store.kv_range("seed/a", revision=_future(store))


def _compact_future_revision(store: BaseStore) -> None:
    store.compact_revision(_future(store))


def _too_many_puts(store: BaseStore) -> list[Put | Get | Delete | Txn]:
    return [Put(f"txn/{index:03d}", b"v") for index in range(store.max_txn_ops + 1)]


def _case(
    name: str,
    call: Callable[[BaseStore], object],
    error: type[KVStoreError],
    *capabilities: str,
) -> BadInputCase:
    return BadInputCase(name, call, error, capabilities)


BAD_INPUT_CASES: tuple[BadInputCase, ...] = (
    # keys
    _case("put-empty-key", lambda s: s.put("", b"v"), InvalidKeyError),
    _case("put-bytes-key", lambda s: s.put(b"seed/a", b"v"), InvalidKeyError),  # type: ignore[arg-type]
    _case("put-int-key", lambda s: s.put(1, b"v"), InvalidKeyError),  # type: ignore[arg-type]
    _case("put-none-key", lambda s: s.put(None, b"v"), InvalidKeyError),  # type: ignore[arg-type]
    _case("put-surrogate-key", lambda s: s.put("bad\udc80", b"v"), InvalidKeyError),
    _case("get-empty-key", lambda s: s.get(""), InvalidKeyError),
    _case("get-non-str-key", lambda s: s.get(b"seed/a"), InvalidKeyError),  # type: ignore[arg-type]
    _case("get-kv-empty-key", lambda s: s.get_kv(""), InvalidKeyError),
    _case("exists-empty-key", lambda s: s.exists(""), InvalidKeyError),
    _case("delete-empty-key", lambda s: s.delete(""), InvalidKeyError),
    _case("delete-non-str-key", lambda s: s.delete(7), InvalidKeyError),  # type: ignore[arg-type]
    _case("list-non-str-prefix", lambda s: s.list(None), InvalidKeyError),  # type: ignore[arg-type]
    _case("count-non-str-prefix", lambda s: s.count(b"seed"), InvalidKeyError),  # type: ignore[arg-type]
    _case(
        "delete-prefix-non-str",
        lambda s: s.delete_prefix(b"seed/"),  # type: ignore[arg-type]
        InvalidKeyError,
    ),
    _case("delete-prefix-all-refused", lambda s: s.delete_prefix(""), InvalidArgumentError),
    _case("get-range-empty-start", lambda s: s.get_range("", "z"), InvalidKeyError),
    _case("move-key-empty-target", lambda s: s.move_key("seed/a", ""), InvalidKeyError),
    _case("move-key-same-key", lambda s: s.move_key("seed/a", "seed/a"), InvalidArgumentError),
    _case("watch-empty-key", lambda s: s.watch(""), InvalidKeyError, "watch"),
    # values
    _case("put-none-value", lambda s: s.put("seed/a", None), InvalidArgumentError),  # type: ignore[arg-type]
    _case("put-str-value", lambda s: s.put("seed/a", "text"), InvalidArgumentError),  # type: ignore[arg-type]
    _case("put-int-value", lambda s: s.put("new", 5), InvalidArgumentError),  # type: ignore[arg-type]
    _case(
        "put-value-one-byte-over-limit",
        lambda s: s.put("seed/a", _too_large("seed/a")),
        ValueTooLargeError,
    ),
    _case(
        "txn-put-value-over-limit",
        lambda s: s.kv_txn([], [Put("seed/a", _too_large("seed/a"))], []),
        ValueTooLargeError,
    ),
    _case(
        "bulk-put-one-bad-value",
        lambda s: s.bulk_put({"bulk/a": b"ok", "bulk/b": None}),  # type: ignore[dict-item]
        InvalidArgumentError,
    ),
    _case(
        "bulk-put-one-bad-key",
        lambda s: s.bulk_put({"bulk/a": b"ok", "": b"v"}),
        InvalidKeyError,
    ),
    _case(
        "compare-and-swap-none-new",
        lambda s: s.compare_and_swap("seed/a", b"1", None),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "put-if-not-exists-none-value",
        lambda s: s.put_if_not_exists("new", None),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "compare-and-swap-none-old",
        lambda s: s.compare_and_swap("seed/a", None, b"x"),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "bulk-put-not-a-mapping",
        lambda s: s.bulk_put([("bulk/a", b"v")]),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "bulk-delete-single-str",
        lambda s: s.bulk_delete("seed/a"),
        InvalidKeyError,
    ),
    _case(
        "range-non-int-limit",
        lambda s: s.kv_range("seed/", "seed0", limit="2"),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "keys-with-prefix-non-int-limit",
        lambda s: s.get_keys_with_prefix("seed/", 1.5),  # type: ignore[arg-type]
        InvalidArgumentError,
    ),
    _case(
        "watch-callback-not-callable",
        lambda s: s.watch("seed/a", callback=5),  # type: ignore[arg-type]
        InvalidArgumentError,
        "watch",
    ),
    _case(
        "revoke-lease-none",
        lambda s: s.revoke_lease(None),  # type: ignore[arg-type]
        InvalidArgumentError,
        "leases",
    ),
    # transactions
    _case(
        "txn-129-ops",
        lambda s: s.kv_txn([], _too_many_puts(s), []),
        TransactionTooLargeError,
    ),
    _case(
        "txn-129-ops-in-else",
        lambda s: s.kv_txn([Value("seed/a") == b"nope"], [], _too_many_puts(s)),
        TransactionTooLargeError,
    ),
    _case(
        "builder-129-ops",
        lambda s: s.transaction().then(*_too_many_puts(s)).commit(),
        TransactionTooLargeError,
    ),
    _case(
        "txn-duplicate-put",
        lambda s: s.kv_txn([], [Put("seed/a", b"x"), Put("seed/a", b"y")], []),
        DuplicateKeyError,
    ),
    _case(
        "txn-put-in-deleted-range",
        lambda s: s.kv_txn([], [Delete.prefix("seed/"), Put("seed/b", b"y")], []),
        DuplicateKeyError,
    ),
    _case(
        "bulk-put-129-keys",
        lambda s: s.bulk_put({f"bulk/{i:03d}": b"v" for i in range(s.max_txn_ops + 1)}),
        TransactionTooLargeError,
    ),
    _case(
        "bulk-delete-129-keys",
        lambda s: s.bulk_delete([*SEED, *(f"bulk/{i:03d}" for i in range(s.max_txn_ops))]),
        TransactionTooLargeError,
    ),
    _case(
        "txn-compare-wrong-operand",
        lambda s: s.kv_txn([Version("seed/a") == b"1"], [], []),
        InvalidArgumentError,
    ),
    # revisions
    _case(
        "get-with-negative-revision",
        lambda s: s.get_with_revision("seed/a", -1),
        InvalidArgumentError,
    ),
    _case(
        "get-with-zero-revision", lambda s: s.get_with_revision("seed/a", 0), InvalidArgumentError
    ),
    _case(
        "get-with-future-revision",
        _get_with_future_revision,
        InvalidArgumentError,
        "history",
    ),
    _case(
        "range-negative-revision", lambda s: s.kv_range("seed/a", revision=-1), InvalidArgumentError
    ),
    _case(
        "range-future-revision",
        _range_at_future_revision,
        InvalidArgumentError,
        "history",
    ),
    _case(
        "watch-negative-revision",
        lambda s: s.watch("seed/a", start_revision=-1),
        InvalidArgumentError,
        "watch",
    ),
    _case(
        "compact-negative-revision",
        lambda s: s.compact_revision(-1),
        InvalidArgumentError,
        "history",
    ),
    _case(
        "compact-future-revision",
        _compact_future_revision,
        InvalidArgumentError,
        "history",
    ),
    # leases
    _case("lease-ttl-zero", lambda s: s.lease(0), InvalidArgumentError, "leases"),
    _case("lease-ttl-negative", lambda s: s.lease(-1), InvalidArgumentError, "leases"),
    _case(
        "put-unknown-lease",
        lambda s: s.put("seed/a", b"x", lease=UNKNOWN_LEASE_ID),
        LeaseNotFoundError,
        "leases",
    ),
    _case(
        "txn-put-unknown-lease",
        lambda s: s.kv_txn([], [Put("seed/a", b"x"), Put("n", b"x", lease=UNKNOWN_LEASE_ID)], []),
        LeaseNotFoundError,
        "leases",
    ),
    _case(
        "revoke-unknown-lease",
        lambda s: s.revoke_lease(UNKNOWN_LEASE_ID),
        LeaseNotFoundError,
        "leases",
    ),
    _case(
        "refresh-unknown-lease",
        lambda s: s.lease_keepalive_once(UNKNOWN_LEASE_ID),
        LeaseNotFoundError,
        "leases",
    ),
    # refused by the semantics of the call, not by a check
    _case("move-key-missing-source", lambda s: s.move_key("missing", "new"), KeyNotFoundError),
    _case(
        "move-key-existing-target",
        lambda s: s.move_key("seed/a", "seed/b", overwrite=False),
        KeyExistsError,
    ),
)

CLOSED_STORE_CASES: tuple[BadInputCase, ...] = (
    _case("get", lambda s: s.get("seed/a"), StoreClosedError),
    _case("get-kv", lambda s: s.get_kv("seed/a"), StoreClosedError),
    _case("put", lambda s: s.put("seed/a", b"x"), StoreClosedError),
    _case("delete", lambda s: s.delete("seed/a"), StoreClosedError),
    _case("delete-prefix", lambda s: s.delete_prefix("seed/"), StoreClosedError),
    _case("exists", lambda s: s.exists("seed/a"), StoreClosedError),
    _case("count", lambda s: s.count(""), StoreClosedError),
    _case("list", lambda s: s.list(""), StoreClosedError),
    _case("get-multiple", lambda s: s.get_multiple(""), StoreClosedError),
    _case("txn", lambda s: s.kv_txn([], [Put("seed/a", b"x")], []), StoreClosedError),
    _case("bulk-put", lambda s: s.bulk_put({"a": b"x"}), StoreClosedError),
    _case("put-if-not-exists", lambda s: s.put_if_not_exists("n", b"x"), StoreClosedError),
    _case("watch", lambda s: s.watch("seed/a"), StoreClosedError, "watch"),
    _case("lease", lambda s: s.lease(5), StoreClosedError, "leases"),
    _case("get-with-revision", lambda s: s.get_with_revision("seed/a", 1), StoreClosedError),
    _case("compact", lambda s: s.compact_revision(1), StoreClosedError, "history"),
)


def _ids(cases: tuple[BadInputCase, ...]) -> list[str]:
    return [case.name for case in cases]


class BadInputConformance(ConformanceBase):
    """Bad input gets the same typed error on every backend, and nothing stored changes."""

    def _seed_bad_input(self, store: BaseStore) -> Lease | None:
        store.bulk_put(SEED)
        store.put("seed/a", b"1")  # version 2, so a changed version would show
        if "leases" not in store.capabilities:
            return None
        lease = store.lease(300)
        store.put("seed/leased", b"l", lease=lease)
        return lease

    @pytest.mark.parametrize("case", BAD_INPUT_CASES, ids=_ids(BAD_INPUT_CASES))
    def test_rejected_and_nothing_changes(self, store: BaseStore, case: BadInputCase) -> None:
        requires(store, *case.capabilities)
        lease = self._seed_bad_input(store)
        leases = set(store.lease_leases()) if lease is not None else set()
        before = snapshot(store)
        try:
            with pytest.raises(case.error):
                settle(case.call(store))
            assert snapshot(store) == before
            if lease is not None:
                assert set(store.lease_leases()) == leases
        finally:
            if lease is not None:
                lease.revoke()

    @pytest.mark.parametrize("case", CLOSED_STORE_CASES, ids=_ids(CLOSED_STORE_CASES))
    def test_operations_after_close(self, store: BaseStore, case: BadInputCase) -> None:
        requires(store, *case.capabilities)
        lease = self._seed_bad_input(store)
        if lease is not None:
            lease.revoke()
        store.close()
        assert store.closed
        with pytest.raises(case.error):
            settle(case.call(store))

    def test_close_is_idempotent_and_a_context_manager(self, store: BaseStore) -> None:
        with store as entered:
            assert entered is store
            store.put("k", b"v")
        assert store.closed
        store.close()
        with pytest.raises(StoreClosedError):
            store.get("k")
