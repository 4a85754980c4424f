"""A separate process for the recipes' fault test (``test_recipe_faults.py``).

Usage::

    python tests/reliability/recipe_worker.py MODE STOPFILE ENDPOINTS NAME [LIMIT]

``ENDPOINTS`` is comma-separated. The worker loops until the file ``STOPFILE`` exists,
and prints one JSON object a line (flushed at once, so that the test reads it while the
process runs, and what a killed process printed is not lost):

- ``semaphore`` (with ``LIMIT``) and ``rwlock``: acquire a holder (a semaphore's, or every
  third round a write lock and else a read lock), print ``{"held": token, "kind": ...}``,
  then make ``WRITES`` writes guarded by ``guard()``, each a new key
  ``history/NAME/<token>/<n>`` (so that the store keeps the revision of every write
  that was applied), and release. A write the guard refused prints
  ``{"refused": token}`` and ends the hold.
- ``queue`` and ``priority_queue``: take items with ``get`` and print ``{"took": value}``.
- ``counter``: ``add(1)`` and print ``{"added": new value}``.
- ``double_barrier`` (with ``LIMIT``, the count): print ``{"entering": key}``, enter;
  print ``{"entered": token}``, ``{"timed_out": key}`` or ``{"too_many": true}`` (a round
  was under way), then leave and print ``{"left": token}``. An ``enter`` that fails prints
  ``{"error": "<type>", "failed_entering": key}``.

A call that fails (a member died under it) prints ``{"error": "<type>"}`` and the loop
goes on: the test counts those among the calls whose outcome is unknown.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from kvstore import KVStoreError, LockError, LockTimeoutError, Put
from kvstore.recipes import WriteLock
from kvstore.recipes._sync._waiters import Holder
from kvstore_etcd import EtcdConfig, EtcdStore

TTL = 2
"""The holders' session TTL: a paused holder loses its place after it."""
WRITES = 5
"""Guarded writes per hold, ``PAUSE`` apart: a hold lasts long enough to be hit by a fault.
A queue's or counter's worker also pauses after each take or add, so that the items last
the run."""
PAUSE = 0.1
WAIT = 5.0
"""How long one acquire or get waits before the loop looks at the stop file again."""


def _say(**record: object) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def _holder(store: EtcdStore, mode: str, name: str, limit: int, round_: int) -> Holder:
    if mode == "semaphore":
        return store.new_semaphore(name, limit, ttl=TTL)
    rwlock = store.new_rwlock(name, ttl=TTL)
    return rwlock.write_lock() if round_ % 3 == 0 else rwlock.read_lock()


def hold_once(store: EtcdStore, mode: str, name: str, limit: int, round_: int) -> None:
    """Acquire one holder, make the guarded writes, release."""
    holder = _holder(store, mode, name, limit, round_)
    try:
        if not holder.acquire(timeout=WAIT):
            _say(gave_up=type(holder).__name__)
            return
        token = holder.fencing_token
        kind = "write" if isinstance(holder, WriteLock) else "read"
        _say(held=token, kind=kind)
        for n in range(WRITES):
            write = Put(f"history/{name}/{token:012d}/{n}", kind.encode())
            try:
                applied = store.transaction().if_(holder.guard()).then(write).commit().succeeded
            except KVStoreError as exc:
                # A pause in the middle of the call outlives its deadline: the write may
                # have been applied (under the guard, so the history stays true), and the
                # next one tells whether the hold still stands.
                _say(error=type(exc).__name__)
                continue
            if not applied:
                _say(refused=token)
                break
            time.sleep(PAUSE)
    finally:
        # The session may be gone (a pause lost it) or a member may be down: the
        # release's failure is no news, the lease expires by itself.
        with contextlib.suppress(KVStoreError):
            holder.close()


def pass_barrier(store: EtcdStore, name: str, count: int) -> None:
    """Enter the double barrier of ``count`` and leave it."""
    barrier = store.new_double_barrier(name, count, ttl=TTL)
    try:
        barrier.session  # noqa: B018 - the sync API starts the member's session here
        key = barrier.key  # so that its key is known before it enters
        _say(entering=key)
        try:
            barrier.enter(timeout=WAIT)
        except LockTimeoutError:
            _say(timed_out=key)
            return
        except LockError as exc:
            if type(exc) is not LockError:
                _say(error=type(exc).__name__, failed_entering=key)
                time.sleep(PAUSE)
                return
            _say(too_many=True)
            time.sleep(PAUSE)
            return
        except KVStoreError as exc:
            # A member may be counted in the round that its own failed call never saw.
            _say(error=type(exc).__name__, failed_entering=key)
            time.sleep(PAUSE)
            return
        token = barrier.fencing_token
        _say(entered=token)
        time.sleep(PAUSE)
        barrier.leave(timeout=WAIT)
        _say(left=token)
    finally:
        with contextlib.suppress(KVStoreError):
            barrier.close()


def step(store: EtcdStore, mode: str, name: str, limit: int, round_: int) -> None:
    """One round of the loop of ``mode``."""
    if mode in ("semaphore", "rwlock"):
        hold_once(store, mode, name, limit, round_)
    elif mode in ("queue", "priority_queue"):
        queue = store.new_queue(name) if mode == "queue" else store.new_priority_queue(name)
        with contextlib.suppress(LockTimeoutError):
            _say(took=queue.get(timeout=WAIT).decode())
        time.sleep(PAUSE)
    elif mode == "double_barrier":
        pass_barrier(store, name, limit)
    elif mode == "counter":
        _say(added=store.new_counter(name).add(1))
        time.sleep(PAUSE)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


def main(argv: list[str]) -> int:
    """Run the loop of ``argv[0]`` until the stop file exists; the exit status."""
    mode, stopfile, endpoints, name = argv[:4]
    limit = int(argv[4]) if len(argv) > 4 else 1
    config = EtcdConfig(endpoints=endpoints.split(","), request_timeout=2.0, dial_timeout=2.0)
    store = EtcdStore(config)
    try:
        round_ = 0
        while not Path(stopfile).exists():
            round_ += 1
            try:
                step(store, mode, name, limit, round_)
            except KVStoreError as exc:
                _say(error=type(exc).__name__)
                time.sleep(0.1)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
