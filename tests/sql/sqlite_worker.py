"""A separate process for the multi-process tests on one SQLite file.

Usage (each command opens its own ``SQLiteStore`` on PATH)::

    python tests/sql/sqlite_worker.py increment PATH ROUNDS
        ROUNDS lock-protected read-modify-write increments of ``counter``; each writes,
        guarded by the lock (``lock.guard()``), the new value and ``tokens/<token>``
        (the fencing token, zero-padded). Prints ``done``.

    python tests/sql/sqlite_worker.py write PATH PREFIX COUNT
        Prints ``ready``, waits for a line on stdin, then puts ``PREFIX<i>`` = ``<i>`` for
        i < COUNT as fast as it can, and prints the revisions the puts returned (JSON).

    python tests/sql/sqlite_worker.py watch PATH PREFIX SENTINEL
        Watches PREFIX from now, prints ``ready``, then prints every event up to the put
        of SENTINEL (JSON: ``[type, key, value, revision]`` each) and exits.

    python tests/sql/sqlite_worker.py lease PATH KEY TTL
        Grants a lease of TTL seconds, puts KEY on it, prints ``{"lease", "revision"}``
        (JSON) and sleeps until killed: nothing renews the lease.

    python tests/sql/sqlite_worker.py stall PATH KEY
        Starts a write transaction through the store's engine that puts KEY and moves the
        revision counter, prints ``stalled`` and sleeps inside it until killed (the
        test's SIGKILL lands mid-transaction).

Every line of output is flushed at once. Exit status 0 means success.
"""

from __future__ import annotations

import json
import sys
import time

from kvstore import Put
from kvstore.types import EventType
from kvstore_sql import SQLiteStore

EVENT_TIMEOUT = 30.0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def increment(store: SQLiteStore, rounds: int) -> None:
    lock = store.new_lock("counter-lock", ttl=10)
    for _ in range(rounds):
        lock.lock(timeout=60)
        token = lock.fencing_token
        assert token is not None
        kv = store.get_kv("counter")
        value = 0 if kv is None else int(kv.value)
        result = store.kv_txn(
            [lock.guard()],
            [Put("counter", str(value + 1).encode()), Put(f"tokens/{token:020d}", b"1")],
            [],
        )
        assert result.succeeded, "the lock was lost while held"
        lock.unlock()
    lock.close()
    _say("done")


def write(store: SQLiteStore, prefix: str, count: int) -> None:
    _say("ready")
    sys.stdin.readline()
    revisions = [store.put(f"{prefix}{i}", str(i).encode()) for i in range(count)]
    _say(json.dumps(revisions))


def watch(store: SQLiteStore, prefix: str, sentinel: str) -> None:
    events: list[list[object]] = []
    with store.watch_prefix(prefix) as stream:
        _say("ready")
        while True:
            event = stream.next_event(EVENT_TIMEOUT)
            assert event is not None, f"no event for {EVENT_TIMEOUT} s after {events[-3:]}"
            events.append(
                [event.type.value, event.kv.key, event.kv.value.decode(), event.kv.mod_revision]
            )
            if event.type is EventType.PUT and event.kv.key == sentinel:
                break
    _say(json.dumps(events))


def lease(store: SQLiteStore, key: str, ttl: int) -> None:
    grant = store.lease_grant(ttl)
    revision = store.put(key, b"leased", lease=grant.id)
    _say(json.dumps({"lease": grant.id, "revision": revision}))
    time.sleep(3600)


def stall(store: SQLiteStore, key: str) -> None:
    engine = store._engine
    with engine._writing("put"):
        change = engine.new_change()
        engine.apply_put(Put(key, b"never committed"), change)
        engine.commit(change)
        _say("stalled")
        time.sleep(3600)


def main(argv: list[str]) -> int:
    command, path, *rest = argv
    store = SQLiteStore(path)
    try:
        if command == "increment":
            increment(store, int(rest[0]))
        elif command == "write":
            write(store, rest[0], int(rest[1]))
        elif command == "watch":
            watch(store, rest[0], rest[1])
        elif command == "lease":
            lease(store, rest[0], int(rest[1]))
        elif command == "stall":
            stall(store, rest[0])
        else:
            raise SystemExit(f"unknown command {command!r}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
