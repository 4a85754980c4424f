"""Lease handles and the background keep-alive, written once for every backend.

``Lease`` / ``AsyncLease`` is a handle on a granted lease; ``KeepAlive`` /
``AsyncKeepAlive`` renews it in the background and reports its loss. The store's
``Renewals`` / ``AsyncRenewals`` renews all of a store's keep-alives in batches.
"""

from __future__ import annotations

from kvstore._async.lease import AsyncKeepAlive, AsyncLease, AsyncRenewals
from kvstore._sync.lease import KeepAlive, Lease, Renewals

__all__ = ["AsyncKeepAlive", "AsyncLease", "AsyncRenewals", "KeepAlive", "Lease", "Renewals"]
