# Generated from kvstore/recipes/_async/session.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``Session``: a lease kept alive in the background, the liveness behind locks and elections.

A lock or election key is put with the session's lease. While the process runs, the
session's keep-alive renews the lease every TTL/3; if the process stops (crash, pause,
partition) the lease expires after its TTL and the store deletes the keys, which releases
the lock. When the keep-alive learns that the lease is gone, the session sets ``lost`` and
calls its ``on_lost`` callbacks, so holders can stop acting on a lock they no longer hold.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kvstore._concurrency import Event
from kvstore._sync._context import Closing
from kvstore.errors import LeaseExpiredError, LeaseNotFoundError, StoreClosedError
from kvstore.keys import check_ttl

if TYPE_CHECKING:
    from kvstore._sync.lease import KeepAlive, Lease
    from kvstore.recipes._sync._store import RecipeStore

__all__ = ["LostCallback", "Session"]

_log = logging.getLogger(__name__)

LostCallback = Callable[[LeaseExpiredError], object]
"""Called once, by the keep-alive, with the error saying why the lease was lost."""


class Session(Closing):
    """A lease of ``store`` renewed in the background until ``close()``.

    In the asyncio API the lease is granted by ``start()``:
    ``session = Session(store).start()``, or
    ``with Session(store) as session:``; the sync ``Session`` starts in its
    constructor.

    Args:
        store: The store to grant the lease on (it needs the ``leases`` capability).
        ttl: Lease TTL in seconds: how long the keys outlive a stopped process. The
            store may round it up (etcd's minimum is 2).
        on_lost: Called once if the lease is lost (see ``add_lost_callback``).

    Attributes:
        store: The store the lease lives on.
        lease: The ``Lease`` handle (once started).
        lost: Set when the lease expired or was revoked behind the session's back; a lost
            session stays lost (create a new one).

    Raises:
        InvalidArgumentError: ``ttl`` is not a positive int.
        UnsupportedOperationError: The store has no ``leases`` capability.
        StoreClosedError: The store was closed.
    """

    def __init__(self, store: RecipeStore, ttl: int = 60, *, on_lost: LostCallback | None = None):
        check_ttl(ttl, operation="session")
        self.store = store
        self.lost = Event()
        self._ttl = ttl
        self._lease: Lease | None = None
        self._keepalive: KeepAlive | None = None
        self._state = threading.Lock()
        self._callbacks: list[LostCallback] = [] if on_lost is None else [on_lost]
        self._closed = False
        self._claims: set[str] = set()
        self.start()

    def start(self) -> Session:
        """Grant the lease and start its keep-alive; idempotent. Returns the session.

        Returns:
            This session, started (its ``lease`` granted and kept alive).

        Raises:
            UnsupportedOperationError: The store has no ``leases`` capability.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if self._lease is not None:
            return self
        lease = self.store.lease(self._ttl)
        try:
            self._keepalive = self.store.keep_alive(lease, on_lost=self._report_lost)
        except BaseException:
            lease.revoke()
            raise
        self._lease = lease
        return self

    def __enter__(self) -> Session:
        return self.start()

    def __repr__(self) -> str:
        if self._lease is None:
            return f"Session(ttl={self._ttl}, not started)"
        state = "lost" if self.lost.is_set() else "closed" if self._closed else "alive"
        return f"Session(lease={self._lease.id:#x}, ttl={self._lease.ttl}, {state})"

    @property
    def lease(self) -> Lease:
        """The ``Lease`` handle.

        Raises:
            LeaseNotFoundError: The session was not started (``session.start()``).
        """
        if self._lease is None:
            raise LeaseNotFoundError(
                "session: not started, so it has no lease yet (session.start())",
                operation="session",
            )
        return self._lease

    @property
    def lease_id(self) -> int:
        """The id of the session's lease."""
        return self.lease.id

    @property
    def ttl(self) -> int:
        """The TTL the lease was granted with, in seconds."""
        return self._ttl if self._lease is None else self._lease.ttl

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    @property
    def alive(self) -> bool:
        """Whether the session is neither closed nor lost (as far as this process knows)."""
        return self._lease is not None and not self._closed and not self.lost.is_set()

    def add_lost_callback(self, callback: LostCallback) -> None:
        """Call ``callback`` once when the lease is lost; at once if it already was."""
        with self._state:
            already_lost = self.lost.is_set()
            if not already_lost:
                self._callbacks.append(callback)
        if already_lost:
            _call(callback, self._lost_error("it was lost before the callback was added"))

    def remove_lost_callback(self, callback: LostCallback) -> None:
        """Forget ``callback``; unknown callbacks are ignored."""
        with self._state:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def check(self) -> bool:
        """Ask the store whether the lease still lives; report the loss if it does not.

        One round trip. Locks call it when their key vanished, so that the loss is reported
        at once rather than at the keep-alive's next renewal.

        Returns:
            Whether the lease is alive.

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call.
        """
        if not self.alive:
            return False
        try:
            self.store.lease_time_to_live(self.lease.id)
        except LeaseNotFoundError:
            self._report_lost(self._lost_error("the store no longer knows it"))
            return False
        return True

    def close(self) -> None:
        """Stop the keep-alive and revoke the lease, deleting every key put with it.

        Idempotent; a lost lease or a closed store is not an error.
        """
        with self._state:
            if self._closed:
                return
            self._closed = True
            self._callbacks.clear()
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._lease is not None:
            with contextlib.suppress(StoreClosedError):
                self._lease.revoke()

    def _end_context(self) -> None:
        self.close()

    # -- for the recipes in kvstore.recipes._sync.lock and kvstore.recipes._sync.election

    def _claim(self, key: str) -> bool:
        """Reserve a recipe key for one object; two objects sharing a session and a name
        would share one key and both believe they hold the lock."""
        with self._state:
            if key in self._claims:
                return False
            self._claims.add(key)
            return True

    def _release(self, key: str) -> None:
        with self._state:
            self._claims.discard(key)

    def _lost_error(self, why: str) -> LeaseExpiredError:
        return LeaseExpiredError(
            f"session: lease {self.lease.id:#x} was lost: {why}", operation="session"
        )

    def _report_lost(self, error: LeaseExpiredError) -> None:
        with self._state:
            if self._closed or self.lost.is_set():
                return
            self.lost.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call(callback, error)


def _call(callback: LostCallback, error: LeaseExpiredError) -> None:
    try:
        callback(error)
    except Exception:  # noqa: BLE001 - one failing callback must not starve the others
        _log.exception("on_lost callback failed")
