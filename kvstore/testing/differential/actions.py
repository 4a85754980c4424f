"""The steps of a sequence (``Action`` and its kinds), each run on one store's side and
answering in normalized form.
"""

from __future__ import annotations

import time

import attrs

from kvstore.testing.differential.normalized import LeaseState, Raised, Replayed
from kvstore.testing.differential.side import Side
from kvstore.txn import Op, Put, WatchRequest
from kvstore.types import EventType, LeaseGrant, PutResult

__all__ = [
    "Action",
    "CheckLeaseBounds",
    "Compact",
    "GrantLease",
    "KeepAliveOnce",
    "LeaseTimeToLive",
    "ListLeases",
    "RevokeLease",
    "Send",
    "WatchReplay",
]

_MARKER_VALUE = b"~watch-marker"

_WATCH_EVENT_TIMEOUT = 5.0
"""Seconds to wait for each event of a watch replay (only a diverging store waits)."""


class Action:
    """One step of a sequence, in normalized form (see ``kvstore.testing.differential``)."""

    def run(self, side: Side) -> object:
        """Run the step on one store; its normalized answer."""
        raise NotImplementedError


@attrs.frozen
class Send(Action):
    """Send a ``Get``, ``Put``, ``Delete`` or ``Txn`` to its primitive."""

    request: Op

    def run(self, side: Side) -> object:
        return side.send(self.request)


@attrs.frozen
class WatchReplay(Action):
    """Watch from a past revision, put ``marker`` (a key in the watched range), and
    collect the events up to the marker's."""

    request: WatchRequest
    marker: str

    def run(self, side: Side) -> object:
        request = WatchRequest(
            side.key(self.request.key),
            side.end(self.request.range_end),
            start_revision=(
                None
                if self.request.start_revision is None
                else side.revision(self.request.start_revision)
            ),
            prev_kv=self.request.prev_kv,
        )
        try:
            watch = side.store.watch_range(request)
        except Exception as exc:  # noqa: BLE001 - compared like any answer
            return Replayed(side.send(Put(self.marker, _MARKER_VALUE)), (Raised.of(exc),))
        with watch:
            marker = side.send(Put(self.marker, _MARKER_VALUE))
            events: list[object] = []
            marker_key = side.key(self.marker)
            while True:
                try:
                    event = watch.next_event(_WATCH_EVENT_TIMEOUT)
                except Exception as exc:  # noqa: BLE001 - compared like any answer
                    events.append(Raised.of(exc))
                    break
                if event is None:
                    events.append("timeout")
                    break
                events.append(side.event(event))
                if (
                    event.type is EventType.PUT
                    and event.kv.key == marker_key
                    and event.kv.value == _MARKER_VALUE
                    and isinstance(marker, PutResult)
                    and side.norm_revision(event.kv.mod_revision) == marker.revision
                ):
                    break
        return Replayed(marker, tuple(events))


@attrs.frozen
class GrantLease(Action):
    """Grant a lease of ``ttl`` seconds (it becomes the run's next lease position)."""

    ttl: int

    def run(self, side: Side) -> object:
        return side.call(lambda: _grant(side, self.ttl))


def _grant(side: Side, ttl: int) -> LeaseGrant:
    started = time.monotonic()
    grant = side.store.lease_grant(ttl)
    side.leases.append(grant.id)
    side.renewed[len(side.leases)] = started
    return LeaseGrant(len(side.leases), grant.ttl)


@attrs.frozen
class CheckLeaseBounds(Action):
    """Grant a short lease, read its TTL, keep it alive once, revoke it: all in one step,
    so it never expires (the TTL bounds: etcd's 2 s minimum, what each call reports)."""

    ttl: int

    def run(self, side: Side) -> object:
        grant = side.call(lambda: _grant(side, self.ttl))
        if not isinstance(grant, LeaseGrant):
            return (grant,)
        lease = grant.id
        return (
            grant,
            LeaseTimeToLive(lease, keys=True).run(side),
            KeepAliveOnce(lease).run(side),
            LeaseTimeToLive(lease, keys=False).run(side),
            RevokeLease(lease).run(side),
        )


@attrs.frozen
class RevokeLease(Action):
    """Revoke the run's lease at position ``lease`` (``NEVER_GRANTED``: an unknown id)."""

    lease: int

    def run(self, side: Side) -> object:
        return side.call(lambda: side.store.lease_revoke(side.lease(self.lease)))


@attrs.frozen
class LeaseTimeToLive(Action):
    """Read a lease's remaining TTL, granted TTL and (with ``keys``) its keys."""

    lease: int
    keys: bool = False

    def run(self, side: Side) -> object:
        def ask() -> LeaseState:
            info = side.store.lease_time_to_live(side.lease(self.lease), keys=self.keys)
            return LeaseState(
                side.norm_lease(info.id),
                side.remaining(self.lease, info.ttl, info.granted_ttl),
                info.granted_ttl,
                tuple(sorted(side.norm_key(key) for key in info.keys)),
            )

        return side.call(ask)


@attrs.frozen
class KeepAliveOnce(Action):
    """Renew a lease once; the TTL it reports."""

    lease: int

    def run(self, side: Side) -> object:
        def renew() -> int:
            started = time.monotonic()
            ttl = side.store.lease_keepalive_once(side.lease(self.lease))
            side.renewed[self.lease] = started
            return ttl

        return side.call(renew)


@attrs.frozen
class ListLeases(Action):
    """List the live leases (those of the run, by position)."""

    def run(self, side: Side) -> object:
        def listed() -> tuple[int, ...]:
            live = set(side.store.lease_leases())
            return tuple(i + 1 for i, lease in enumerate(side.leases) if lease in live)

        return side.call(listed)


@attrs.frozen
class Compact(Action):
    """Compact the store's history at ``revision`` (physically: see
    ``kvstore.testing.differential``)."""

    revision: int
    physical: bool = True

    def run(self, side: Side) -> object:
        return side.call(
            lambda: side.store.compact_revision(
                side.revision(self.revision), physical=self.physical
            )
        )
