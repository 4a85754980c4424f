"""PostgreSQL connections that fail (SPEC 22): bad URLs get one-line typed errors, a
dropped connection is reopened (reads and uncommitted writes retried, watches resumed
without gap or duplicate), a write whose COMMIT outcome is unknown raises
``IndeterminateError``, one that never reached the server ``UnavailableError``; and the
launcher behind the fixtures. Real servers throughout (``kvstore_sql.launcher``)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import psycopg
import pytest
from triggers import postgres_trigger

import kvstore
from kvstore.errors import (
    AuthenticationError,
    BackendError,
    ConfigurationError,
    IndeterminateError,
    UnavailableError,
)
from kvstore.types import EventType
from kvstore_sql import PostgresStore
from kvstore_sql.launcher import (
    BINARY_ENV_VAR,
    PostgresNotFoundError,
    PostgresServer,
    find_postgres_bin_dir,
)

PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def password_server() -> Iterator[PostgresServer]:
    """A server whose TCP connections need ``postgres``'s password."""
    with PostgresServer(password=PASSWORD) as server:
        yield server


def _one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message, message
    assert PASSWORD not in message and PASSWORD not in repr(error)
    return message


def test_a_missing_database_is_a_configuration_error(postgres_server: PostgresServer) -> None:
    with pytest.raises(ConfigurationError) as caught:
        kvstore.open(postgres_server.url_for("no_such_db"))
    assert "'no_such_db' does not exist" in _one_line(caught.value)
    assert caught.value.__cause__ is not None  # the driver's error, kept as the cause


def test_a_wrong_password_is_an_authentication_error(password_server: PostgresServer) -> None:
    url = password_server.url.replace("postgres@", "postgres:wrong-password@")
    with pytest.raises(AuthenticationError) as caught:
        kvstore.open(url)
    message = _one_line(caught.value)
    assert "refused the credentials" in message and "wrong-password" not in message


def test_no_password_is_an_authentication_error(password_server: PostgresServer) -> None:
    with pytest.raises(AuthenticationError) as caught:
        PostgresStore(password_server.url)
    assert "refused the credentials" in _one_line(caught.value)


def test_the_right_password_from_the_environment_opens(
    password_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_TEST_PGPASSWORD", PASSWORD)
    with kvstore.open(password_server.url + "?password_env=KV_TEST_PGPASSWORD") as store:
        store.put("k", b"v")
        assert PASSWORD not in repr(store)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/postgres",  # nothing listens on port 1
        "postgresql://postgres@no-such-host.invalid/postgres",
    ],
)
def test_an_unreachable_server_is_unavailable(url: str) -> None:
    with pytest.raises(UnavailableError) as caught:
        kvstore.open(url)
    message = _one_line(caught.value)
    assert url in message  # it names the server it could not reach
    assert "cannot reach" in message or "unavailable" in message


def _terminate_backends(server: PostgresServer, schema: str | None = None) -> int:
    """Close every other connection to the server, as a network failure or a DBA would."""
    with psycopg.connect(server.url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


def test_a_dropped_connection_is_reopened_and_watches_resume(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with kvstore.open(postgres_url) as store, kvstore.open(postgres_url) as other:
        first = store.put("w/a", b"1")
        with store.watch_prefix("w/", start_revision=first) as watch:
            event = watch.next_event(10)
            assert event is not None and event.kv.key == "w/a"
            assert _terminate_backends(postgres_server) >= 2
            # the next read and the next write go through on new connections
            assert store.get("w/a") == b"1"
            second = store.put("w/b", b"2")
            third = other.put("w/c", b"3")
            assert (second, third) == (first + 1, first + 2)
            seen = [watch.next_event(10), watch.next_event(10)]
            assert [(e.kv.key, e.kv.mod_revision) for e in seen if e is not None] == [
                ("w/b", second),
                ("w/c", third),
            ]
            assert watch.next_event(0.5) is None  # nothing twice


def test_a_killed_and_restarted_server_loses_nothing_and_watches_resume() -> None:
    with PostgresServer() as server:
        url = server.url_for(schema="restart")
        with kvstore.open(url) as store:
            before = store.put("k/0", b"0")
            with store.watch_prefix("k/", start_revision=before + 1) as watch:
                server.kill()
                server.start()
                after = store.put("k/1", b"1")  # a new connection, after the restart
                assert after == before + 1
                event = watch.next_event(15)
                assert event is not None
                assert (event.type, event.kv.key, event.kv.mod_revision) == (
                    EventType.PUT,
                    "k/1",
                    after,
                )
                assert watch.next_event(0.5) is None
            assert store.get("k/0") == b"0"


def test_a_write_to_a_stopped_server_is_unavailable_and_not_applied() -> None:
    with PostgresServer() as server:
        url = server.url_for(schema="stopped")
        with kvstore.open(url) as store:
            store.put("k", b"before")
            store._engine.reconnect_timeout = 0.5  # not the default 15 s: a short test
            server.stop()
            with pytest.raises(UnavailableError) as caught:
                store.put("k", b"never written")
            assert "nothing was written" in _one_line(caught.value)
            with pytest.raises(UnavailableError):
                store.get("k")  # reads are retried too, then give up
            server.start()
            assert store.get("k") == b"before"
            assert store.put("k", b"after") > 0


def test_a_write_whose_commit_fails_is_indeterminate(postgres_url: str) -> None:
    with kvstore.open(postgres_url) as store:
        store.put("k", b"1")
        # the server ends the writer's connection while it commits (a deferred trigger
        # runs in COMMIT): the client cannot know whether it committed
        die = "PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); RETURN NULL;"
        with postgres_trigger(postgres_url, "AFTER UPDATE", "kv_meta", die, deferred=True):
            with pytest.raises(IndeterminateError) as caught:
                store.put("k", b"2")
            assert "may or may not" in _one_line(caught.value)
        # the store goes on, on a new connection; the killed commit did not apply here
        assert store.get("k") == b"1"
        assert store.put("k", b"3") > 0


@pytest.mark.parametrize("size", [1, 200_000], ids=["one-query", "statement-at-a-time"])
def test_a_write_the_server_refuses_is_not_applied_and_not_indeterminate(
    postgres_url: str, size: int
) -> None:
    """A put's writes go with its COMMIT (in one query, or one at a time for large
    values): a server error in one of them stops the COMMIT, and the outcome is known."""
    with kvstore.open(postgres_url) as store:
        store.put("k", b"1")
        before = store.kv_range("k").revision
        refuse = (
            "IF NEW.key = 'refused'::bytea THEN RAISE EXCEPTION 'no, thanks'; END IF; RETURN NEW;"
        )
        with postgres_trigger(postgres_url, "BEFORE INSERT", "kv_log", refuse):
            with pytest.raises(BackendError) as caught:
                store.put("refused", b"x" * size)
            assert not isinstance(caught.value, IndeterminateError)
            assert "no, thanks" in _one_line(caught.value)
        assert store.kv_range("refused").count == 0
        assert store.kv_range("k").revision == before
        assert store.put("k", b"2") == before + 1


def test_a_write_of_many_statements_commits_whole(postgres_url: str) -> None:
    """A delete of 250 keys writes 250 history rows: sent in several queries of at most
    ``STATEMENTS_PER_QUERY`` statements, committed as one revision."""
    with kvstore.open(postgres_url) as store:
        for n in range(250):
            store.put(f"many/{n:03d}", b"v")
        before = store.kv_range("many/").revision
        assert store.delete_prefix("many/") == 250
        assert store.kv_range("many/", "many0", count_only=True).count == 0
        assert store.kv_range("many/", "many0", revision=before, count_only=True).count == 250
        with store.watch_prefix("many/", start_revision=before + 1) as events:
            deleted = [next(events) for _ in range(250)]
        assert {event.kv.mod_revision for event in deleted} == {before + 1}
        assert [event.type for event in deleted] == [EventType.DELETE] * 250
        assert [event.kv.key for event in deleted] == [f"many/{n:03d}" for n in range(250)]


def test_writers_queue_instead_of_failing(postgres_url: str) -> None:
    errors: list[BaseException] = []
    revisions: list[int] = []

    def write(n: int) -> None:
        try:
            with kvstore.open(postgres_url) as store:
                revisions.extend(store.put(f"q/{n}/{i}", b"v") for i in range(20))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(revisions) == list(range(min(revisions), min(revisions) + 120))


def test_the_launcher_names_a_bad_binary_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv(BINARY_ENV_VAR, str(tmp_path))
    with pytest.raises(PostgresNotFoundError, match=BINARY_ENV_VAR):
        find_postgres_bin_dir()


def test_the_fixture_gives_each_test_its_own_schema(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    assert postgres_url.startswith(postgres_server.url + "?schema=t_")
    with kvstore.open(postgres_url) as store:
        assert store.kv_range("", "\0", count_only=True).count == 0


def _put_from_another_process(url: str, key: str) -> int:
    """Put ``key`` through a store of another process; the revision it got."""
    script = (
        "import sys, kvstore\n"
        "with kvstore.open(sys.argv[1]) as store:\n"
        "    print(store.put(sys.argv[2], b'v'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, url, key], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_notify_wakes_the_watches_and_the_listener_reconnects(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    with kvstore.open(postgres_url) as store:
        store._feed.poll_interval = 3600.0  # no fallback poll: only NOTIFY can wake it
        with store.watch_prefix("n/") as watch:
            first = _put_from_another_process(postgres_url, "n/1")
            event = watch.next_event(30)
            assert event is not None and (event.kv.key, event.kv.mod_revision) == ("n/1", first)
            # every connection dropped, the listener's too: it listens again by itself
            assert _terminate_backends(postgres_server) >= 2
            second = _put_from_another_process(postgres_url, "n/2")
            event = watch.next_event(30)
            assert event is not None and (event.kv.key, event.kv.mod_revision) == ("n/2", second)
            assert watch.next_event(0.5) is None


async def test_the_asyncio_store_reopens_a_dropped_connection(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    async with kvstore.open_async(postgres_url) as store:
        first = await store.put("a/1", b"1")
        async with store.watch_prefix("a/", start_revision=first) as watch:
            event = await watch.next_event(10)
            assert event is not None and event.kv.key == "a/1"
            assert _terminate_backends(postgres_server) >= 1
            assert await store.get("a/1") == b"1"
            second = await store.put("a/2", b"2")
            assert second == first + 1
            event = await watch.next_event(10)
            assert event is not None and (event.kv.key, event.kv.mod_revision) == ("a/2", second)
