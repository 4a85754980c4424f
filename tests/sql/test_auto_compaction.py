"""Auto-compaction runs after a write committed: when it fails, the write stands, is not
applied again, and the next write compacts (both databases, real servers)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

import pytest
from triggers import postgres_trigger

import kvstore
from kvstore.errors import CompactedError


@contextlib.contextmanager
def refused_history_deletes(url: str) -> Iterator[None]:
    """While inside, the database refuses to delete history rows (a trigger raises)."""
    if url.startswith("sqlite:"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
            db.execute(
                "CREATE TRIGGER refuse BEFORE DELETE ON kv_log "
                "BEGIN SELECT RAISE(ABORT, 'no deletes'); END"
            )
            db.commit()
            yield
            db.execute("DROP TRIGGER refuse")
            db.commit()
        return
    with postgres_trigger(url, "BEFORE DELETE", "kv_log", "RAISE EXCEPTION 'no deletes';"):
        yield


def test_a_failed_auto_compaction_fails_no_write_and_applies_none_twice(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = database_url + ("&" if "?" in database_url else "?") + "auto_compact=10"
    with kvstore.open(url) as store:
        first = store.put("seed", b"0")
        with refused_history_deletes(database_url):
            revisions = [store.put(f"k/{n % 3}", str(n).encode()) for n in range(30)]
        assert revisions == list(range(first + 1, first + 31))
        assert "auto-compaction" in caplog.text and "no deletes" in caplog.text
        assert [kv.value for kv in store.kv_range("k/", "k0").kvs] == [b"27", b"28", b"29"]
        assert store.put("k/0", b"after") == first + 31
        with pytest.raises(CompactedError):
            store.kv_range("k/0", revision=first)
        # compacted to 10 revisions back: k/1's state there (its put of n = 19) is kept
        history = store.kv_range("k/1", revision=first + 31 - 10).kvs
        assert [kv.value for kv in history] == [b"19"]
