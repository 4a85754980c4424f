"""A separate process for the multi-process tests on one database (SQLite or PostgreSQL).

Usage (each command opens its own store on URL, ``kvstore.open(URL)``)::

    python tests/sql/sql_worker.py increment URL ROUNDS
        ROUNDS lock-protected read-modify-write increments of ``counter``; each writes,
        guarded by the lock (``lock.guard()``), the new value and ``tokens/<token>``
        (the fencing token, zero-padded). Prints ``done``.

    python tests/sql/sql_worker.py write URL PREFIX COUNT
        Prints ``ready``, waits for a line on stdin, then puts ``PREFIX<i>`` = ``<i>`` for
        i < COUNT as fast as it can, and prints the revisions the puts returned (JSON).

    python tests/sql/sql_worker.py mixed URL PREFIX COUNT
        Prints ``ready``, waits for a line on stdin, then makes COUNT writes, in turn a
        put, a transaction putting two keys, and a delete of an existing key, and prints
        the events a watch of PREFIX must see (JSON ``[type, key, value, revision]``).

    python tests/sql/sql_worker.py unique URL PREFIX COUNT
        Prints ``ready``, waits for a line on stdin, then puts ``PREFIX<i>`` = ``<i>``
        for i < COUNT, each once: a write that fails with ``UnavailableError`` (nothing
        written) is tried again, one that fails with ``IndeterminateError`` is not.
        Prints ``{"acked": [[key, revision], ...], "indeterminate": [key, ...]}`` (JSON).

    python tests/sql/sql_worker.py watch URL PREFIX SENTINEL
        Watches PREFIX from now, prints ``ready``, then prints every event up to the put
        of SENTINEL (JSON: ``[type, key, value, revision]`` each) and exits.

    python tests/sql/sql_worker.py lease URL KEY TTL
        Grants a lease of TTL seconds, puts KEY on it, keeps it alive (the store's
        keep-alive), prints ``{"lease", "revision"}`` (JSON) and sleeps until killed.

    python tests/sql/sql_worker.py stall URL KEY
        Starts a write transaction through the store's engine that puts KEY and moves the
        revision counter, prints ``stalled`` and sleeps inside it until killed (the
        test's SIGKILL lands mid-transaction).

Every line of output is flushed at once. Exit status 0 means success.
"""

from __future__ import annotations

import json
import sys
import time

import kvstore
from kvstore import BaseStore, Delete, Put
from kvstore.errors import IndeterminateError, UnavailableError
from kvstore.types import EventType

EVENT_TIMEOUT = 30.0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def increment(store: BaseStore, rounds: int) -> None:
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


def write(store: BaseStore, prefix: str, count: int) -> None:
    _say("ready")
    sys.stdin.readline()
    revisions = [store.put(f"{prefix}{i}", str(i).encode()) for i in range(count)]
    _say(json.dumps(revisions))


def mixed(store: BaseStore, prefix: str, count: int) -> None:
    _say("ready")
    sys.stdin.readline()
    events: list[list[object]] = []
    live: list[str] = []
    for i in range(count):
        if i % 3 == 0:
            key = f"{prefix}{i}"
            revision = store.put(key, str(i).encode())
            events.append(["PUT", key, str(i), revision])
            live.append(key)
        elif i % 3 == 1:
            a, b = f"{prefix}{i}/a", f"{prefix}{i}/b"
            result = store.kv_txn([], [Put(a, b"a"), Put(b, b"b")], [])
            events += [["PUT", a, "a", result.revision], ["PUT", b, "b", result.revision]]
            live += [a, b]
        else:
            key = live.pop(0)
            deleted = store.kv_txn([], [Delete(key)], [])
            events.append(["DELETE", key, "", deleted.revision])
    _say(json.dumps(events))


def unique(store: BaseStore, prefix: str, count: int) -> None:
    acked: list[list[object]] = []
    indeterminate: list[str] = []
    _say("ready")
    sys.stdin.readline()
    for i in range(count):
        key = f"{prefix}{i}"
        while True:
            try:
                acked.append([key, store.put(key, str(i).encode())])
            except UnavailableError:
                time.sleep(0.05)  # nothing was written: the same write again
                continue
            except IndeterminateError:
                indeterminate.append(key)  # written or not: never again
            break
    _say(json.dumps({"acked": acked, "indeterminate": indeterminate}))


def watch(store: BaseStore, prefix: str, sentinel: str) -> None:
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


def lease(store: BaseStore, key: str, ttl: int) -> None:
    lease = store.lease(ttl)
    revision = store.put(key, b"leased", lease=lease.id)
    store.keep_alive(lease)
    _say(json.dumps({"lease": lease.id, "revision": revision}))
    time.sleep(3600)


def stall(store: BaseStore, key: str) -> None:
    engine = store._engine  # type: ignore[attr-defined]
    with engine._writing("put"):
        change = engine.new_change()
        engine.apply_put(Put(key, b"never committed"), change)
        engine.commit(change)
        _say("stalled")
        time.sleep(3600)


def main(argv: list[str]) -> int:
    command, url, *rest = argv
    store = kvstore.open(url)
    try:
        if command == "increment":
            increment(store, int(rest[0]))
        elif command == "write":
            write(store, rest[0], int(rest[1]))
        elif command == "mixed":
            mixed(store, rest[0], int(rest[1]))
        elif command == "unique":
            unique(store, rest[0], int(rest[1]))
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
