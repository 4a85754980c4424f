"""Store events: what a store reports while it runs, as pluggy hooks any observer may take.

A store reports five kinds of event (each a hook named ``kvstore_<event>``, declared
here; the backend hooks are in ``kvstore.plugins.hookspecs``):

- ``kvstore_retry``: a call is sent again after a transient failure (etcd: an endpoint
  was unavailable or did not answer in time);
- ``kvstore_endpoint_switch``: the calls move from one endpoint to another;
- ``kvstore_watch_resume``: the watches of a store are created again after their stream
  broke (each resumes from its own revision);
- ``kvstore_keepalive_lost``: a kept-alive lease was lost (expired, or revoked by someone
  else; a lease its owner revokes, or whose store closes, is no loss);
- ``kvstore_lock_lost``: a held lock, or an election's leadership, was lost with its lease.

An observer is any object with ``@hookimpl`` methods named after the events it wants
(every argument is passed by keyword; take only those you need)::

    from kvstore.plugins import events
    from kvstore.plugins.hookspecs import hookimpl

    class Counting:
        retries = 0

        @hookimpl
        def kvstore_retry(self, store, operation):
            self.retries += 1

    observer = Counting()
    events.register(observer)   # until events.unregister(observer)

``store`` is the store that reports: the backend store for retries, switches and
resumes, the store a lease or lock was made from for losses (so an observer that wants
one store's events compares identities; ``TracingStore`` does, along its ``inner``
chain). Hooks run in the reporting thread (or event-loop task, or a store's stream
thread), so they must be quick and must not call the store. An exception in a hook is
logged and otherwise ignored: an observer cannot break a store. With no observer
registered, reporting costs one attribute test.

Layering: this module imports only ``pluggy`` and the standard library, so every core
module (leases, the recipes, the backends) may report. That is also why kvstore's pluggy
project name and its two markers are declared here, once for every hook:
``kvstore.plugins.hookspecs`` (the backend hooks) takes them from this module and
re-exports them, and plugins and observers take ``hookimpl`` from there.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import pluggy

__all__ = [
    "PROJECT_NAME",
    "active",
    "hookimpl",
    "hookspec",
    "kvstore_endpoint_switch",
    "kvstore_keepalive_lost",
    "kvstore_lock_lost",
    "kvstore_retry",
    "kvstore_watch_resume",
    "register",
    "report",
    "unregister",
]

PROJECT_NAME = "kvstore"
"""The pluggy project name and the entry-point group."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

_log = logging.getLogger(__name__)


@hookspec
def kvstore_retry(store: object, operation: str, endpoint: str, reason: str) -> None:
    """A call is sent again after a transient failure.

    Args:
        store: The backend store that retries.
        operation: The kvstore operation (``"get"``, ``"put"``, ``"txn"`` ...).
        endpoint: The endpoint that failed (``"host:port"``).
        reason: ``"unavailable"`` or ``"deadline"``.
    """


@hookspec
def kvstore_endpoint_switch(store: object, previous: str, current: str) -> None:
    """The store's calls go to ``current`` from now on, no longer to ``previous``.

    Args:
        store: The backend store.
        previous: The endpoint used until now.
        current: The endpoint used next.
    """


@hookspec
def kvstore_watch_resume(store: object, watches: int, endpoint: str) -> None:
    """The watches of a store were created again on a new stream after theirs broke.

    Args:
        store: The backend store whose watch stream broke.
        watches: How many watches resumed.
        endpoint: The endpoint of the new stream.
    """


@hookspec
def kvstore_keepalive_lost(store: object, lease_id: int, reason: str) -> None:
    """A kept-alive lease was lost: it expired or someone else revoked it.

    Args:
        store: The store the keep-alive renewed through.
        lease_id: The lease.
        reason: Why, in words (``"the store no longer knows it"`` ...).
    """


@hookspec
def kvstore_lock_lost(store: object, name: str, kind: str, reason: str) -> None:
    """A held lock, or an election's leadership, was lost with its session's lease.

    Args:
        store: The store the lock or election was made from.
        name: The lock's or election's name.
        kind: ``"lock"`` or ``"election"``.
        reason: Why, in words.
    """


_lock = threading.Lock()
_manager = pluggy.PluginManager(PROJECT_NAME)
_manager.add_hookspecs(sys.modules[__name__])  # the ``@hookspec`` functions above
active = False
"""Whether any observer is registered (reporting is skipped otherwise)."""


def register(observer: object) -> None:
    """Give ``observer``'s ``@hookimpl`` methods every event from now on.

    Raises:
        ValueError: ``observer`` is registered already.
        pluggy.PluginValidationError: A hook method is not one of the events above, or
            takes an argument the event does not have.
    """
    global active
    with _lock:
        _manager.register(observer)
        active = True


def unregister(observer: object) -> None:
    """Stop giving events to ``observer``; an observer not registered is ignored."""
    global active
    with _lock:
        if _manager.is_registered(observer):
            _manager.unregister(observer)
        active = bool(_manager.get_plugins())


def report(event: str, **arguments: Any) -> None:
    """Call hook ``kvstore_<event>`` of every observer (the stores' one way to report).

    Callers test ``events.active`` first where the arguments cost something to build.
    """
    if not active:
        return
    try:
        getattr(_manager.hook, f"kvstore_{event}")(**arguments)
    except Exception:  # noqa: BLE001 - an observer must not break the store
        _log.exception("an observer of kvstore_%s failed", event)
