"""``SQLiteStore`` beyond the conformance suite: the file, its settings, its errors, several
stores on one file in one process, compaction and upkeep."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvstore import Put
from kvstore.errors import (
    CompactedError,
    ConfigurationError,
    OperationTimeoutError,
    UnsupportedOperationError,
)
from kvstore.keys import ALL_KEYS
from kvstore.testing import snapshot
from kvstore.types import EventType
from kvstore_memory import ManualClock, MemoryStore
from kvstore_sql import AsyncSQLiteStore, SQLiteConfig, SQLiteStore
from kvstore_sql import _engine as engine_module


def _revision(store: SQLiteStore) -> int:
    return store.kv_range(ALL_KEYS, ALL_KEYS, count_only=True).revision


# ---------------------------------------------------------------------- the file


def test_a_new_store_starts_at_revision_one(sqlite_store: SQLiteStore) -> None:
    assert _revision(sqlite_store) == 1
    assert sqlite_store.put("k", b"v") == 2


def test_the_data_outlives_the_store(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as store:
        store.put("a", b"1")
        lease = store.lease_grant(60)
        store.put("b", b"2", lease=lease.id)
        store.compact_revision(2)
        before = snapshot(store)
    with SQLiteStore(sqlite_path) as again:
        assert snapshot(again) == before
        assert again.lease_leases() == [lease.id]
        assert again.status().compact_revision == 2


def test_the_file_is_in_wal_mode_with_the_synchronous_asked_for(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as store:
        connection = store._engine._connection  # the store's own connection
        assert connection.execute("PRAGMA synchronous", ()).fetchone()[0] == 2  # FULL
    with SQLiteStore(sqlite_path, synchronous="normal") as store:
        connection = store._engine._connection
        assert connection.execute("PRAGMA synchronous", ()).fetchone()[0] == 1  # NORMAL
    with sqlite3.connect(sqlite_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT schema_version FROM kv_meta").fetchone()[0] == 1


def test_a_missing_directory_is_a_configuration_error_naming_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "kvstore.db"
    with pytest.raises(ConfigurationError) as info:
        SQLiteStore(path)
    message = str(info.value)
    assert str(path) in message and "does not exist" in message and "\n" not in message
    assert not path.parent.exists()  # nothing is created


def test_a_file_for_a_directory_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(ConfigurationError, match="does not exist"):
        SQLiteStore(tmp_path / "plain-file" / "kvstore.db")
    with pytest.raises(ConfigurationError) as info:
        SQLiteStore(tmp_path)  # a directory is no database file
    assert str(tmp_path) in str(info.value)


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the pages of a SQLite database\n" * 100)
    with pytest.raises(ConfigurationError) as info:
        SQLiteStore(path)
    assert str(path) in str(info.value) and "not a SQLite database" in str(info.value)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)  # sqlite3's is the cause


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` cannot be written while the block runs, even by root (``chattr +i``)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root ignores permissions, and there is no chattr")
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def test_a_directory_that_cannot_be_written_is_a_configuration_error(tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    with _read_only(folder), pytest.raises(ConfigurationError) as info:
        SQLiteStore(folder / "kvstore.db")
    message = str(info.value)
    assert str(folder / "kvstore.db") in message and "\n" not in message
    assert "cannot be opened" in message and "no permission" in message  # and why
    assert not (folder / "kvstore.db").exists()


def test_a_file_that_cannot_be_written_is_refused_at_open(sqlite_path: Path) -> None:
    SQLiteStore(sqlite_path).close()
    with _read_only(sqlite_path), pytest.raises(ConfigurationError) as info:
        SQLiteStore(sqlite_path)
    assert str(sqlite_path) in str(info.value) and "cannot be written" in str(info.value)


def test_a_newer_schema_is_refused(sqlite_path: Path) -> None:
    SQLiteStore(sqlite_path).close()
    with sqlite3.connect(sqlite_path) as raw:
        raw.execute("UPDATE kv_meta SET schema_version = 99")
    with pytest.raises(ConfigurationError) as info:
        SQLiteStore(sqlite_path)
    assert "schema version 99" in str(info.value) and "upgrade kvstore" in str(info.value)


def test_a_write_that_waits_too_long_is_a_timeout_never_database_is_locked(
    sqlite_path: Path,
) -> None:
    with SQLiteStore(sqlite_path, busy_timeout=0.2) as store:
        store.put("k", b"1")
        other = sqlite3.connect(sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        try:
            started = time.monotonic()
            with pytest.raises(OperationTimeoutError) as info:
                store.put("k", b"2")
            assert time.monotonic() - started >= 0.15  # it queued first
            assert str(sqlite_path) in str(info.value)
            assert "database is locked" not in str(info.value)
            assert store.get("k") == b"1"  # readers do not wait (WAL)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.put("k", b"3") == 3  # the refused write took no revision


# ---------------------------------------------------------------------- the URL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///relative/path.db", SQLiteConfig("relative/path.db")),
        ("sqlite:////abs/path.db", SQLiteConfig("/abs/path.db")),
        ("SQLITE:///a%20b.db", SQLiteConfig("a b.db")),
        (
            "sqlite:///x.db?synchronous=NORMAL&auto_compact=100&busy_timeout=2.5",
            SQLiteConfig("x.db", synchronous="normal", auto_compact=100, busy_timeout=2.5),
        ),
    ],
)
def test_urls(url: str, expected: SQLiteConfig) -> None:
    assert SQLiteConfig.from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///",
        "sqlite://host/x.db",
        "sqlite:x.db",
        "sqlite:///x.db#frag",
        "sqlite:///:memory:",
        "sqlite:///x.db?synchronous=off",
        "sqlite:///x.db?auto_compact=-1",
        "sqlite:///x.db?auto_compact=ten",
        "sqlite:///x.db?busy_timeout=0",
        "sqlite:///x.db?journal_mode=delete",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SQLiteConfig.from_url(url)


def test_from_url_opens_the_file(sqlite_url: str, sqlite_path: Path) -> None:
    with SQLiteStore.from_url(sqlite_url + "?synchronous=normal") as store:
        assert store.path == str(sqlite_path)
        assert store.config.synchronous == "normal"
        store.put("k", b"v")
    assert sqlite_path.exists()


# ---------------------------------------------------------------------- one file, two stores


def test_two_stores_on_one_file_see_each_others_writes(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as one, SQLiteStore(sqlite_path) as two:
        revision = one.put("k", b"1")
        assert two.get("k") == b"1"
        assert two.put("k", b"2") == revision + 1
        assert one.get_kv("k") == two.get_kv("k")
        lease = one.lease_grant(60)
        assert lease.id in two.lease_leases()


async def test_a_sync_and_an_asyncio_store_share_a_file(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as sync:
        async with AsyncSQLiteStore(sqlite_path) as store:
            start = sync.put("a", b"1")
            async with store.watch_prefix("", start_revision=start, prev_kv=True) as watch:
                second = await store.put("a", b"2")
                assert sync.get_kv("a") == await store.get_kv("a")
                third = sync.kv_txn([], [Put("b", b"3"), Put("c", b"4")], []).revision
                events = [await watch.next_event(10) for _ in range(4)]
            assert [(e.kv.key, e.kv.mod_revision) for e in events if e is not None] == [
                ("a", start),
                ("a", second),
                ("b", third),
                ("c", third),
            ]
            assert events[1] is not None and events[1].prev_kv is not None
            assert events[1].prev_kv.value == b"1"
            lease = await store.lease_grant(60)
            sync.put("leased", b"x", lease=lease.id)
            await store.lease_revoke(lease.id)
            assert not sync.exists("leased")


def test_a_write_wakes_the_watches_of_the_other_stores_of_the_process(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as one, SQLiteStore(sqlite_path) as two:
        for store in (one, two):  # the feeds slow down to one look a minute
            store._feed.poll_interval = 60.0
        with two.watch("k") as watch:
            started = time.monotonic()
            revision = one.put("k", b"1")
            event = watch.next_event(10)
            assert event is not None and event.kv.mod_revision == revision
            assert time.monotonic() - started < 5  # woken, not polled


def test_leases_expire_on_the_wall_clock_and_watches_hear_it(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path) as store:
        grant = store.lease_grant(2)
        revision = store.put("leased", b"v", lease=grant.id)
        with store.watch("leased", start_revision=revision + 1) as watch:
            event = watch.next_event(10)  # nobody calls the store: the feed's reaper revokes
            assert event is not None and event.type is EventType.DELETE
            assert event.kv.mod_revision == revision + 1
        assert not store.exists("leased")


def test_a_disconnected_watch_fails_when_compaction_passes_it(sqlite_store: SQLiteStore) -> None:
    start = sqlite_store.put("k", b"0")
    with sqlite_store.watch("k", start_revision=start + 1) as watch:
        with sqlite_store.watches_disconnected():
            sqlite_store.put("k", b"1")
            last = sqlite_store.put("k", b"2")
            sqlite_store.compact_revision(last)
        with pytest.raises(CompactedError) as info:
            watch.next_event(10)
        assert info.value.compact_revision == last


# ---------------------------------------------------------------------- history and upkeep


def _log_rows(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("SELECT count(*) FROM kv_log").fetchone()[0])


def test_compaction_deletes_in_batches_and_keeps_each_keys_state(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PURGE_BATCH", 7)
    clock = ManualClock()
    with SQLiteStore(sqlite_path, clock=clock) as store, MemoryStore(clock=clock) as reference:
        for i in range(60):
            for target in (store, reference):
                target.put(f"k{i % 9}", str(i).encode())
                if i % 7 == 0:
                    target.delete(f"k{(i + 3) % 9}")
                if i % 11 == 0:
                    target.kv_txn([], [Put(f"t{i}", b"x"), Put(f"k{(i + 5) % 9}", b"t")], [])
        middle = _revision(store)
        for i in range(10):
            for target in (store, reference):
                target.put(f"k{i}", b"late")
        store.compact_revision(middle)
        reference.compact_revision(middle)
        for revision in range(middle, _revision(store) + 1):
            assert store.kv_range(ALL_KEYS, ALL_KEYS, revision=revision) == reference.kv_range(
                ALL_KEYS, ALL_KEYS, revision=revision
            )
        with pytest.raises(CompactedError):
            store.kv_range(ALL_KEYS, ALL_KEYS, revision=middle - 1)
        # left: each key's state at the compact revision (if it existed), and what came after
        alive_then = store.kv_range(ALL_KEYS, ALL_KEYS, revision=middle, count_only=True).count
        assert _log_rows(sqlite_path) == alive_then + 10


def test_auto_compact_keeps_the_last_revisions(sqlite_path: Path) -> None:
    with SQLiteStore(sqlite_path, auto_compact=20) as store:
        for i in range(100):
            store.put(f"k{i % 5}", str(i).encode())
        revision = _revision(store)
        compacted = store.status().compact_revision
        assert revision - 22 <= compacted <= revision - 20
        assert store.get_with_revision("k0", revision - 20) is not None
        with pytest.raises(CompactedError):
            store.get_with_revision("k0", compacted - 1)
        assert _log_rows(sqlite_path) <= 5 + (revision - compacted)


def test_status_and_defragment(sqlite_store: SQLiteStore) -> None:
    sqlite_store.bulk_put({f"k{i}": bytes(4000) for i in range(100)})
    grown = sqlite_store.status()
    assert grown.version.startswith("SQLite ")
    assert grown.revision == _revision(sqlite_store)
    assert grown.db_size > 100 * 4000
    sqlite_store.delete_prefix("k")
    sqlite_store.compact_revision(_revision(sqlite_store))
    sqlite_store.defragment()
    assert sqlite_store.status().db_size < grown.db_size / 4


@pytest.mark.parametrize("call", ["member_list", "alarms", "hash_kv"])
def test_cluster_calls_without_meaning_are_unsupported(
    sqlite_store: SQLiteStore, call: str
) -> None:
    assert "cluster" not in sqlite_store.capabilities
    with pytest.raises(UnsupportedOperationError):
        getattr(sqlite_store, call)()
