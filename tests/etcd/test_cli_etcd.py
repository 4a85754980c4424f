"""Every ``kvstore`` command, run as a subprocess against a real local etcd, and the
commands that are not about etcd's cluster again on a SQLite file (SPEC 22: the CLI runs
on the SQL backend too; the lock, election, watch and mirror tests then run their
processes on one database file).

The store is named through ``ETCD_ENDPOINTS`` (as a user on a shell would) or
``KVSTORE_URL=sqlite:///...``, so the URL resolution is exercised too. ``serve`` and
``demo`` without a URL start their own etcd.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kvstore.wrappers.encryption import Keyring

pytestmark = pytest.mark.etcd

Cli = Callable[..., subprocess.CompletedProcess[bytes]]

KVSTORE_CLI = (sys.executable, "-m", "kvstore.cli")


def _environment(extra: dict[str, str]) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KVSTORE_", "ETCD_"))
    }
    environment.update(extra)
    return environment


@pytest.fixture(params=["etcd", "sqlite"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment of a shell pointed at the test etcd through ``ETCD_ENDPOINTS``, or
    at a SQLite file of the test's own through ``KVSTORE_URL``."""
    if request.param == "sqlite":
        return _environment({"KVSTORE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    endpoints: list[str] = request.getfixturevalue("etcd_endpoints")
    return _environment({"ETCD_ENDPOINTS": ",".join(endpoints)})


@pytest.fixture
def etcd_cli_env(etcd_endpoints: list[str]) -> dict[str, str]:
    """The environment of a shell pointed at the test etcd through ``ETCD_ENDPOINTS``."""
    return _environment({"ETCD_ENDPOINTS": ",".join(etcd_endpoints)})


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """Run ``python -m kvstore.cli ARGS`` against the test's store; returns the result."""
    return _runner(cli_env)


@pytest.fixture
def etcd_cli(etcd_cli_env: dict[str, str]) -> Cli:
    """Run ``python -m kvstore.cli ARGS`` against the test etcd; returns the result."""
    return _runner(etcd_cli_env)


def _runner(cli_env: dict[str, str]) -> Cli:
    def run(
        *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "kvstore.cli", *args],
            input=stdin,
            capture_output=True,
            env={**cli_env, **(env or {})},
            timeout=timeout,
            check=False,
        )

    return run


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    """The stdout of a successful command."""
    assert result.returncode == 0, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    return result.stdout.decode()


def failed(result: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    """The one-line stderr of a failed command."""
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr
    # Nothing else (gRPC's own logging, say) beside watch's "watching ..." notice.
    lines = [line for line in stderr.splitlines() if not line.startswith("watching ")]
    assert len(lines) == 1, stderr
    assert re.match(r"kvstore [a-z ]+: error: ", lines[0]), stderr
    return lines[0]


PORT_2379 = pytest.mark.xdist_group("etcd-port-2379")
"""The tests that take or squat etcd's standard port: on one xdist worker, one at a time
(``serve`` checks that 2379 is free, then its etcd binds it: another test must not take it
in between)."""


def stop_serve(server: subprocess.Popen[bytes]) -> None:
    """Stop a ``kvstore serve`` a failed test left running, with the etcd it started.

    SIGTERM first: a SIGKILLed ``serve`` cannot stop its etcd, which would keep the port.
    """
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_put_get_roundtrip_keeps_raw_bytes(cli: Cli) -> None:
    value = bytes(range(256))
    assert ok(cli("put", "blob", stdin=value)).startswith("OK revision ")
    result = cli("get", "blob")
    assert result.returncode == 0
    assert result.stdout == value
    assert ok(cli("put", "text", "héllo")) != ""
    assert cli("get", "text").stdout == "héllo".encode()


def test_get_json_metadata_and_history(cli: Cli) -> None:
    first = int(ok(cli("put", "color", "red")).split()[-1])
    ok(cli("put", "color", "blue"))
    record = json.loads(ok(cli("get", "color", "--json")))
    assert record["value"] == "blue"
    assert record["version"] == 2
    assert record["create_revision"] == first
    assert cli("get", "color", "--rev", str(first)).stdout == b"red"
    ok(cli("put", "bin", stdin=b"\xff\x00"))
    binary = json.loads(ok(cli("get", "bin", "--json")))
    assert binary["value_base64"] == "/wA="


def test_get_missing_key_fails(cli: Cli) -> None:
    assert "not found" in failed(cli("get", "absent"))


def test_del_and_del_prefix(cli: Cli) -> None:
    for key in ("app/a", "app/b", "apple"):
        ok(cli("put", key, "1"))
    assert ok(cli("del", "apple")) == "1\n"
    assert ok(cli("del", "apple")) == "0\n"
    assert json.loads(ok(cli("del", "--prefix", "app/", "--json"))) == {"deleted": 2}
    assert ok(cli("ls")) == ""


def test_ls_keys_values_and_json(cli: Cli) -> None:
    ok(cli("put", "cfg/b", "two\nlines"))
    ok(cli("put", "cfg/a", "one"))
    ok(cli("put", "other", "x"))
    assert ok(cli("ls", "cfg/")) == "cfg/a\ncfg/b\n"
    assert ok(cli("ls")) == "cfg/a\ncfg/b\nother\n"
    assert ok(cli("ls", "--values", "cfg/")) == "cfg/a\tone\ncfg/b\ttwo\\nlines\n"
    assert json.loads(ok(cli("ls", "--values", "--json", "cfg/"))) == [
        {"key": "cfg/a", "value": "one"},
        {"key": "cfg/b", "value": "two\nlines"},
    ]
    assert json.loads(ok(cli("ls", "--json", "cfg/"))) == ["cfg/a", "cfg/b"]


def test_keys_and_values_never_reach_the_terminal_raw(cli: Cli) -> None:
    start = int(ok(cli("put", "x/evil\nfake", "v\x1b[2J")).split()[-1])
    ok(cli("put", "x/\x1b]0;title\x07", "ok"))
    assert ok(cli("ls", "x/")) == "x/\\x1b]0;title\\x07\nx/evil\\nfake\n"
    assert ok(cli("ls", "--values", "x/")).splitlines()[1] == "x/evil\\nfake\tv\\x1b[2J"
    watched = ok(cli("watch", "--prefix", "x/", "--rev", str(start), "--count", "2"))
    assert [line.split(" rev=")[0] for line in watched.splitlines()] == [
        "PUT x/evil\\nfake",
        "PUT x/\\x1b]0;title\\x07",
    ]
    assert cli("get", "x/evil\nfake").stdout == b"v\x1b[2J"  # a pipe gets the bytes
    lease_id = ok(cli("lease", "grant", "60")).strip()
    ok(cli("put", "--lease", lease_id, "x/leased\r", "1"))
    assert ok(cli("lease", "ttl", "--keys", lease_id)).rstrip().endswith("keys: x/leased\\r")


def test_watch_replays_history_from_a_revision(cli: Cli) -> None:
    start = int(ok(cli("put", "jobs/1", "queued")).split()[-1])
    ok(cli("put", "jobs/1", "done"))
    ok(cli("del", "jobs/1"))
    result = cli("watch", "--prefix", "jobs/", "--rev", str(start), "--count", "3", "--json")
    events = [json.loads(line) for line in ok(result).splitlines()]
    assert [(e["type"], e["key"]) for e in events] == [
        ("PUT", "jobs/1"),
        ("PUT", "jobs/1"),
        ("DELETE", "jobs/1"),
    ]
    assert [e["revision"] for e in events] == [start, start + 1, start + 2]
    assert events[1]["value"] == "done"


def test_watch_streams_live_events_one_line_each(cli: Cli, cli_env: dict[str, str]) -> None:
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kvstore.cli", "watch", "live", "--prev-kv", "--count", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    try:
        assert watcher.stderr is not None
        # The "watching" notice comes after the watch is established, so no put is missed.
        ready, _, _ = select.select([watcher.stderr], [], [], 30)
        assert ready, "the watch did not start"
        assert b"watching key 'live'" in watcher.stderr.readline()
        ok(cli("put", "live", "v1"))
        stdout, _ = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
        watcher.wait()
    assert watcher.returncode == 0
    line = stdout.decode().strip()
    assert line.startswith("PUT live rev=") and line.endswith(" v1"), line


def test_watch_mirror_prints_the_state_then_the_changes(cli: Cli, cli_env: dict[str, str]) -> None:
    ok(cli("put", "cfg/a", "1"))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kvstore.cli", "watch", "cfg/", "--mirror", "--count", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    try:
        assert watcher.stderr is not None
        ready, _, _ = select.select([watcher.stderr], [], [], 30)
        assert ready, "the mirror did not start"
        assert b"mirroring 1 keys under 'cfg/'" in watcher.stderr.readline()
        ok(cli("put", "cfg/b", "2"))
        ok(cli("del", "cfg/a"))
        stdout, _ = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
        watcher.wait()
    assert watcher.returncode == 0
    lines = stdout.decode().splitlines()
    assert lines[0].startswith("put cfg/a rev=") and lines[0].endswith(" 1 (listed)")
    assert lines[1].startswith("put cfg/b rev=") and lines[1].endswith(" 2")
    assert lines[2].startswith("delete cfg/a rev=") and "(listed)" not in lines[2]


def test_watch_below_the_compact_revision_fails(cli: Cli) -> None:
    ok(cli("put", "k", "1"))
    revision = int(ok(cli("put", "k", "2")).split()[-1])
    ok(cli("compact", str(revision)))
    assert "compact" in failed(cli("watch", "k", "--rev", "1"))


def test_lock_runs_the_command_and_passes_its_exit_code(cli: Cli) -> None:
    script = "import os, sys; print(os.environ['KVSTORE_LOCK_FENCING_TOKEN']); sys.exit(5)"
    result = cli("lock", "deploy", "--", sys.executable, "-c", script)
    assert result.returncode == 5, result.stderr
    token = int(result.stdout)
    second = cli("lock", "deploy", "--", sys.executable, "-c", script)
    assert int(second.stdout) > token
    assert ok(cli("ls")) == ""  # the lock key went with the lock


def test_lock_excludes_a_second_holder(cli: Cli, cli_env: dict[str, str], tmp_path: Path) -> None:
    started = tmp_path / "started"
    release = tmp_path / "release"
    hold = (
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-m", "kvstore.cli", "lock", "db", "--", sys.executable, "-c", hold],
        env=cli_env,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not started.exists():
            assert holder.poll() is None, holder.stderr.read() if holder.stderr else ""
            assert time.monotonic() < deadline, "the first holder never got the lock"
            time.sleep(0.05)
        blocked = cli("lock", "--timeout", "0.5", "db", "--", sys.executable, "-c", "pass")
        assert "db" in failed(blocked)
    finally:
        release.touch()
        assert holder.wait(timeout=30) == 0
    assert ok(cli("lock", "--timeout", "10", "db", "--", sys.executable, "-c", "pass")) == ""


def test_lease_grant_attach_ttl_and_revoke(cli: Cli) -> None:
    lease_id = ok(cli("lease", "grant", "60")).strip()
    ok(cli("put", "--lease", lease_id, "session/a", "x"))
    info = json.loads(ok(cli("lease", "ttl", lease_id, "--keys", "--json")))
    assert info["id"] == lease_id
    assert info["granted_ttl"] == 60
    assert 0 < info["ttl"] <= 60
    assert info["keys"] == ["session/a"]
    assert "revoked" in ok(cli("lease", "revoke", lease_id))
    assert ok(cli("ls")) == ""
    error = failed(cli("lease", "ttl", lease_id))
    assert error.startswith(f"kvstore lease ttl: error: lease 0x{lease_id} ")
    assert "lease_time_to_live" not in error


def test_status_and_members(etcd_cli: Cli, etcd_endpoints: list[str]) -> None:
    cli = etcd_cli
    status = json.loads(ok(cli("status", "--json")))
    assert status["version"].startswith("3.")
    assert status["url"] == "etcd://" + ",".join(etcd_endpoints)
    assert "revision" in ok(cli("status"))
    members = json.loads(ok(cli("members", "--json")))
    assert len(members) == 1
    assert any(etcd_endpoints[0] in url for url in members[0]["client_urls"])
    assert members[0]["id"] in ok(cli("members"))


def test_compact_then_history_is_gone(cli: Cli) -> None:
    first = int(ok(cli("put", "h", "1")).split()[-1])
    second = int(ok(cli("put", "h", "2")).split()[-1])
    assert ok(cli("compact", str(second))) == f"compacted revision {second}\n"
    error = failed(cli("get", "h", "--rev", str(first)))
    assert error.startswith("kvstore get: error: ") and "compact" in error
    assert "range:" not in error
    assert cli("get", "h", "--rev", str(second)).stdout == b"2"


def test_defrag(cli: Cli) -> None:
    assert ok(cli("defrag")) == "defragmented\n"


def test_reencrypt_rotates_values_to_the_primary_key(cli: Cli, tmp_path: Path) -> None:
    old, new = Keyring.generate_key(), Keyring.generate_key()
    old_only = tmp_path / "old.keys"
    old_only.write_text(f"1:{old.hex()}\n")
    both = tmp_path / "both.keys"
    both.write_text(f"1:{old.hex()}\n2:{new.hex()}\n")
    new_only = tmp_path / "new.keys"
    new_only.write_text(f"2:{new.hex()}\n")
    for index in range(5):
        ok(cli("--key-file", str(old_only), "put", f"secret/{index}", f"value {index}"))
    raw = cli("get", "secret/0").stdout
    assert raw.startswith(b"kve") and b"value 0" not in raw
    result = cli(
        "reencrypt", "--prefix", "secret/", "--json", env={"KVSTORE_ENCRYPTION_KEY_FILE": str(both)}
    )
    report = json.loads(ok(result))
    assert (report["rewritten"], report["key_id"], report["failed"]) == (5, 2, [])
    # stderr is a pipe here: no bar redrawn with carriage returns, one summary line.
    assert result.stderr.decode() == "kvstore reencrypt: 5/5 value(s) examined\n"
    assert cli("--key-file", str(new_only), "get", "secret/3").stdout == b"value 3"
    for secret in (old.hex(), new.hex()):
        assert secret not in result.stdout.decode() + result.stderr.decode()


def test_reencrypt_reports_undecryptable_values(cli: Cli, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"1:{Keyring.generate_key().hex()}\n")
    ok(cli("put", "secret/plain", "not encrypted"))
    result = cli("--key-file", str(keys), "reencrypt", "--prefix", "secret/")
    assert result.returncode == 1
    assert "1 undecryptable" in result.stdout.decode()
    migrated = cli("--key-file", str(keys), "reencrypt", "--allow-plaintext", "--prefix", "secret/")
    assert "1 rewritten" in ok(migrated)
    assert cli("--key-file", str(keys), "get", "secret/plain").stdout == b"not encrypted"


@PORT_2379
def test_serve_starts_etcd_and_stops_on_sigterm(etcd_cli: Cli) -> None:
    cli = etcd_cli
    server = subprocess.Popen(
        [sys.executable, "-m", "kvstore.cli", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment({}),
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        assert ready, "serve printed nothing"
        first = server.stdout.readline().decode()
        assert first.startswith("etcd ") and " serving at etcd://127.0.0.1:" in first, first
        url = first.split(" serving at ")[1].strip()
        endpoints = url.removeprefix("etcd://")
        export = server.stdout.readline().decode()
        assert export.startswith(f"  export ETCD_ENDPOINTS={endpoints} "), export
        # The pasted export line is all a shell needs.
        assert ok(cli("status", env={"ETCD_ENDPOINTS": endpoints})) != ""
        ok(cli("--url", url, "put", "served", "yes"))
        assert cli("--url", url, "get", "served").stdout == b"yes"
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=30)
    finally:
        stop_serve(server)
    assert server.returncode == 0, stderr.decode()
    assert "development and tests only" in stderr.decode()
    assert "stopping etcd" in stderr.decode()
    assert "unreachable" not in stdout.decode()
    assert cli("--url", url + "?dial_timeout=0.3", "get", "served").returncode == 1


def test_demo_on_an_existing_etcd_leaves_no_keys(cli: Cli) -> None:
    ok(cli("put", "mine", "kept"))
    output = ok(cli("demo", timeout=120))
    assert "Done: every section ran as documented." in output
    assert ok(cli("ls")) == "mine\n"


def test_demo_without_a_url_starts_its_own_etcd() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kvstore.cli", "demo"],
        capture_output=True,
        env=_environment({}),
        timeout=120,
        check=False,
    )
    output = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "Started a throwaway etcd" in output
    assert "Done: every section ran as documented." in output


@PORT_2379
def test_serve_moves_to_a_free_port_when_2379_is_taken(etcd_cli: Cli) -> None:
    with socket.socket() as squatter:
        # SO_REUSEADDR: connections of an earlier server on 2379 may linger in TIME_WAIT.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", 2379))
        except OSError:
            pass  # already taken by someone else: the same situation
        else:
            squatter.listen()
        server = subprocess.Popen(
            [sys.executable, "-m", "kvstore.cli", "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment({}),
        )
        try:
            assert server.stdout is not None
            ready, _, _ = select.select([server.stdout], [], [], 60)
            assert ready, "serve printed nothing"
            first = server.stdout.readline().decode()
            assert " serving at etcd://127.0.0.1:" in first and ":2379" not in first, first
            server.send_signal(signal.SIGTERM)
            _, stderr = server.communicate(timeout=30)
        finally:
            stop_serve(server)
    assert server.returncode == 0, stderr.decode()
    assert "port 2379 is in use" in stderr.decode()


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The client port of a TLS-only etcd (no client certificates needed)."""
    from kvstore_etcd.launcher import EtcdServer, make_test_pki

    pki = make_test_pki(tmp_path_factory.mktemp("pki"))
    tls = pki.etcd_tls(client_cert_auth=False)
    with EtcdServer(tls=tls) as server:
        yield server.client_port


def test_plain_etcd_url_on_a_tls_server_hints_at_etcds(tls_etcd: int) -> None:
    port = tls_etcd
    result = subprocess.run(
        [sys.executable, "-m", "kvstore.cli", "get", "k"],
        capture_output=True,
        env=_environment({"KVSTORE_URL": f"etcd://127.0.0.1:{port}?dial_timeout=1"}),
        timeout=60,
        check=False,
    )
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert len(lines) == 2, lines
    assert lines[0].startswith("kvstore get: error: ")
    assert lines[1] == (
        f"kvstore get: hint: 127.0.0.1:{port} speaks TLS: is the server using TLS? try etcds://"
    )


def test_tls_failures_print_no_grpc_log_lines(tls_etcd: int) -> None:
    port = tls_etcd
    result = subprocess.run(
        [sys.executable, "-m", "kvstore.cli", "get", "k"],
        capture_output=True,
        env=_environment({"KVSTORE_URL": f"etcds://127.0.0.1:{port}?dial_timeout=1"}),
        timeout=60,
        check=False,
    )
    error = failed(result)  # exactly one line: gRPC's "Handshake failed" log is silenced
    assert "TLS handshake failed" in error


def test_lock_layout_etcd_puts_its_key_where_etcdctl_lock_does(cli: Cli) -> None:
    listing = ok(cli("lock", "--layout", "etcd", "deploy", "--", *KVSTORE_CLI, "ls", "deploy/"))
    assert re.fullmatch(r"deploy/[0-9a-f]+\n", listing), listing
    assert ok(cli("ls", "deploy/")) == ""
    assert "invalid choice" in failed(cli("lock", "--layout", "go", "x", "--", "true"), code=2)


def test_elect_runs_a_command_while_leading(cli: Cli) -> None:
    script = (
        "import os, subprocess, sys\n"
        "env = os.environ\n"
        "print(env['KVSTORE_ELECTION_NAME'], env['KVSTORE_ELECTION_FENCING_TOKEN'], flush=True)\n"
        "ls = [sys.executable, '-m', 'kvstore.cli', 'ls', 'primary/']\n"
        "sys.exit(subprocess.run(ls).returncode + 4)\n"
    )
    result = cli("elect", "--layout", "etcd", "primary", "me", "--", sys.executable, "-c", script)
    assert result.returncode == 4, result.stderr
    first, second = result.stdout.decode().splitlines()
    assert first.split()[0] == "primary" and int(first.split()[1]) > 0
    assert re.fullmatch(r"primary/[0-9a-f]+", second)
    assert ok(cli("ls", "primary/")) == ""  # resigned after the command


def test_elect_leads_until_sigterm_and_listen_shows_the_leader(
    cli: Cli, cli_env: dict[str, str]
) -> None:
    leader = subprocess.Popen(
        [*KVSTORE_CLI, "elect", "--layout", "etcd", "primary", "alpha"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env,
    )
    try:
        assert leader.stdout is not None
        ready, _, _ = select.select([leader.stdout], [], [], 30)
        assert ready, "the candidate was not elected"
        key = leader.stdout.readline().decode().rstrip("\n")
        assert re.fullmatch(r"primary/[0-9a-f]+", key)
        assert leader.stdout.readline() == b"alpha\n"
        listened = ok(cli("elect", "--listen", "--count", "1", "--layout", "etcd", "primary"))
        assert listened == f"{key}\nalpha\n"
        assert "no proposal" in failed(cli("elect", "--listen", "primary", "beta"))
        assert "PROPOSAL" in failed(cli("elect", "primary"))
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=30) == 0
    finally:
        leader.kill()
        leader.wait()
    assert ok(cli("ls", "primary/")) == ""
