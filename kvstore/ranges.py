"""Range reads as etcd serves them, for backends that select and sort key-values themselves.

A backend finds the key-values of a request's range at its revision, in key order
(``in_range`` says which keys belong to a range), and ``apply_range_options`` does the
rest as etcd's ``applierV3backend.Range`` does: the create-revision bounds, the sort, the
limit with its ``more`` flag, keys-only and count-only. ``MemoryStore`` and the example
``DictStore`` both use them, so etcd's quirks are written once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import attrs

from kvstore.keys import ALL_KEYS
from kvstore.txn import Get
from kvstore.types import KeyValue, SortOrder, SortTarget

__all__ = ["apply_range_options", "in_range", "sort_kvs"]


def in_range(key: str, start: str, range_end: str | None) -> bool:
    """Whether ``key`` is in the range of a request on ``start`` and ``range_end``.

    ``range_end`` ``None`` means the one key ``start``; ``ALL_KEYS`` (``"\\0"``) means
    every key from ``start`` on. Python orders ``str`` by code point, which is the order of
    their UTF-8 bytes: etcd's key order.

    Returns:
        ``True`` if ``key`` is in the range, else ``False``.
    """
    if range_end is None:
        return key == start
    if range_end == ALL_KEYS:
        return key >= start
    return start <= key < range_end


_SORT_KEYS: dict[SortTarget, Callable[[KeyValue], str | bytes | int]] = {
    SortTarget.KEY: operator.attrgetter("key"),
    SortTarget.VERSION: operator.attrgetter("version"),
    SortTarget.CREATE: operator.attrgetter("create_revision"),
    SortTarget.MOD: operator.attrgetter("mod_revision"),
    SortTarget.VALUE: operator.attrgetter("value"),
}


def sort_kvs(
    kvs: Sequence[KeyValue], target: SortTarget | None, order: SortOrder | None
) -> list[KeyValue]:
    """Sort key-ordered ``kvs`` as etcd does: without an order, ascending unless by key.

    Ties keep their key order (a stable sort); etcd does not promise an order among them.

    Returns:
        A new list of the key-values in the requested order.
    """
    target = target or SortTarget.KEY
    order = order or SortOrder.NONE
    if order is SortOrder.NONE:
        if target is SortTarget.KEY:
            return list(kvs)
        order = SortOrder.ASCEND
    if target is SortTarget.KEY and order is SortOrder.ASCEND:
        return list(kvs)
    return sorted(kvs, key=_SORT_KEYS[target], reverse=order is SortOrder.DESCEND)


def apply_range_options(kvs: Sequence[KeyValue], request: Get) -> tuple[tuple[KeyValue, ...], bool]:
    """Apply a ``Get``'s options to the key-values of its range, as etcd does.

    etcd counts the range first (``len(kvs)`` is the ``count`` of the answer), then drops
    the keys outside the create-revision bounds, sorts, and cuts at ``limit``. Without an
    explicit sort order or a bound it reads only the first ``limit + 1`` keys by key, so a
    sort target alone sorts just those.

    Args:
        kvs: Every key-value in the request's range at the revision read, in key order.
        request: The read.

    Returns:
        The key-values of the answer (none for a count-only read) and ``more``: whether
        ``limit`` left out keys that passed the bounds.
    """
    if request.count_only:
        return (), False
    limit = request.limit if request.limit > 0 else 0
    low, high = request.min_create_revision, request.max_create_revision
    whole_range = request.sort_order not in (None, SortOrder.NONE) or low or high
    if limit and not whole_range:
        kvs = kvs[: limit + 1]
    if low:
        kvs = [kv for kv in kvs if kv.create_revision >= low]
    if high:
        kvs = [kv for kv in kvs if kv.create_revision <= high]
    shown = sort_kvs(kvs, request.sort_target, request.sort_order)
    more = bool(limit) and len(shown) > limit
    if more:
        shown = shown[:limit]
    if request.keys_only:
        shown = [attrs.evolve(kv, value=b"") for kv in shown]
    return tuple(shown), more
