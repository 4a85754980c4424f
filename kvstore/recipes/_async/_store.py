"""``AsyncRecipeStore``: the part of a store the recipes use, as a ``Protocol``.

The recipes are written on the primitives (leases, transactions, watches), not on
``kvstore.base.AsyncBaseStore``: every ``AsyncBaseStore`` (backends and wrappers alike) satisfies
this protocol structurally, and ``kvstore.base`` imports the recipes, never the other way
round. The primitives are declared with the request objects the recipes pass, so a store
whose primitive also takes the keyword form (``AsyncBaseStore``'s) still matches. The contracts
(arguments, errors) are those of ``AsyncBaseStore``'s primitives of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from kvstore.errors import StoreClosedError, UnsupportedOperationError

if TYPE_CHECKING:
    from kvstore._async.lease import AsyncKeepAlive, AsyncLease
    from kvstore._async.watch import AsyncWatch
    from kvstore.errors import LeaseExpiredError
    from kvstore.txn import Delete, Get, Txn, WatchRequest
    from kvstore.types import DeleteResult, LeaseInfo, RangeResult, TxnResult

__all__ = ["AsyncRecipeStore", "check_open", "unsupported"]


class AsyncRecipeStore(Protocol):
    """What a lock, an election or a session needs of a store."""

    @property
    def capabilities(self) -> frozenset[str]:
        """The optional capabilities the store supports (``Capability`` names)."""

    @property
    def closed(self) -> bool:
        """Whether the store (or, for a wrapper, the store below it) was closed."""

    async def kv_range(self, request: Get) -> RangeResult:
        """Read one key, or the keys in a range."""

    async def kv_delete_range(self, request: Delete) -> DeleteResult:
        """Delete one key, or the keys in a range."""

    async def kv_txn(self, request: Txn) -> TxnResult:
        """Apply a transaction atomically."""

    def watch_range(self, request: WatchRequest) -> AsyncWatch:
        """Watch one key, or the keys in a range."""

    async def lease(self, ttl: int) -> AsyncLease:
        """Grant a lease of ``ttl`` seconds."""

    async def keep_alive(
        self, lease: AsyncLease, *, on_lost: Callable[[LeaseExpiredError], object] | None = None
    ) -> AsyncKeepAlive:
        """Renew ``lease`` in the background."""

    async def lease_time_to_live(self, lease_id: int) -> LeaseInfo:
        """The lease's remaining TTL; ``LeaseNotFoundError`` if it is gone."""


def check_open(store: AsyncRecipeStore, operation: str) -> None:
    """Raise ``StoreClosedError`` if ``store`` was closed (as ``AsyncBaseStore._check_open``)."""
    if store.closed:
        raise StoreClosedError(f"{operation}: the store is closed", operation=operation)


def unsupported(store: AsyncRecipeStore, operation: str) -> UnsupportedOperationError:
    """The error for an operation ``store`` lacks a capability for (as ``AsyncBaseStore``'s)."""
    return UnsupportedOperationError(
        f"{operation}: {type(store).__name__} does not support it", operation=operation
    )
