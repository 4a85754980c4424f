"""Lease handles and the background keep-alive loop, written once for every backend.

An ``AsyncLease`` is a handle on a granted lease of one store. ``AsyncKeepAlive`` renews
it every TTL/3 in the background until stopped, revoked or the store closes, and reports
loss (``lost`` event and ``on_lost`` callback) when the lease expires anyway. The store's
``AsyncRenewals`` renews all its keep-alives from one background (a task; one daemon
thread in the sync API), in batches (``BaseStore.lease_keepalive_many``).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from kvstore._async._concurrency import AsyncBackground, AsyncEvent, invoke, wait_event
from kvstore._async._context import AsyncClosing
from kvstore.errors import KVStoreError, LeaseExpiredError, LeaseNotFoundError, StoreClosedError
from kvstore.plugins.events import report as report_event
from kvstore.types import LeaseInfo

__all__ = ["AsyncKeepAlive", "AsyncLease", "AsyncRenewals"]

_log = logging.getLogger(__name__)

_STORE_CLOSED = "the store was closed, so nothing renews it any more"

_BATCH = 1000
"""Most leases renewed by one ``lease_keepalive_many`` call (etcd answers a stream's
requests one by one; a member that forwards them to its leader takes ~0.5 ms each)."""


class _AsyncLeaseStore(Protocol):
    """What a lease handle and its keep-alive call: the lease primitives of ``BaseStore``."""

    async def lease_revoke(self, lease_id: int) -> None: ...

    async def revoke_lease(self, lease: AsyncLease) -> None: ...

    async def lease_keepalive_once(self, lease_id: int) -> int: ...

    async def lease_time_to_live(self, lease_id: int, *, keys: bool = False) -> LeaseInfo: ...


class AsyncLease(AsyncClosing):
    """A granted lease: keys put with it are deleted when it expires or is revoked.

    Attributes:
        id: The lease id.
        ttl: The TTL it was granted with, in seconds.
    """

    def __init__(self, store: _AsyncLeaseStore, lease_id: int, ttl: int) -> None:
        self._store = store
        self.id = lease_id
        self.ttl = ttl

    def __repr__(self) -> str:
        return f"Lease(id={self.id:#x}, ttl={self.ttl})"

    def __int__(self) -> int:
        return self.id

    async def remaining_ttl(self) -> int:
        """Seconds left before the lease expires.

        Returns:
            The lease's remaining TTL in seconds.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return (await self.info()).ttl

    async def info(self, *, keys: bool = False) -> LeaseInfo:
        """The lease's state, with its keys when ``keys`` is true.

        Returns:
            A ``LeaseInfo``: remaining ``ttl``, ``granted_ttl``, and the attached ``keys`` when
            ``keys`` is true (else empty).

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return await self._store.lease_time_to_live(self.id, keys=keys)

    async def keys(self) -> list[str]:
        """The keys attached to the lease.

        Returns:
            The keys attached to the lease, as a new list.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return list((await self.info(keys=True)).keys)

    async def refresh(self) -> int:
        """Renew the lease once.

        Returns:
            The TTL it was renewed to.

        Raises:
            LeaseNotFoundError: The lease expired or was revoked.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return await self._store.lease_keepalive_once(self.id)

    async def revoke(self) -> None:
        """Revoke the lease, deleting its keys; revoking a gone lease is not an error.

        Its keep-alives end at once and report the loss at DEBUG (``BaseStore.revoke_lease``).

        Raises:
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        with contextlib.suppress(LeaseNotFoundError):
            await self._store.revoke_lease(self)  # the owner's: keep-alives end quietly

    async def _end_context(self) -> None:
        with contextlib.suppress(StoreClosedError):
            await self.revoke()


class _AsyncRenewingStore(_AsyncLeaseStore, Protocol):
    """What the renewals call: ``BaseStore.lease_keepalive_many`` and ``_idle``."""

    async def lease_keepalive_many(self, lease_ids: Sequence[int]) -> list[int | KVStoreError]: ...

    async def lease_keepalive_idle(self) -> None: ...


class _AsyncRunner:
    """One background of an ``AsyncRenewals`` and its events (an asyncio event belongs to
    one event loop, so each background has its own)."""

    def __init__(self) -> None:
        self.wake = AsyncEvent()
        self.idle = AsyncEvent()
        self.idle.set()
        self.retired = False
        self.background: AsyncBackground | None = None

    async def join(self) -> None:
        """Wait for the background to end (unless the caller is the background)."""
        if self.background is not None:
            await self.background.join()


class AsyncRenewals:
    """Every kept-alive lease of one store, renewed from one background (a task; a thread
    in the sync API), however many leases: 10,000 keep-alives cost one thread, not 10,000.

    Leases due for renewal are sent together to ``lease_keepalive_many`` (etcd sends them
    on its one LeaseKeepAlive stream; other backends renew them one by one). The
    background ends with the last keep-alive and starts again with the next one.
    ``on_lost`` callbacks run in a background of their own, so a slow callback delays no
    renewal.
    """

    def __init__(self, store: _AsyncRenewingStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._due: list[tuple[float, int, AsyncKeepAlive]] = []
        self._order = itertools.count()
        self._active: dict[AsyncKeepAlive, None] = {}
        self._by_lease: dict[int, set[AsyncKeepAlive]] = {}
        self._revoking: collections.Counter[int] = collections.Counter()
        self._runner: _AsyncRunner | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._active)

    @property
    def store(self) -> object:
        """The store renewed through (named in ``kvstore.plugins.events`` reports)."""
        return self._store

    def add(self, keepalive: AsyncKeepAlive) -> None:
        """Renew ``keepalive``'s lease at once, then every TTL/3 until it ends."""
        with self._lock:
            self._active[keepalive] = None
            self._by_lease.setdefault(keepalive.lease.id, set()).add(keepalive)
            self._schedule(keepalive, time.monotonic())

    def _drop(self, keepalive: AsyncKeepAlive) -> None:
        """Forget ``keepalive`` (lock held)."""
        self._active.pop(keepalive, None)
        same = self._by_lease.get(keepalive.lease.id)
        if same is not None:
            same.discard(keepalive)
            if not same:
                del self._by_lease[keepalive.lease.id]

    @contextlib.contextmanager
    def revoking(self, lease_id: int) -> Iterator[None]:
        """Around the revoke of ``lease_id`` by its owner: a renewal that meets the revoke
        meanwhile reports nothing (``ended_by_revoke`` ends the keep-alives after).

        Yields:
            ``None``, while the revoke runs.
        """
        with self._lock:
            self._revoking[lease_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._revoking[lease_id] -= 1
                if not self._revoking[lease_id]:
                    del self._revoking[lease_id]

    def is_revoking(self, lease_id: int) -> bool:
        """Whether the owner is revoking ``lease_id`` now.

        Returns:
            ``True`` while a ``revoking`` block for ``lease_id`` is open.
        """
        return self._revoking.get(lease_id, 0) > 0

    async def ended_by_revoke(self, lease_id: int) -> None:
        """The owner revoked ``lease_id``: end its keep-alives, each reporting the loss
        (``lost``, ``on_lost``) at DEBUG, since it was meant."""
        with self._lock:
            keepalives = list(self._by_lease.get(lease_id, ()))
            for keepalive in keepalives:
                self._drop(keepalive)
            if not self._active:
                self._retire()  # the background ends with the last keep-alive
        for keepalive in keepalives:
            await keepalive._revoked()

    def _schedule(self, keepalive: AsyncKeepAlive, due: float) -> None:
        heapq.heappush(self._due, (due, next(self._order), keepalive))
        runner = self._runner
        if runner is None:
            runner = self._runner = _AsyncRunner()
            runner.background = AsyncBackground(
                functools.partial(self._run, runner), "kvstore-keepalive"
            )
        runner.wake.set()

    def _retire(self) -> _AsyncRunner | None:
        """Tell the background to end (lock held); it is returned to be joined."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.retired = True
            runner.wake.set()
        return runner

    async def discard(self, keepalive: AsyncKeepAlive) -> None:
        """Stop renewing ``keepalive``; a renewal of it already sent has ended on return,
        and so has the background if this was the last keep-alive."""
        with self._lock:
            self._drop(keepalive)
            runner = self._retire() if not self._active else self._runner
        if runner is None or (runner.background is not None and runner.background.is_current()):
            return
        if runner.retired:
            await runner.join()
        else:
            await wait_event(runner.idle, None)

    async def close(self) -> list[AsyncKeepAlive]:
        """End the renewals (the store closes); the keep-alives that were running.

        Returns:
            The keep-alives that were running, for the store to report their leases lost.
        """
        with self._lock:
            self._closed = True
            keepalives = list(self._active)
            self._active.clear()
            self._by_lease.clear()
            self._due.clear()
            runner = self._retire()
        if runner is not None:
            await runner.join()
        return keepalives

    async def _run(self, runner: _AsyncRunner) -> None:
        while True:
            with self._lock:
                runner.wake.clear()
                # Released only when no newer background renews (it may already run).
                idle = runner.retired and not self._closed and self._runner is None
                if runner.retired:
                    break
                now = time.monotonic()
                batch: list[AsyncKeepAlive] = []
                while self._due and self._due[0][0] <= now and len(batch) < _BATCH:
                    keepalive = heapq.heappop(self._due)[2]
                    if keepalive in self._active:
                        batch.append(keepalive)
                if not batch:
                    if self._closed or not self._active:
                        idle = not self._closed
                        self._due.clear()
                        self._retire()
                        break
                    wait: float | None = self._due[0][0] - now
                else:
                    runner.idle.clear()
            if not batch:
                await wait_event(runner.wake, wait)
                continue
            try:
                results = await self._store.lease_keepalive_many([k.lease.id for k in batch])
                for keepalive, result in zip(batch, results, strict=True):
                    due = await keepalive._renewed(result)
                    with self._lock:
                        if due is not None and keepalive in self._active:
                            self._schedule(keepalive, due)
                        else:
                            self._drop(keepalive)
            finally:
                runner.idle.set()
        if idle:
            await self._store.lease_keepalive_idle()


class AsyncKeepAlive:
    """Renews a lease every TTL/3 in the background; reports when the lease is lost.

    The store's ``AsyncRenewals`` does the renewing, for all its keep-alives at once.
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
        renewals: AsyncRenewals,
        lease: AsyncLease,
        *,
        on_lost: Callable[[LeaseExpiredError], object] | None = None,
    ) -> None:
        self.lease = lease
        self.lost = AsyncEvent()
        self._renewals = renewals
        self._on_lost = on_lost
        self._stopped = AsyncEvent()
        self._reported = threading.Lock()
        self._interval = max(lease.ttl / 3.0, 0.05)
        self._deadline = time.monotonic() + lease.ttl
        renewals.add(self)

    def __repr__(self) -> str:
        state = "lost" if self.lost.is_set() else "stopped" if self._stopped.is_set() else "running"
        return f"AsyncKeepAlive(lease={self.lease.id:#x}, {state})"

    @property
    def running(self) -> bool:
        """Whether the lease is still being renewed."""
        return not self._stopped.is_set() and not self.lost.is_set()

    async def stop(self) -> None:
        """Stop renewing (the lease then expires after its TTL); idempotent.

        A renewal already sent when this is called has ended when it returns.
        """
        self._stopped.set()
        await self._renewals.discard(self)

    async def store_closed(self) -> None:
        """End renewals because the store closed, and report the lease as lost.

        Called by ``BaseStore.close``; a keep-alive already stopped on purpose stays silent.
        """
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self._announce_lost(_STORE_CLOSED, level=logging.DEBUG)

    async def _revoked(self) -> None:
        """End renewals because the owner revoked the lease; report it at DEBUG."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        await self._announce_lost("its owner revoked it", level=logging.DEBUG)

    async def _renewed(self, result: int | KVStoreError) -> float | None:
        """Take the outcome of one renewal; when the next one is due (``None``: never)."""
        if self._stopped.is_set():
            return None
        now = time.monotonic()
        if isinstance(result, int):
            self._deadline = now + result
            return now + max(result / 3.0, 0.05)
        if isinstance(result, LeaseNotFoundError):
            if self._renewals.is_revoking(self.lease.id):
                # The owner's revoke got there first: it ends this keep-alive itself.
                return now + self._interval
            await self._report_lost("the store no longer knows it")
            return None
        if isinstance(result, StoreClosedError):
            await self._announce_lost(_STORE_CLOSED, level=logging.DEBUG, background=True)
            return None
        if now >= self._deadline:
            await self._report_lost(f"it could not be renewed before its TTL ran out ({result})")
            return None
        _log.debug("keepalive of lease %#x failed, retrying: %s", self.lease.id, result)
        return now + min(self._interval / 3.0, max(self._deadline - now, 0.05))

    async def _report_lost(self, why: str) -> None:
        if not self._stopped.is_set():
            await self._announce_lost(why, background=True)

    async def _announce_lost(
        self, why: str, *, level: int = logging.WARNING, background: bool = False
    ) -> None:
        """Set ``lost``, log, and call ``on_lost`` (in a background of its own if asked,
        so that a slow callback delays no other lease's renewal)."""
        with self._reported:
            if self.lost.is_set():
                return
            self.lost.set()
        error = LeaseExpiredError(
            f"keepalive: lease {self.lease.id:#x} was lost: {why}", operation="keep_alive"
        )
        _log.log(level, "%s", error)
        if level >= logging.WARNING:
            report_event(
                "keepalive_lost", store=self._renewals.store, lease_id=self.lease.id, reason=why
            )
        on_lost = self._on_lost
        if on_lost is None:
            return

        async def call() -> None:
            try:
                await invoke(on_lost, error)
            except Exception:  # noqa: BLE001 - a callback must not end the renewals
                _log.exception("on_lost callback of lease %#x failed", self.lease.id)

        if background:
            AsyncBackground(call, f"kvstore-keepalive-lost-{self.lease.id:x}")
        else:
            await call()
