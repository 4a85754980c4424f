"""A separate process for the cross-process recipe tests, on a store named by a URL
(``sqlite:///...`` or ``postgresql://...``).

Usage::

    python tests/sql/sql_recipe_worker.py stm URL ROUNDS SEED
        ROUNDS STM transfers of 1 between random accounts ``acct/0`` .. ``acct/3``, each
        also adding 1 to ``transfers`` in the same transaction. Prints ``done``.

    python tests/sql/sql_recipe_worker.py rwlock URL ROUNDS
        ROUNDS increments of ``counter`` under the write lock of the RWLock ``rw``, each
        guarded by the holder's fencing token (``guard()``) and recording
        ``tokens/<token>``. Prints ``done``.

    python tests/sql/sql_recipe_worker.py semaphore URL ROUNDS
        The same under a one-holder ``Semaphore`` named ``sem``.

    python tests/sql/sql_recipe_worker.py mirror URL PREFIX SENTINEL
        Mirrors PREFIX, prints ``ready`` once the mirror has its first listing, then waits
        until the mirror holds SENTINEL and prints ``{"revision", "items"}`` (JSON) of
        the mirror at that moment.

Every line of output is flushed at once. Exit status 0 means success.
"""

from __future__ import annotations

import json
import random
import sys
import time

import kvstore
from kvstore.base import BaseStore
from kvstore.recipes import STM
from kvstore.txn import Put

WAIT_SECONDS = 60.0


def _say(line: str) -> None:
    print(line, flush=True)


def stm(store: BaseStore, rounds: int, seed: int) -> None:
    chooser = random.Random(seed)

    def transfer(source: str, target: str) -> None:
        def apply(tx: STM) -> None:
            balance = int(tx.get(source) or b"0")
            tx.put(source, str(balance - 1).encode())
            tx.put(target, str(int(tx.get(target) or b"0") + 1).encode())
            tx.put("transfers", str(int(tx.get("transfers") or b"0") + 1).encode())

        store.stm(apply)

    for _ in range(rounds):
        source, target = chooser.sample(range(4), 2)
        transfer(f"acct/{source}", f"acct/{target}")
    _say("done")


def guarded_increments(store: BaseStore, kind: str, rounds: int) -> None:
    for _ in range(rounds):
        holder = (
            store.new_rwlock("rw", ttl=10).write_lock(timeout=60)
            if kind == "rwlock"
            else store.new_semaphore("sem", 1, ttl=10)
        )
        assert holder.acquire(timeout=60), "no turn within a minute"
        token = holder.fencing_token
        kv = store.get_kv("counter")
        value = 0 if kv is None else int(kv.value)
        result = store.kv_txn(
            [holder.guard()],
            [Put("counter", str(value + 1).encode()), Put(f"tokens/{token:020d}", b"1")],
            [],
        )
        assert result.succeeded, "the hold was lost while held"
        holder.release()
    _say("done")


def mirror(store: BaseStore, prefix: str, sentinel: str) -> None:
    with store.mirror(prefix) as mirrored:
        deadline = time.monotonic() + WAIT_SECONDS
        while not mirrored.synced:
            assert time.monotonic() < deadline, "the mirror never listed"
            time.sleep(0.01)
        _say("ready")
        while sentinel not in dict(mirrored.items()):
            assert time.monotonic() < deadline, "the mirror never saw the sentinel"
            time.sleep(0.01)
        items = [[key, value.decode()] for key, value in mirrored.items()]
        _say(json.dumps({"revision": mirrored.revision, "items": items}))


def main(argv: list[str]) -> int:
    command, url, *rest = argv
    store = kvstore.open(url)
    assert isinstance(store, BaseStore)
    try:
        if command == "stm":
            stm(store, int(rest[0]), int(rest[1]))
        elif command in ("rwlock", "semaphore"):
            guarded_increments(store, command, int(rest[0]))
        elif command == "mirror":
            mirror(store, rest[0], rest[1])
        else:
            raise SystemExit(f"unknown command {command!r}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
