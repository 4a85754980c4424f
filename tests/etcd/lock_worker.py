"""A separate process for the multi-process lock and election tests on etcd.

Usage::

    python tests/etcd/lock_worker.py ENDPOINT NAME N
        N lock-protected read-modify-write increments of the key ``counter/NAME``;
        prints ``done`` at the end.

    python tests/etcd/lock_worker.py --hold ENDPOINT NAME TTL
        Takes the lock with a session of TTL seconds and prints ``{"key", "token"}`` as
        JSON. Then, after reading a line from stdin, makes a write of
        ``resource/NAME`` guarded by ``lock.guard()``, waits for ``lost`` and prints
        ``{"written", "lost", "is_locked"}``.

    python tests/etcd/lock_worker.py --campaign ENDPOINT NAME TTL VALUE
        Campaigns in the election NAME with VALUE, prints ``{"key", "token"}`` once
        leader, then waits for a line on stdin (tests kill it first), resigns and exits.

Every line of output is flushed at once so that the test can read it while the process
runs. Exit status 0 means success.
"""

from __future__ import annotations

import argparse
import json
import sys

from kvstore import Put
from kvstore_etcd import EtcdConfig, EtcdStore

LOST_WAIT_SECONDS = 30.0


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def increment(store: EtcdStore, name: str, rounds: int) -> None:
    """Do ``rounds`` increments of ``counter/<name>``, each while holding the lock."""
    counter = f"counter/{name}"
    lock = store.new_lock(name, ttl=10)
    for _ in range(rounds):
        lock.lock(timeout=60)
        kv = store.get_kv(counter)
        value = 0 if kv is None else int(kv.value)
        store.put(counter, str(value + 1).encode())
        lock.unlock()
    lock.close()
    _say("done")


def hold(store: EtcdStore, name: str, ttl: int) -> None:
    """Hold the lock across a pause, then try a fenced write and report the outcome."""
    lock = store.new_lock(name, ttl=ttl)
    lock.lock(timeout=60)
    _say(json.dumps({"key": lock.key, "token": lock.fencing_token}))
    sys.stdin.readline()
    written = (
        store.transaction()
        .if_(lock.guard())
        .then(Put(f"resource/{name}", b"from the paused holder"))
        .commit()
        .succeeded
    )
    lost = lock.lost.wait(LOST_WAIT_SECONDS)
    _say(json.dumps({"written": written, "lost": lost, "is_locked": lock.is_locked}))
    lock.close()


def campaign(store: EtcdStore, name: str, ttl: int, value: bytes) -> None:
    """Lead the election NAME until told to stop (or killed)."""
    election = store.new_election(name, ttl=ttl)
    election.campaign(value, timeout=60)
    _say(json.dumps({"key": election.key, "token": election.fencing_token}))
    sys.stdin.readline()
    election.close()


def main(argv: list[str]) -> int:
    """Parse the arguments, run the chosen mode, and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--hold", action="store_true")
    mode.add_argument("--campaign", action="store_true")
    parser.add_argument("endpoint")
    parser.add_argument("name")
    parser.add_argument("number", type=int, help="increments, or the TTL with --hold/--campaign")
    parser.add_argument("value", nargs="?", default="", help="the value with --campaign")
    args = parser.parse_args(argv)
    store = EtcdStore(EtcdConfig(endpoints=[args.endpoint], request_timeout=10.0))
    try:
        if args.hold:
            hold(store, args.name, args.number)
        elif args.campaign:
            campaign(store, args.name, args.number, args.value.encode())
        else:
            increment(store, args.name, args.number)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
