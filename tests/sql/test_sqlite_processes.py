"""Many processes on one SQLite file (SPEC 22): locks exclude with fencing, revisions are
gapless across writers, watches see every other process's writes exactly once in order,
an expired lease is revoked once, and a writer killed mid-transaction leaves the file
consistent. The other processes are ``tests/sql/sqlite_worker.py``; leases run on the
wall clock here, as they do in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.types import EventType
from kvstore_sql import SQLiteStore

WORKER = Path(__file__).with_name("sqlite_worker.py")
TIMEOUT = 120.0


def _spawn(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        _, err = process.communicate(timeout=TIMEOUT)
        raise AssertionError(f"the worker ended without a word: {err}")
    return line.strip()


def _finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    return out.strip()


def _kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)


def _revision(store: SQLiteStore) -> int:
    return store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision


def test_four_processes_of_locked_increments_end_exact_with_increasing_tokens(
    sqlite_path: Path,
) -> None:
    # the workers also race to create the file and its tables
    workers = [_spawn("increment", sqlite_path, 50) for _ in range(4)]
    for worker in workers:
        assert _finish(worker) == "done"
    with SQLiteStore(sqlite_path) as store:
        assert store.get("counter") == b"200"
        tokens = store.kv_range("tokens/", prefix_range_end("tokens/")).kvs
        assert len(tokens) == 200  # one fencing token per holder, none twice
        # in the order the holders wrote (revisions), the tokens strictly increase
        by_revision = sorted(tokens, key=lambda kv: kv.mod_revision)
        assert [kv.key for kv in by_revision] == [kv.key for kv in tokens]


def test_four_processes_writing_at_once_get_gapless_revisions(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as store:
        base = _revision(store)
        writers = [_spawn("write", sqlite_path, f"w{n}/", 50) for n in range(4)]
        for writer in writers:
            assert _line(writer) == "ready"
        for writer in writers:  # go, all at once
            assert writer.stdin is not None
            writer.stdin.write("\n")
            writer.stdin.flush()
        got = [json.loads(_finish(writer)) for writer in writers]
        for revisions in got:
            assert revisions == sorted(revisions)
        every = sorted(revision for revisions in got for revision in revisions)
        assert every == list(range(base + 1, base + 201))
        assert _revision(store) == base + 200


def test_a_watch_sees_other_processes_writes_once_in_order(sqlite_path: Path) -> None:
    SQLiteStore(sqlite_path).close()
    watcher = _spawn("watch", sqlite_path, "w/", "w/sentinel")
    assert _line(watcher) == "ready"
    writers = [_spawn("write", sqlite_path, f"w/{n}/", 60) for n in range(2)]
    for writer in writers:
        assert _line(writer) == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("\n")
        writer.stdin.flush()
    written = []
    for n, writer in enumerate(writers):
        revisions = json.loads(_finish(writer))
        written += [["PUT", f"w/{n}/{i}", str(i), r] for i, r in enumerate(revisions)]
    with SQLiteStore(sqlite_path) as store:
        store.put("outside", b"not watched")
        end = store.put("w/sentinel", b"end")
    events = json.loads(_finish(watcher))
    # every write of both writers, each once, at the revision its writer got, in order
    in_order = sorted(written, key=lambda event: event[3])
    assert events == [*in_order, ["PUT", "w/sentinel", "end", end]]


def test_an_expired_lease_is_revoked_once_when_its_holder_is_gone(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as first, SQLiteStore(sqlite_path) as second:
        holder = _spawn("lease", sqlite_path, "leased", 2)
        granted = json.loads(_line(holder))
        _kill(holder)  # nothing renews the lease now (it may even be gone already)
        with (
            first.watch("leased", start_revision=granted["revision"] + 1) as one,
            second.watch("leased", start_revision=granted["revision"] + 1) as two,
        ):
            # both stores' feeds reap: the lease goes once, its key at one revision
            events = [one.next_event(10), two.next_event(10)]
            for event in events:
                assert event is not None
                assert (event.type, event.kv.key) == (EventType.DELETE, "leased")
                assert event.kv.mod_revision == granted["revision"] + 1
            assert one.next_event(0.3) is None and two.next_event(0) is None
        assert not second.exists("leased")
        assert granted["lease"] not in first.lease_leases()
        assert _revision(first) == _revision(second) == granted["revision"] + 1


def test_a_writer_killed_mid_transaction_leaves_the_file_consistent(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as store:
        before = store.put("before", b"1")
        staller = _spawn("stall", sqlite_path, "stalled")
        assert _line(staller) == "stalled"
        # a write now queues behind the stalled transaction's write lock...
        results: list[int] = []
        writer = threading.Thread(target=lambda: results.append(store.put("after", b"2")))
        writer.start()
        writer.join(0.3)
        assert writer.is_alive()
        # ...and goes on once the process holding it is killed
        _kill(staller)
        writer.join(TIMEOUT)
        assert results == [before + 1]  # the stalled transaction's revision was never taken
        assert not store.exists("stalled")
        assert store.get("before") == b"1" and store.get("after") == b"2"
        with store.watch_prefix("", start_revision=before) as watch:
            seen = [watch.next_event(5), watch.next_event(5)]
            assert [(e.kv.key, e.kv.mod_revision) for e in seen if e is not None] == [
                ("before", before),
                ("after", before + 1),
            ]
