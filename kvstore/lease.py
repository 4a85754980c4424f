# Generated from kvstore/_async/lease.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""Lease handles and the background keep-alive loop, written once for every backend.

A ``Lease`` is a handle on a granted lease of one store. ``KeepAlive`` renews
it every TTL/3 in the background (a task; a daemon thread in the sync API) until stopped,
revoked or the store closes, and reports loss (``lost`` event and ``on_lost`` callback)
when the lease expires anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from kvstore._concurrency import Background, Event, invoke, wait_event
from kvstore._context import Closing
from kvstore.errors import KVStoreError, LeaseExpiredError, LeaseNotFoundError, StoreClosedError
from kvstore.types import LeaseInfo

__all__ = ["KeepAlive", "Lease"]

_log = logging.getLogger(__name__)

_STORE_CLOSED = "the store was closed, so nothing renews it any more"


class _LeaseStore(Protocol):
    """What a lease handle and its keep-alive call: the lease primitives of ``BaseStore``."""

    def lease_revoke(self, lease_id: int) -> None: ...

    def lease_keepalive_once(self, lease_id: int) -> int: ...

    def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo: ...


class Lease(Closing):
    """A granted lease: keys put with it are deleted when it expires or is revoked.

    Attributes:
        id: The lease id.
        ttl: The TTL it was granted with, in seconds.
    """

    def __init__(self, store: _LeaseStore, lease_id: int, ttl: int) -> None:
        self._store = store
        self.id = lease_id
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Lease(id={self.id:#x}, ttl={self.ttl})"

    def __int__(self) -> int:
        return self.id

    def remaining_ttl(self) -> int:
        """Seconds left before the lease expires.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
        """
        return self.info().ttl

    def info(self, *, keys: bool = False) -> LeaseInfo:
        """The lease's state, with its keys when ``keys`` is true.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
        """
        return self._store.lease_time_to_live(self.id, keys=keys)

    def keys(self) -> list[str]:
        """The keys attached to the lease.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
        """
        return list(self.info(keys=True).keys)

    def refresh(self) -> int:
        """Renew the lease once.

        Returns:
            The TTL it was renewed to.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
        """
        return self._store.lease_keepalive_once(self.id)

    def revoke(self) -> None:
        """Revoke the lease, deleting its keys; revoking a gone lease is not an error."""
        with contextlib.suppress(LeaseNotFoundError):
            self._store.lease_revoke(self.id)

    def _end_context(self) -> None:
        with contextlib.suppress(StoreClosedError):
            self.revoke()


class KeepAlive:
    """Renews a lease every TTL/3 in the background; reports when the lease is lost.

    Transient backend errors are retried until the lease's deadline passes; then, when the
    store says the lease is gone, or when the store is closed (nothing renews the lease
    any more, so it will expire), ``lost`` is set and ``on_lost`` is called once with a
    ``LeaseExpiredError``. ``stop()`` ends renewals without reporting a loss.

    Attributes:
        lease: The lease kept alive.
        lost: Set when the lease was lost (expired or revoked behind our back).
    """

    def __init__(
        self,
        store: _LeaseStore,
        lease: Lease,
        *,
        on_lost: Callable[[LeaseExpiredError], object] | None = None,
    ) -> None:
        self.lease = lease
        self.lost = Event()
        self._store = store
        self._on_lost = on_lost
        self._stopped = Event()
        self._reported = threading.Lock()
        self._background = Background(self._run, f"kvstore-keepalive-{lease.id:x}")

    def __repr__(self) -> str:
        state = "lost" if self.lost.is_set() else "stopped" if self._stopped.is_set() else "running"
        return f"KeepAlive(lease={self.lease.id:#x}, {state})"

    @property
    def running(self) -> bool:
        """Whether the loop is still renewing the lease."""
        return self._background.running

    def stop(self) -> None:
        """Stop renewing (the lease then expires after its TTL); idempotent."""
        self._stopped.set()
        self._background.join()

    def store_closed(self) -> None:
        """End renewals because the store closed, and report the lease as lost.

        Called by ``BaseStore.close``; a keep-alive already stopped on purpose stays silent.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._background.join()
        self._announce_lost(_STORE_CLOSED, level=logging.DEBUG)

    def _run(self) -> None:
        interval = max(self.lease.ttl / 3.0, 0.05)
        deadline = time.monotonic() + self.lease.ttl
        while not self._stopped.is_set():
            try:
                ttl = self._store.lease_keepalive_once(self.lease.id)
                deadline = time.monotonic() + ttl
                wait = max(ttl / 3.0, 0.05)
            except LeaseNotFoundError:
                self._report_lost("the store no longer knows it")
                return
            except StoreClosedError:
                if not self._stopped.is_set():
                    self._announce_lost(_STORE_CLOSED, level=logging.DEBUG)
                return
            except KVStoreError as exc:
                if time.monotonic() >= deadline:
                    self._report_lost(f"it could not be renewed before its TTL ran out ({exc})")
                    return
                _log.debug("keepalive of lease %#x failed, retrying: %s", self.lease.id, exc)
                wait = min(interval / 3.0, max(deadline - time.monotonic(), 0.05))
            wait_event(self._stopped, wait)

    def _report_lost(self, why: str) -> None:
        if not self._stopped.is_set():
            self._announce_lost(why)

    def _announce_lost(self, why: str, *, level: int = logging.WARNING) -> None:
        with self._reported:
            if self.lost.is_set():
                return
            self.lost.set()
        error = LeaseExpiredError(
            f"keepalive: lease {self.lease.id:#x} was lost: {why}", operation="keep_alive"
        )
        _log.log(level, "%s", error)
        if self._on_lost is not None:
            try:
                invoke(self._on_lost, error)
            except Exception:  # noqa: BLE001 - a callback must not kill the loop silently
                _log.exception("on_lost callback of lease %#x failed", self.lease.id)
