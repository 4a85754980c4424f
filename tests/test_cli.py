"""The ``kvstore`` command line without an etcd server: ``memory://``, errors, help, URLs.

``memory://`` is a new empty store per process, so only single-command flows make sense
here; the flows across commands run against real etcd in ``tests/etcd/test_cli_etcd.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvstore.cli import DEFAULT_URL, build_parser, redact_url, resolve_url
from kvstore.encryption import Keyring

COMMANDS = [
    "get",
    "put",
    "del",
    "ls",
    "watch",
    "lock",
    "lease",
    "status",
    "members",
    "compact",
    "defrag",
    "reencrypt",
    "serve",
    "demo",
]
UNREACHABLE = "etcd://127.0.0.1:1?dial_timeout=0.3&request_timeout=0.5"


def run_cli(
    *args: str, stdin: bytes = b"", env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m kvstore.cli ARGS`` in a clean environment (no store variables)."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KVSTORE_", "ETCD_"))
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kvstore.cli", *args],
        input=stdin,
        capture_output=True,
        env=environment,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    """The command failed with ``code`` and exactly one line on stderr, no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("kvstore"), stderr
    return stderr


# ---------------------------------------------------------------------------- help


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout.decode()


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([command, "--help"])
    assert exit_info.value.code == 0


def test_serve_help_warns_that_the_bundled_etcd_is_for_development() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.decode().split())
    assert "development and tests only" in text
    assert "3.5.0-3.5.2" in text


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.decode().startswith("kvstore ")


# ---------------------------------------------------------------------------- URL resolution


def test_url_flag_wins_over_the_environment() -> None:
    env = {"KVSTORE_URL": "memory://", "ETCD_ENDPOINTS": "h:1"}
    assert resolve_url("etcd://x:2", env) == "etcd://x:2"


def test_kvstore_url_wins_over_etcd_endpoints() -> None:
    assert resolve_url(None, {"KVSTORE_URL": "memory://", "ETCD_ENDPOINTS": "h:1"}) == "memory://"


def test_etcd_endpoints_become_an_etcd_url() -> None:
    env = {"ETCD_ENDPOINTS": "http://h1:2379/, h2:2379"}
    assert resolve_url(None, env) == "etcd://h1:2379,h2:2379"


def test_default_url_is_local_etcd() -> None:
    assert resolve_url(None, {}) == DEFAULT_URL == "etcd://localhost:2379"


def test_url_after_the_command_is_accepted() -> None:
    result = run_cli("status", "--json", "--url", "memory://")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == "memory"


def test_kvstore_url_environment_variable_is_used() -> None:
    result = run_cli("status", "--json", env={"KVSTORE_URL": "memory://"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == "memory://"


@given(
    user=st.text(alphabet="abcdefghij", min_size=1, max_size=8),
    password=st.text(alphabet="QWXYZ0123456789", min_size=4, max_size=16),
    hosts=st.lists(st.sampled_from(["h1:2379", "10.0.0.1:2379"]), min_size=1, max_size=3),
)
def test_redact_url_never_shows_the_password(user: str, password: str, hosts: list[str]) -> None:
    url = f"etcd://{user}:{password}@{','.join(hosts)}?request_timeout=2"
    shown = redact_url(url)
    assert password not in shown
    assert shown == f"etcd://{user}:***@{','.join(hosts)}?request_timeout=2"


def test_redact_url_keeps_urls_without_password() -> None:
    assert redact_url("etcd://user@h:1") == "etcd://user@h:1"
    assert redact_url("memory://") == "memory://"


# ---------------------------------------------------------------------------- memory:// flows


def test_put_prints_the_revision() -> None:
    result = run_cli("--url", "memory://", "put", "greeting", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK revision 2\n"


def test_put_reads_the_value_from_stdin() -> None:
    result = run_cli("--url", "memory://", "put", "--json", "blob", stdin=b"\x00\xff raw")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"key": "blob", "revision": 2}


def test_ls_on_an_empty_store() -> None:
    assert run_cli("--url", "memory://", "ls").stdout == b""
    assert json.loads(run_cli("--url", "memory://", "ls", "--json").stdout) == []
    assert json.loads(run_cli("--url", "memory://", "ls", "--values", "--json").stdout) == []


def test_del_of_a_missing_key_prints_zero() -> None:
    result = run_cli("--url", "memory://", "del", "nothing")
    assert result.returncode == 0
    assert result.stdout == b"0\n"


def test_status_and_members_json() -> None:
    status = json.loads(run_cli("--url", "memory://", "status", "--json").stdout)
    assert status["revision"] == 1
    members = json.loads(run_cli("--url", "memory://", "members", "--json").stdout)
    assert len(members) == 1


def test_compact_and_defrag() -> None:
    assert run_cli("--url", "memory://", "compact", "1").stdout == b"compacted revision 1\n"
    assert run_cli("--url", "memory://", "defrag").stdout == b"defragmented\n"


def test_lease_grant_prints_a_hex_id() -> None:
    result = run_cli("--url", "memory://", "lease", "grant", "10")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.decode().strip(), 16) > 0


def test_lock_passes_the_exit_code_through() -> None:
    script = "import os, sys; print(os.environ['KVSTORE_LOCK_FENCING_TOKEN']); sys.exit(7)"
    result = run_cli("--url", "memory://", "lock", "jobs", "--", sys.executable, "-c", script)
    assert result.returncode == 7, result.stderr
    assert int(result.stdout.decode().strip()) > 0


def test_reencrypt_with_a_key_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"1:{Keyring.generate_key().hex()}\n")
    result = run_cli("--url", "memory://", "--key-file", str(key_file), "reencrypt", "--prefix", "")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("examined 0 value(s)")


def test_demo_on_memory_runs_every_section() -> None:
    result = run_cli("demo", "--url", "memory://")
    assert result.returncode == 0, result.stderr
    output = result.stdout.decode()
    for title in ("CRUD", "Prefix", "Watch", "Locking", "Leases", "Transactions", "Encryption"):
        assert title in output
    assert "skipped" not in output.lower()
    assert output.rstrip().endswith("Done: every section ran as documented.")


# ---------------------------------------------------------------------------- errors


def test_missing_key_is_one_line_and_exit_1() -> None:
    result = run_cli("--url", "memory://", "get", "nope")
    assert "key 'nope' not found" in assert_one_line_error(result)
    assert result.stdout == b""


def test_missing_argument_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run_cli("get"), code=2)


def test_unknown_command_is_one_line_and_exit_2() -> None:
    assert_one_line_error(run_cli("frobnicate"), code=2)


def test_bad_lease_id_is_one_line_and_exit_2() -> None:
    assert "hexadecimal" in assert_one_line_error(
        run_cli("--url", "memory://", "lease", "ttl", "xyz"), code=2
    )


def test_unknown_lease_is_one_line() -> None:
    assert_one_line_error(run_cli("--url", "memory://", "lease", "revoke", "abc"))


def test_unknown_scheme_lists_the_installed_backends() -> None:
    stderr = assert_one_line_error(run_cli("--url", "nosuch://x", "ls"))
    assert "memory" in stderr and "etcd" in stderr


def test_malformed_url_is_one_line() -> None:
    assert_one_line_error(run_cli("--url", "not a url", "ls"))


def test_delete_everything_needs_all() -> None:
    stderr = assert_one_line_error(run_cli("--url", "memory://", "del", "--prefix", ""))
    assert "--all" in stderr
    result = run_cli("--url", "memory://", "del", "--prefix", "--all", "")
    assert result.returncode == 0, result.stderr


def test_invalid_key_is_one_line() -> None:
    assert_one_line_error(run_cli("--url", "memory://", "put", "", "value"))


def test_lock_without_a_command_is_an_error() -> None:
    assert_one_line_error(run_cli("--url", "memory://", "lock", "jobs"))


def test_reencrypt_without_keys_is_an_error() -> None:
    stderr = assert_one_line_error(run_cli("--url", "memory://", "reencrypt", "--prefix", "a/"))
    assert "--key-file" in stderr


def test_unreadable_key_file_is_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    assert_one_line_error(run_cli("--url", "memory://", "--key-file", missing, "get", "k"))


def test_unreachable_server_is_one_line_without_the_password() -> None:
    url = UNREACHABLE.replace("etcd://", "etcd://admin:canary-hunter2@")
    result = run_cli("--url", url, "get", "k")
    stderr = assert_one_line_error(result)
    assert "canary-hunter2" not in stderr
    assert "admin:***@" in stderr


def test_unreachable_server_from_the_environment_is_one_line() -> None:
    stderr = assert_one_line_error(run_cli("ls", env={"KVSTORE_URL": UNREACHABLE}))
    assert "127.0.0.1:1" in stderr


def test_serve_without_an_etcd_binary_is_one_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-etcd-here")
    stderr = assert_one_line_error(run_cli("serve", env={"KVSTORE_ETCD_BIN": missing}))
    assert "KVSTORE_ETCD_BIN" in stderr
    assert "url:" not in stderr


def test_serve_with_a_binary_that_is_not_etcd_is_one_line(tmp_path: Path) -> None:
    stderr = assert_one_line_error(run_cli("serve", "--etcd-binary", "/bin/false"))
    assert "etcd did not start" in stderr


def test_demo_without_a_url_or_an_etcd_binary_points_to_memory(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-etcd-here")
    stderr = assert_one_line_error(run_cli("demo", env={"KVSTORE_ETCD_BIN": missing}))
    assert "could not start a local etcd" in stderr
    assert "--url memory://" in stderr
    assert "unexpected" not in stderr
