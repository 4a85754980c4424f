"""Recipes across processes on one database, SQLite and PostgreSQL (SPEC 22): STM
transactions of 4 processes conserve the total and lose no commit; the write lock of a
``RWLock`` and a one-holder ``Semaphore`` exclude with fencing; a mirror in another
process ends equal to the store. (Locks across processes: ``test_processes.py``.)
The other processes are ``tests/sql/sql_recipe_worker.py``; leases run on the wall clock.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from worker_processes import read_line, spawn

from kvstore.base import BaseStore
from kvstore.keys import prefix_range_end
from kvstore.txn import Delete, Put

WORKER = Path(__file__).with_name("sql_recipe_worker.py")
TIMEOUT = 180.0


def _spawn(*args: object) -> subprocess.Popen[str]:
    return spawn(WORKER, *args)


def _line(process: subprocess.Popen[str]) -> str:
    return read_line(process, TIMEOUT)


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out.strip()


def test_stm_transfers_of_four_processes_conserve_the_total(
    database_url: str, database_store: BaseStore
) -> None:
    database_store.bulk_put({f"acct/{n}": b"100" for n in range(4)})
    workers = [_spawn("stm", database_url, 25, seed) for seed in range(4)]
    for worker in workers:
        assert _finish(worker) == "done"
    balances = [int(database_store.get(f"acct/{n}")) for n in range(4)]
    assert sum(balances) == 400
    assert database_store.get("transfers") == b"100"  # every transfer committed once


@pytest.mark.parametrize("kind", ["rwlock", "semaphore"])
def test_holders_of_two_processes_exclude_with_fencing(
    database_url: str, database_store: BaseStore, kind: str
) -> None:
    workers = [_spawn(kind, database_url, 25) for _ in range(2)]
    for worker in workers:
        assert _finish(worker) == "done"
    assert database_store.get("counter") == b"50"
    tokens = database_store.kv_range("tokens/", prefix_range_end("tokens/")).kvs
    assert len(tokens) == 50  # one fencing token per holder, none twice
    by_revision = sorted(tokens, key=lambda kv: kv.mod_revision)
    assert [kv.key for kv in by_revision] == [kv.key for kv in tokens]


def test_a_mirror_in_another_process_ends_equal_to_the_store(
    database_url: str, database_store: BaseStore
) -> None:
    database_store.put("cfg/seed", b"0")
    mirror = _spawn("mirror", database_url, "cfg/", "cfg/zz-sentinel")
    try:
        assert _line(mirror) == "ready"
        for n in range(40):
            database_store.put(f"cfg/{n % 7}", str(n).encode())
            if n % 5 == 0:
                database_store.delete(f"cfg/{n % 3}")
            if n % 9 == 0:
                database_store.kv_txn(
                    [],
                    [Put(f"cfg/t{n}", b"a"), Delete("cfg/seed"), Put("other", b"x")],
                    [],
                )
        revision = database_store.put("cfg/zz-sentinel", b"end")
        seen = json.loads(_finish(mirror))
    finally:
        mirror.kill()
        mirror.wait()
    assert seen["revision"] == revision
    expected = database_store.kv_range("cfg/", prefix_range_end("cfg/"), revision=revision).kvs
    assert seen["items"] == [[kv.key, kv.value.decode()] for kv in expected]
