"""A separate process for the tooz driver's multi-process tests.

Usage::

    python tests/tooz/tooz_worker.py lock URL NAME N
        N increments of the key ``counter/NAME``, each in one hold of the tooz lock NAME:
        read the counter and the last fencing token, then write both in a transaction
        guarded by the lock's ``guard()``. Prints one JSON line per hold
        (``{"token", "previous_token", "written"}``), then ``done``.

    python tests/tooz/tooz_worker.py member URL GROUP MEMBER
        Starts a coordinator with its heart beating, joins GROUP as MEMBER, prints
        ``joined`` and waits (the test SIGKILLs it).

    python tests/tooz/tooz_worker.py leader URL GROUP MEMBER
        Starts a coordinator, watches its election in GROUP, runs the watchers until it is
        elected, prints ``leader`` and waits (the test SIGKILLs it).

Every line is flushed at once, so that the test reads it while the process runs.
"""

from __future__ import annotations

import json
import sys
import time

from tooz import coordination

from kvstore.txn import Get, Put

COUNTER = "counter/"
TOKEN = "token/"


def lock(url: str, name: str, count: int) -> None:
    coordinator = coordination.get_coordinator(url, f"locker-{name}".encode())
    coordinator.start()
    store = coordinator.store  # type: ignore[attr-defined]
    tooz_lock = coordinator.get_lock(name.encode())
    for _ in range(count):
        with tooz_lock:
            counter = store.kv_range(Get(COUNTER + name)).kvs
            token = store.kv_range(Get(TOKEN + name)).kvs
            value = int(counter[0].value) if counter else 0
            previous = int(token[0].value) if token else 0
            mine = tooz_lock.fencing_token
            written = store.kv_txn(
                [tooz_lock.guard()],
                [Put(COUNTER + name, b"%d" % (value + 1)), Put(TOKEN + name, b"%d" % mine)],
                [],
            ).succeeded
        print(json.dumps({"token": mine, "previous_token": previous, "written": written}))
    coordinator.stop()
    print("done")


def member(url: str, group: str, member_id: str) -> None:
    coordinator = coordination.get_coordinator(url, member_id.encode())
    coordinator.start(start_heart=True)
    coordinator.join_group_create(group.encode())
    print("joined")
    time.sleep(3600)


def leader(url: str, group: str, member_id: str) -> None:
    coordinator = coordination.get_coordinator(url, member_id.encode())
    coordinator.start(start_heart=True)
    elected: list[object] = []
    coordinator.watch_elected_as_leader(group.encode(), elected.append)
    while not elected:
        coordinator.run_watchers()
        time.sleep(0.1)
    print("leader")
    time.sleep(3600)


def main(argv: list[str]) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    mode, url, *rest = argv
    if mode == "lock":
        lock(url, rest[0], int(rest[1]))
    elif mode == "member":
        member(url, rest[0], rest[1])
    elif mode == "leader":
        leader(url, rest[0], rest[1])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
