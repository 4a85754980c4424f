"""The kvstore tooz driver beyond tooz's own suite: fencing across processes, members and
leaders whose process is SIGKILLed (on etcd and on PostgreSQL), and the driver's URL,
options and key layout (on memory:// and SQLite, no server)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tooz
from tooz import coordination

from kvstore_tooz import KVStoreDriver, KVStoreLock, kvstore_url

WORKER = Path(__file__).with_name("tooz_worker.py")
REPO = Path(__file__).resolve().parents[2]
PROCESS_WAIT = 120.0
"""Upper bound for a worker process or for an expected event; reaching it fails the test."""


def spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(PROCESS_WAIT)
        assert process.stderr is not None
        pytest.fail(f"the worker exited ({process.returncode}): {process.stderr.read()}")
    return line.strip()


def with_option(url: str, option: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{option}"


@pytest.fixture
def coordinator(tooz_url: str) -> Iterator[coordination.CoordinationDriver]:
    started = coordination.get_coordinator(tooz_url, b"observer-" + uuid.uuid4().hex.encode())
    started.start()
    yield started
    started.stop()


def run_until(coordinator: coordination.CoordinationDriver, events: list[Any]) -> None:
    deadline = time.monotonic() + PROCESS_WAIT
    while not events:
        assert time.monotonic() < deadline, "no event came"
        coordinator.run_watchers()
        time.sleep(0.2)


# -- on the servers (etcd, PostgreSQL)


@pytest.mark.slow
def test_the_lock_excludes_across_four_processes_with_fencing(tooz_url: str) -> None:
    holds = 8
    workers = [spawn("lock", tooz_url, "jobs", str(holds)) for _ in range(4)]
    records = []
    for worker in workers:
        while (line := read_line(worker)) != "done":
            records.append(json.loads(line))
        assert worker.wait(PROCESS_WAIT) == 0
    assert len(records) == 4 * holds
    assert all(record["written"] for record in records)
    # each holder's token is above the one the previous holder wrote: no two holds overlapped
    assert all(record["token"] > record["previous_token"] for record in records)
    assert len({record["token"] for record in records}) == 4 * holds
    check = coordination.get_coordinator(tooz_url, b"checker")
    check.start()
    try:
        store = check.store  # type: ignore[attr-defined]
        assert store.get("counter/jobs") == b"%d" % (4 * holds)
    finally:
        check.stop()


@pytest.mark.slow
def test_a_killed_member_leaves_its_group_and_run_watchers_reports_it(
    tooz_url: str, coordinator: coordination.CoordinationDriver
) -> None:
    group = b"workers"
    coordinator.create_group(group).get()
    worker = spawn("member", with_option(tooz_url, "membership_timeout=3"), "workers", "w1")
    try:
        assert read_line(worker) == "joined"
        left: list[coordination.MemberLeftGroup] = []
        coordinator.watch_leave_group(group, left.append)
        assert b"w1" in coordinator.get_members(group).get()
        worker.send_signal(signal.SIGKILL)
        worker.wait(PROCESS_WAIT)
        run_until(coordinator, left)
    finally:
        worker.kill()
        worker.wait(PROCESS_WAIT)
    assert [(event.group_id, event.member_id) for event in left] == [(group, b"w1")]
    assert b"w1" not in coordinator.get_members(group).get()


@pytest.mark.slow
def test_leadership_hands_over_when_the_leader_is_killed(
    tooz_url: str, coordinator: coordination.CoordinationDriver
) -> None:
    group = b"scheduler"
    worker = spawn("leader", with_option(tooz_url, "leader_timeout=3"), "scheduler", "first")
    try:
        assert read_line(worker) == "leader"
        elected: list[coordination.LeaderElected] = []
        coordinator.watch_elected_as_leader(group, elected.append)
        coordinator.run_watchers()
        assert elected == []
        assert coordinator.get_leader(group).get() == b"first"
        worker.send_signal(signal.SIGKILL)
        worker.wait(PROCESS_WAIT)
        run_until(coordinator, elected)
    finally:
        worker.kill()
        worker.wait(PROCESS_WAIT)
    me = coordinator._member_id  # type: ignore[attr-defined]
    assert [(event.group_id, event.member_id) for event in elected] == [(group, me)]
    assert coordinator.get_leader(group).get() == me


# -- no server: memory:// (one process) and SQLite


@pytest.fixture
def memory_url() -> str:
    return f"kvstore+memory://?namespace={uuid.uuid4().hex}/"


def started(url: str, member: bytes = b"m1") -> KVStoreDriver:
    driver = coordination.get_coordinator(url, member)
    assert isinstance(driver, KVStoreDriver)
    driver.start()
    return driver


def test_the_url_without_kvstore_and_the_driver_options_is_the_kvstore_url() -> None:
    def split(url: str) -> str:
        return kvstore_url(__import__("urllib.parse").parse.urlsplit(url))

    assert split("kvstore+etcd://h:2379") == "etcd://h:2379"
    assert split("kvstore+etcd://h:2379?timeout=5&namespace=app/") == "etcd://h:2379?namespace=app/"
    assert split("kvstore+etcd://h:2379/app") == "etcd://h:2379?namespace=app/"
    assert split("kvstore+sqlite:////tmp/x.db?lock_timeout=3") == "sqlite:////tmp/x.db"
    assert (
        split("kvstore+postgresql://u:pw@h/db?schema=s&membership_timeout=9")
        == "postgresql://u:pw@h/db?schema=s"
    )
    with pytest.raises(tooz.ToozError):
        split("kvstore+etcd://h:2379/app?namespace=other/")


def test_bad_options_are_tooz_errors() -> None:
    for url in ("kvstore+memory://?timeout=soon", "kvstore+memory://?lock_timeout=0"):
        with pytest.raises(tooz.ToozError):
            coordination.get_coordinator(url, b"m")
    driver = coordination.get_coordinator("kvstore+memory://?bogus=1", b"m")
    with pytest.raises(tooz.ToozError):  # kvstore's ConfigurationError, translated
        driver.start()


def test_the_characteristics_follow_the_backend(tmp_path: Path) -> None:
    across_hosts = coordination.Characteristics.DISTRIBUTED_ACROSS_HOSTS
    across_processes = coordination.Characteristics.DISTRIBUTED_ACROSS_PROCESSES
    memory = coordination.get_coordinator("kvstore+memory://", b"m")
    sqlite = coordination.get_coordinator(f"kvstore+sqlite:///{tmp_path}/t.db", b"m")
    etcd = coordination.get_coordinator("kvstore+etcd://127.0.0.1:1", b"m")
    assert across_processes not in memory.CHARACTERISTICS
    assert across_processes in sqlite.CHARACTERISTICS
    assert across_hosts not in sqlite.CHARACTERISTICS
    assert across_hosts in etcd.CHARACTERISTICS
    with pytest.raises(coordination.ToozDriverChosenPoorly):
        coordination.get_coordinator("kvstore+memory://", b"m", [across_hosts])


def test_the_coordinators_of_one_process_share_a_memory_store(memory_url: str) -> None:
    first, second = started(memory_url, b"a"), started(memory_url, b"b")
    try:
        first.create_group(b"g").get()
        first.join_group(b"g").get()
        second.join_group(b"g").get()
        assert second.get_members(b"g").get() == {b"a", b"b"}
    finally:
        first.stop()
        second.stop()


def test_members_are_a_kvstore_party_with_capabilities(memory_url: str) -> None:
    driver = started(memory_url, b"node/1")
    try:
        driver.create_group(b"web").get()
        driver.join_group(b"web", {"port": 8080}).get()
        assert driver.store.new_party("web", "probe").members() == ["node/1"]
        info = driver.get_member_info(b"web", b"node/1").get()
        assert info["capabilities"] == {"port": 8080}
        assert info["create_revision"] == info["mod_revision"] > 0
        driver.update_capabilities(b"web", {"port": 8081}).get()
        assert driver.get_member_capabilities(b"web", b"node/1").get() == {"port": 8081}
        assert driver.get_member_info(b"web", b"node/1").get()["lease"] == info["lease"]
    finally:
        driver.stop()


def test_the_lock_gives_fencing_tokens_and_notices_a_broken_hold(memory_url: str) -> None:
    driver = started(memory_url)
    try:
        lock = driver.get_lock(b"res")
        assert isinstance(lock, KVStoreLock)
        with pytest.raises(tooz.ToozError):
            lock.fencing_token  # noqa: B018 - not held
        assert lock.acquire()
        first = lock.fencing_token
        assert lock.is_still_owner()
        assert driver.store.transaction().if_(lock.guard()).commit().succeeded
        assert lock.release()
        assert lock.acquire(blocking=False)
        assert lock.fencing_token > first
        assert driver.get_lock(b"res").break_()
        assert not lock.is_still_owner()
        assert not lock.release()
    finally:
        driver.stop()


def test_shared_holds_exclude_an_exclusive_one(memory_url: str) -> None:
    driver = started(memory_url)
    try:
        reader, writer = driver.get_lock(b"cfg"), driver.get_lock(b"cfg")
        assert reader.acquire(shared=True)
        assert driver.get_lock(b"cfg").acquire(shared=True, blocking=False)
        assert not writer.acquire(blocking=False)
        assert not writer.acquire(blocking=0.2)
    finally:
        driver.stop()


def test_stopping_releases_locks_memberships_and_leadership(tmp_path: Path) -> None:
    url = f"kvstore+sqlite:///{tmp_path}/coord.db"
    first, second = started(url, b"first"), started(url, b"second")
    try:
        first.create_group(b"g").get()
        first.join_group(b"g").get()
        assert first.get_lock(b"l").acquire()
        elected: list[coordination.LeaderElected] = []
        first.watch_elected_as_leader(b"g", elected.append)
        first.run_watchers()
        assert len(elected) == 1
        first.stop()
        assert second.get_members(b"g").get() == set()
        assert second.get_lock(b"l").acquire(blocking=False)
        assert second.get_leader(b"g").get() is None
    finally:
        second.stop()
