"""An example third-party kvstore backend: ``DictStore``, served as ``dictstore://``.

A real backend subclasses ``kvstore.BaseStore`` and implements the primitives
(``kv_range``, ``kv_put``, ``kv_delete_range``, ``kv_txn``, and optionally watches, leases
and the cluster calls); every convenience (``get``, ``list``, ``bulk_put``, locks ...)
then comes for free. To keep the example about packaging and proving conformance, this
one keeps its data in a ``MemoryStore`` and delegates every primitive to it through
``kvstore.WrapperStore``: the same shape a caching or instrumenting backend would have.
"""

from __future__ import annotations

from kvstore import WrapperStore
from kvstore_memory import Clock, MemoryStore

__all__ = ["DictStore"]


class DictStore(WrapperStore):
    """A store kept in this process's memory, with etcd's semantics.

    Args:
        clock: Drives lease expiry (a ``ManualClock`` in tests); default the system clock.
        max_txn_ops: Most operations per transaction branch.
    """

    def __init__(self, *, clock: Clock | None = None, max_txn_ops: int = 128) -> None:
        super().__init__(MemoryStore(clock=clock, max_txn_ops=max_txn_ops))

    def __repr__(self) -> str:
        return f"DictStore(keys={self.count('')})"
