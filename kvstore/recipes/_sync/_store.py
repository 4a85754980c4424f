# Generated from kvstore/recipes/_async/_store.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``RecipeStore``: the part of a store the recipes use, as a ``Protocol``.

The recipes are written on the primitives (leases, transactions, watches), not on
``kvstore.base.BaseStore``: every ``BaseStore`` (backends and wrappers alike) satisfies
this protocol structurally, and ``kvstore.base`` imports the recipes, never the other way
round. The primitives are declared with the request objects the recipes pass, so a store
whose primitive also takes the keyword form (``BaseStore``'s) still matches. The contracts
(arguments, errors) are those of ``BaseStore``'s primitives of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from kvstore.errors import StoreClosedError, UnsupportedOperationError

if TYPE_CHECKING:
    from kvstore._sync.lease import KeepAlive, Lease
    from kvstore._sync.watch import Watch
    from kvstore.errors import LeaseExpiredError
    from kvstore.txn import Delete, Get, Txn, WatchRequest
    from kvstore.types import DeleteResult, LeaseInfo, RangeResult, TxnResult

__all__ = ["RecipeStore", "check_open", "unsupported"]


class RecipeStore(Protocol):
    """What a lock, an election or a session needs of a store."""

    @property
    def capabilities(self) -> frozenset[str]:
        """The optional capabilities the store supports (``Capability`` names)."""

    @property
    def closed(self) -> bool:
        """Whether the store (or, for a wrapper, the store below it) was closed."""

    def kv_range(self, request: Get) -> RangeResult:
        """Read one key, or the keys in a range."""

    def kv_delete_range(self, request: Delete) -> DeleteResult:
        """Delete one key, or the keys in a range."""

    def kv_txn(self, request: Txn) -> TxnResult:
        """Apply a transaction atomically."""

    def watch_range(self, request: WatchRequest) -> Watch:
        """Watch one key, or the keys in a range."""

    def lease(self, ttl: int) -> Lease:
        """Grant a lease of ``ttl`` seconds."""

    def keep_alive(
        self, lease: Lease, *, on_lost: Callable[[LeaseExpiredError], object] | None = None
    ) -> KeepAlive:
        """Renew ``lease`` in the background."""

    def lease_time_to_live(self, lease_id: int) -> LeaseInfo:
        """The lease's remaining TTL; ``LeaseNotFoundError`` if it is gone."""


def check_open(store: RecipeStore, operation: str) -> None:
    """Raise ``StoreClosedError`` if ``store`` was closed (as ``BaseStore._check_open``)."""
    if store.closed:
        raise StoreClosedError(f"{operation}: the store is closed", operation=operation)


def unsupported(store: RecipeStore, operation: str) -> UnsupportedOperationError:
    """The error for an operation ``store`` lacks a capability for (as ``BaseStore``'s)."""
    return UnsupportedOperationError(
        f"{operation}: {type(store).__name__} does not support it", operation=operation
    )
