"""``Coverage``: which generated features (``FEATURES``) the agreed steps exercised."""

from __future__ import annotations

import collections
from typing import cast

import attrs

from kvstore.testing.differential.actions import (
    Action,
    CheckLeaseBounds,
    Compact,
    GrantLease,
    KeepAliveOnce,
    ListLeases,
    RevokeLease,
    Send,
    WatchReplay,
)
from kvstore.testing.differential.normalized import LeaseState, Outcome, Raised, Replayed
from kvstore.txn import CompareOp, CompareTarget, Delete, Get, Op, Put, Txn
from kvstore.types import (
    DeleteResult,
    LeaseGrant,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    TxnResult,
    WatchEvent,
)

__all__ = ["FEATURES", "Coverage"]


def _all_features() -> frozenset[str]:
    features = {f"compare {t.value} {o.value}" for t in CompareTarget for o in CompareOp}
    features |= {f"sort {t.name} {o.name}" for t in SortTarget for o in SortOrder}
    features |= {
        "compare on a range",
        "txn then",
        "txn else",
        "txn nested",
        "txn nested twice",
        "txn nested result",
        "txn put",
        "txn get",
        "txn delete",
        "get range",
        "get past revision",
        "get limit",
        "get more",
        "get keys_only",
        "get count_only",
        "get min_create_revision",
        "get max_create_revision",
        "put lease",
        "put prev_kv",
        "put ignore_lease",
        "delete range",
        "delete prev_kvs",
        "lease grant",
        "lease bounds",
        "lease revoke",
        "lease time_to_live keys",
        "lease keepalive",
        "lease list",
        "compact",
        "read below compaction",
        "watch replay",
        "watch prev_kv",
        "watch below compaction",
    }
    features |= {
        f"error {name}"
        for name in (
            "CompactedError",
            "DuplicateKeyError",
            "InvalidArgumentError",
            "KeyNotFoundError",
            "LeaseNotFoundError",
        )
    }
    return frozenset(features)


FEATURES = _all_features()
"""What ``Coverage`` counts: every compare target and operator, every sort target and
order, each option, lease call, compaction and watch case, and the expected errors."""


@attrs.define
class Coverage:
    """Counts the features a run's steps exercised (``FEATURES``), from the steps and the
    answers the stores agreed on. Pass one to ``run_differential`` or ``compare_many``.

    Attributes:
        counts: How many times each feature was exercised.
    """

    counts: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def missing(self) -> set[str]:
        """The features no step exercised."""
        return set(FEATURES) - set(self.counts)

    def add(self, action: Action, outcome: Outcome) -> None:
        """Count the features of one step and its (agreed) outcome."""
        found: list[str] = []
        result = outcome.result
        if isinstance(action, Send):
            found += _request_features(action.request, 0)
        found += _result_features(result)
        if isinstance(action, GrantLease) and isinstance(result, LeaseGrant):
            found.append("lease grant")
        elif isinstance(action, CheckLeaseBounds) and len(cast(tuple[object], result)) > 1:
            found.append("lease bounds")
        elif isinstance(action, RevokeLease) and result is None:
            found.append("lease revoke")
        elif isinstance(action, KeepAliveOnce) and isinstance(result, int):
            found.append("lease keepalive")
        elif isinstance(action, ListLeases) and isinstance(result, tuple) and result:
            found.append("lease list")
        elif isinstance(action, Compact) and result is None:
            found.append("compact")
        elif isinstance(action, WatchReplay) and isinstance(result, Replayed):
            events = [e for e in result.events if isinstance(e, WatchEvent)]
            if len(events) > 1:
                found.append("watch replay")
            if any(e.prev_kv is not None for e in events):
                found.append("watch prev_kv")
            if any(isinstance(e, Raised) and e.error == "CompactedError" for e in result.events):
                found.append("watch below compaction")
        if (
            isinstance(action, Send)
            and isinstance(result, Raised)
            and result.error == "CompactedError"
        ):
            found.append("read below compaction")
        self.counts.update(found)


def _request_features(op: Op, depth: int) -> list[str]:
    found: list[str] = []
    if isinstance(op, Txn):
        if depth == 1:
            found.append("txn nested")
        elif depth == 2:
            found.append("txn nested twice")
        for compare in op.compares:
            found.append(f"compare {compare.target.value} {compare.op.value}")
            if compare.range_end is not None:
                found.append("compare on a range")
        for inner in (*op.success, *op.failure):
            if depth == 0 and not isinstance(inner, Txn):
                found.append(f"txn {type(inner).__name__.lower()}")
            found += _request_features(inner, depth + 1)
    elif isinstance(op, Get):
        if op.sort_target is not None and op.sort_order is not None:
            found.append(f"sort {op.sort_target.name} {op.sort_order.name}")
        options = {
            "get range": op.range_end is not None,
            "get past revision": op.revision is not None,
            "get limit": op.limit > 0,
            "get keys_only": op.keys_only,
            "get count_only": op.count_only,
            "get min_create_revision": op.min_create_revision > 0,
            "get max_create_revision": op.max_create_revision > 0,
        }
        found += [name for name, used in options.items() if used]
    elif isinstance(op, Put):
        options = {"put lease": bool(op.lease), "put ignore_lease": op.ignore_lease}
        found += [name for name, used in options.items() if used]
    elif isinstance(op, Delete) and op.range_end is not None:
        found.append("delete range")
    return found


def _result_features(result: object) -> list[str]:
    found: list[str] = []
    if isinstance(result, Raised):
        found.append(f"error {result.error}")
    elif isinstance(result, TxnResult):
        found.append("txn then" if result.succeeded else "txn else")
        for response in result.responses:
            if isinstance(response, TxnResult):
                found.append("txn nested result")
            found += _result_features(response)
    elif isinstance(result, RangeResult) and result.more:
        found.append("get more")
    elif isinstance(result, PutResult) and result.prev_kv is not None:
        found.append("put prev_kv")
    elif isinstance(result, DeleteResult) and len(result.prev_kvs) > 1:
        found.append("delete prev_kvs")
    elif isinstance(result, LeaseState) and result.keys:
        found.append("lease time_to_live keys")
    elif isinstance(result, tuple):
        for item in result:
            found += _result_features(item)
    return found
