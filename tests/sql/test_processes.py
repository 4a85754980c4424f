"""Many processes on one database (SPEC 22), on SQLite and on PostgreSQL alike: locks
exclude with fencing, revisions are gapless across writers, a watch sees every other
process's writes exactly once in order, an expired lease is revoked once. On SQLite, a
writer killed mid-transaction leaves the file consistent; on PostgreSQL, the server
SIGKILLed and restarted under writes from 4 processes loses no acknowledged write,
applies none twice, and every watch resumes without gap or duplicate. The other
processes are ``tests/sql/sql_worker.py``; leases run on the wall clock (the server's
on PostgreSQL), as in production.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from worker_processes import read_line, spawn

import kvstore
from kvstore import BaseStore
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.types import EventType
from kvstore_sql import SQLiteStore
from kvstore_sql.launcher import PostgresServer

WORKER = Path(__file__).with_name("sql_worker.py")
TIMEOUT = 120.0


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A database of the test's own: a SQLite file, or a PostgreSQL schema."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def _spawn(*args: object) -> subprocess.Popen[str]:
    return spawn(WORKER, *args)


def _line(process: subprocess.Popen[str]) -> str:
    return read_line(process, TIMEOUT)


def _go(*processes: subprocess.Popen[str]) -> None:
    """Each waits for ``ready``; then all start at once."""
    for process in processes:
        assert _line(process) == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("\n")
        process.stdin.flush()


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out.strip()


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)


def _revision(store: BaseStore) -> int:
    return store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision


def test_four_processes_of_locked_increments_end_exact_with_increasing_tokens(
    db_url: str,
) -> None:
    # the workers also race to create the database's tables
    workers = [_spawn("increment", db_url, 50) for _ in range(4)]
    for worker in workers:
        assert _finish(worker) == "done"
    with kvstore.open(db_url) as store:
        assert store.get("counter") == b"200"
        tokens = store.kv_range("tokens/", prefix_range_end("tokens/")).kvs
        assert len(tokens) == 200  # one fencing token per holder, none twice
        # in the order the holders wrote (revisions), the tokens strictly increase
        by_revision = sorted(tokens, key=lambda kv: kv.mod_revision)
        assert [kv.key for kv in by_revision] == [kv.key for kv in tokens]


def test_four_processes_writing_at_once_get_gapless_revisions(db_url: str) -> None:
    with kvstore.open(db_url) as store:
        base = _revision(store)
        writers = [_spawn("write", db_url, f"w{n}/", 50) for n in range(4)]
        _go(*writers)
        got = [json.loads(_finish(writer)) for writer in writers]
        for revisions in got:
            assert revisions == sorted(revisions)
        every = sorted(revision for revisions in got for revision in revisions)
        assert every == list(range(base + 1, base + 201))
        assert _revision(store) == base + 200


def test_a_watch_sees_other_processes_writes_once_in_order(db_url: str) -> None:
    kvstore.open(db_url).close()
    watcher = _spawn("watch", db_url, "w/", "w/sentinel")
    assert _line(watcher) == "ready"
    # 500 writes of every kind (puts, deletes, two-key transactions), and plain puts
    # from another process at the same time
    mixed = _spawn("mixed", db_url, "w/m/", 500)
    plain = _spawn("write", db_url, "w/p/", 60)
    _go(mixed, plain)
    expected = json.loads(_finish(mixed))
    revisions = json.loads(_finish(plain))
    expected += [["PUT", f"w/p/{i}", str(i), r] for i, r in enumerate(revisions)]
    with kvstore.open(db_url) as store:
        store.put("outside", b"not watched")
        end = store.put("w/sentinel", b"end")
    events = json.loads(_finish(watcher))
    # every write, each once, at the revision its writer got, in revision order (the
    # events of one transaction in its order)
    in_order = sorted(expected, key=lambda event: event[3])
    assert events == [*in_order, ["PUT", "w/sentinel", "end", end]]


def test_a_kept_alive_lease_is_revoked_once_when_its_holder_is_killed(db_url: str) -> None:
    with kvstore.open(db_url) as first, kvstore.open(db_url) as second:
        holder = _spawn("lease", db_url, "leased", 2)
        granted = json.loads(_line(holder))
        start = granted["revision"] + 1
        watcher = _spawn("watch", db_url, "leased", "leased/end")  # a third process
        assert _line(watcher) == "ready"
        with (
            first.watch("leased", start_revision=start) as one,
            second.watch("leased", start_revision=start) as two,
        ):
            time.sleep(3)  # past its TTL: the holder's keep-alive keeps it
            assert first.get("leased") == b"leased"
            asked = time.monotonic()
            remaining = first.lease_time_to_live(granted["lease"]).ttl  # whole seconds, cut
            _kill(holder)  # nothing renews the lease now
            # both stores' feeds reap: the lease goes once, its key at one revision
            events = [one.next_event(15), two.next_event(15)]
            # ...and not before the TTL it had left when asked (a bound that load cannot
            # break: it only makes the revocation later)
            assert time.monotonic() >= asked + remaining - 0.2
            for event in events:
                assert event is not None
                assert (event.type, event.kv.key) == (EventType.DELETE, "leased")
                assert event.kv.mod_revision == start
            assert one.next_event(0.5) is None and two.next_event(0) is None
        assert not second.exists("leased")
        assert granted["lease"] not in first.lease_leases()
        assert _revision(first) == _revision(second) == start
        first.put("leased/end", b"end")
        assert json.loads(_finish(watcher)) == [
            ["DELETE", "leased", "", start],
            ["PUT", "leased/end", "end", start + 1],
        ]


def test_a_sqlite_writer_killed_mid_transaction_leaves_the_file_consistent(
    sqlite_path: Path,
) -> None:
    url = f"sqlite:///{sqlite_path}"
    with SQLiteStore(sqlite_path) as store:
        before = store.put("before", b"1")
        other = _spawn("write", url, "w/", 20)  # opened (open probes the write lock)...
        assert _line(other) == "ready"
        staller = _spawn("stall", url, "stalled")
        assert _line(staller) == "stalled"
        # writes now queue behind the stalled transaction's write lock: a thread of this
        # process and another process...
        results: list[int] = []
        writer = threading.Thread(target=lambda: results.append(store.put("after", b"2")))
        writer.start()
        assert other.stdin is not None
        other.stdin.write("\n")  # ...and told to write only now
        other.stdin.flush()
        writer.join(0.3)
        assert writer.is_alive()
        # ...and go on, without an error, once the process holding it is killed
        _kill(staller)
        writer.join(TIMEOUT)
        others = json.loads(_finish(other))
        assert not store.exists("stalled")
        assert store.get("before") == b"1" and store.get("after") == b"2"
        # the stalled transaction's revision was never taken: the writes that waited
        # got the next revisions, without a gap
        assert sorted(results + others) == list(range(before + 1, before + 22))
        expected = sorted(
            [("before", before), ("after", results[0])]
            + [(f"w/{index}", revision) for index, revision in enumerate(others)],
            key=lambda pair: pair[1],
        )
        with store.watch_prefix("", start_revision=before) as watch:
            seen = [watch.next_event(5) for _ in expected]
            assert [(e.kv.key, e.kv.mod_revision) for e in seen if e is not None] == expected
            assert watch.next_event(0.3) is None
        last = _revision(store)
    # the file opens consistent: SQLite's own check, and a new store reads the same state
    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    with SQLiteStore(sqlite_path) as reopened:
        assert _revision(reopened) == last
        assert reopened.get("after") == b"2"
        assert [kv.key for kv in reopened.kv_range("w/", prefix_range_end("w/")).kvs] == sorted(
            f"w/{index}" for index in range(20)
        )
        assert not reopened.exists("stalled")


@pytest.fixture
def crashable_postgres() -> Iterator[PostgresServer]:
    """A server of the test's own, to SIGKILL and restart (not the session's)."""
    with PostgresServer() as server:
        yield server


def test_postgres_killed_and_restarted_under_writes_loses_nothing_applies_nothing_twice(
    crashable_postgres: PostgresServer,
) -> None:
    server = crashable_postgres
    url = server.url_for(schema="crash")
    with kvstore.open(url) as store:
        base = _revision(store)
        watcher = _spawn("watch", url, "f/", "f/sentinel")
        assert _line(watcher) == "ready"
        with store.watch_prefix("f/", start_revision=base + 1) as watch:
            writers = [_spawn("unique", url, f"f/{n}/", 150) for n in range(4)]
            _go(*writers)
            deadline = time.monotonic() + TIMEOUT
            while _revision(store) < base + 150:  # the writers are well under way
                assert time.monotonic() < deadline, "the writers made no progress"
                time.sleep(0.02)
            server.kill()  # the postmaster and every backend, mid-writes
            time.sleep(0.5)
            server.start()  # crash recovery, same data directory and port
            results = [json.loads(_finish(writer)) for writer in writers]
            end = store.put("f/sentinel", b"end")
            # the watch of this process: every write, once, in order, then the sentinel
            seen = []
            while True:
                event = watch.next_event(30)
                assert event is not None, f"the watch stalled after {seen[-3:]}"
                seen.append((event.kv.key, event.kv.mod_revision, event.kv.version))
                if event.kv.key == "f/sentinel":
                    break
            assert watch.next_event(0.5) is None
        stored = {kv.key: kv for kv in store.kv_range("f/", prefix_range_end("f/")).kvs}
    acked = {key: revision for result in results for key, revision in result["acked"]}
    unknown = {key for result in results for key in result["indeterminate"]}
    # every acknowledged write is there, at the revision its writer got, applied once
    for key, revision in acked.items():
        assert key in stored, f"acknowledged write {key} at {revision} was lost"
        kv = stored[key]
        assert (kv.mod_revision, kv.create_revision, kv.version) == (revision, revision, 1)
    # a write of unknown outcome is there once or not at all; nothing else is there
    for key in unknown:
        assert key not in stored or stored[key].version == 1
    assert set(stored) - {"f/sentinel"} <= set(acked) | unknown
    assert len(acked) + len(unknown) == 600
    # the watches saw exactly the writes that are there, in revision order, no gap
    expected = sorted((kv.key, kv.mod_revision, kv.version) for kv in stored.values())
    expected.sort(key=lambda item: item[1])
    assert seen == expected
    assert [revision for _, revision, _ in seen] == list(range(base + 1, end + 1))
    events = json.loads(_finish(watcher))
    assert [(key, revision) for _, key, _, revision in events] == [
        (key, revision) for key, revision, _ in expected
    ]
