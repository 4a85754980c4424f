"""The ``kvstore`` command line without an etcd server: ``memory://``, errors, help, URLs.

``memory://`` is a new empty store per process, so only single-command flows make sense
here; the flows across commands run against real etcd in ``tests/etcd/test_cli_etcd.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kvstore
from kvstore import cli
from kvstore.cli import DEFAULT_URL, build_parser, main, printable, redact_url, resolve_url
from kvstore.wrappers.encryption import Keyring
from kvstore_memory import MemoryStore

COMMANDS = [
    "get",
    "put",
    "del",
    "ls",
    "watch",
    "lock",
    "elect",
    "lease",
    "status",
    "members",
    "compact",
    "defrag",
    "reencrypt",
    "keygen",
    "serve",
    "demo",
]
UNREACHABLE = "etcd://127.0.0.1:1?dial_timeout=0.3&request_timeout=0.5"


def run_cli(
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
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
        cwd=cwd,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], code: int = 1) -> str:
    """The command failed with ``code`` and exactly one line on stderr, no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode == code, stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("kvstore"), stderr
    return stderr


def subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every (nested) subcommand parser of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from subparsers(sub)


Seeded = Callable[..., tuple[int, str, str]]


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Seeded:
    """Run ``main`` in this process on a ``MemoryStore`` holding ``writes`` (key, value|None).

    Each command opens a fresh store replaying the same writes (``None`` deletes), so
    flows that need data in the store run without an etcd server.
    """
    monkeypatch.setattr(cli, "_ADDED_ENV_VARS", set())
    monkeypatch.setenv("GRPC_VERBOSITY", "unchanged")
    for name in ("KVSTORE_URL", "ETCD_ENDPOINTS", "KVSTORE_ENCRYPTION_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)

    def run(writes: list[tuple[str, bytes | None]], *args: str) -> tuple[int, str, str]:
        def open_seeded(url: str) -> MemoryStore:
            store = MemoryStore()
            for key, value in writes:
                if value is None:
                    store.delete(key)
                else:
                    store.put(key, value)
            return store

        monkeypatch.setattr(kvstore, "open", open_seeded)
        code = main(["--url", "memory://", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


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


def test_every_positional_argument_has_help() -> None:
    for sub in subparsers(build_parser()):
        for action in sub._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{sub.prog} {action.dest}"


def test_lock_usage_and_options_name_the_seconds_alike() -> None:
    text = run_cli("lock", "--help").stdout.decode()
    assert "[--ttl S] [--timeout S]" in text
    assert "--ttl S " in text and "--timeout S " in text
    assert "TTL" not in text.replace("TTL (10 s)", "")


def test_serve_keygen_and_demo_offer_only_the_options_they_use() -> None:
    serve = run_cli("serve", "--help").stdout.decode()
    keygen = run_cli("keygen", "--help").stdout.decode()
    demo = run_cli("demo", "--help").stdout.decode()
    assert "--url" not in serve and "--key-file" not in serve
    assert "--url" not in keygen and "--key-file" not in keygen
    assert "--url" in demo and "--key-file" not in demo
    stderr = assert_one_line_error(run_cli("--url", "memory://", "serve"), code=2)
    assert "--url does not apply to serve" in stderr


def test_an_unknown_option_points_to_the_commands_own_help() -> None:
    stderr = assert_one_line_error(run_cli("--url", "memory://", "compact", "--bogus", "1"), 2)
    assert "see kvstore compact --help" in stderr


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


def test_compact_and_defrag_json() -> None:
    compact = run_cli("--url", "memory://", "compact", "--json", "1")
    assert json.loads(compact.stdout) == {"compacted": 1}
    defrag = run_cli("--url", "memory://", "defrag", "--json")
    assert json.loads(defrag.stdout) == {"defragmented": True}


def test_lease_grant_prints_a_hex_id() -> None:
    result = run_cli("--url", "memory://", "lease", "grant", "10")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.decode().strip(), 16) > 0


def test_lock_passes_the_exit_code_through() -> None:
    script = "import os, sys; print(os.environ['KVSTORE_LOCK_FENCING_TOKEN']); sys.exit(7)"
    result = run_cli("--url", "memory://", "lock", "jobs", "--", sys.executable, "-c", script)
    assert result.returncode == 7, result.stderr
    assert int(result.stdout.decode().strip()) > 0


def test_lock_of_a_missing_command_exits_127() -> None:
    result = run_cli("--url", "memory://", "lock", "jobs", "--", "no-such-command-here")
    stderr = assert_one_line_error(result, code=127)
    assert stderr.startswith("kvstore lock: error: command not found: 'no-such-command-here'")


def test_lock_of_a_command_that_cannot_run_exits_126(tmp_path: Path) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    result = run_cli("--url", "memory://", "lock", "jobs", "--", str(script))
    assert "cannot run" in assert_one_line_error(result, code=126)


def test_keygen_output_is_a_loadable_key_file(tmp_path: Path) -> None:
    first, rotated = run_cli("keygen"), run_cli("keygen", "--id", "7")
    assert first.returncode == 0 and rotated.returncode == 0, first.stderr + rotated.stderr
    assert first.stdout.decode().startswith("1:")
    assert rotated.stdout.decode().startswith("7:")
    key_file = tmp_path / "keys.txt"
    key_file.write_bytes(first.stdout + rotated.stdout)
    keyring = Keyring.from_file(key_file)
    assert keyring.key_ids == (1, 7) and keyring.primary == 7
    assert first.stdout != run_cli("keygen").stdout  # a fresh random key each time


def test_keygen_rejects_an_id_a_key_file_cannot_hold() -> None:
    assert_one_line_error(run_cli("keygen", "--id", "-1"), code=2)
    assert "key id" in assert_one_line_error(run_cli("keygen", "--id", str(2**32)))


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


@pytest.mark.parametrize("api", [(), ("--async",)], ids=["sync", "async"])
def test_demo_on_a_sqlite_file_runs_every_section(tmp_path: Path, api: tuple[str, ...]) -> None:
    """``kvstore demo --url sqlite:///demo.db``: a file relative to the working directory."""
    result = run_cli("demo", "--url", "sqlite:///demo.db", *api, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    output = result.stdout.decode()
    for title in ("CRUD", "Prefix", "Watch", "Locking", "Leases", "Transactions", "Encryption"):
        assert title in output
    assert "skipped" not in output.lower()
    assert output.rstrip().endswith("Done: every section ran as documented.")
    assert (tmp_path / "demo.db").is_file()
    listing = run_cli("--url", "sqlite:///demo.db", "ls", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout == b""  # the demo leaves no keys behind


def test_demo_async_walks_the_same_steps_on_the_asyncio_api() -> None:
    def steps(*extra: str) -> list[str]:
        result = run_cli("demo", "--url", "memory://", *extra)
        assert result.returncode == 0, result.stderr
        # each step's call (left of "->"); results differ only in ids and the namespace
        lines = result.stdout.decode().splitlines()[1:]
        return [line.split("->")[0].rstrip() for line in lines]

    sync_steps = steps()
    assert steps("--async") == sync_steps
    assert len(sync_steps) > 40


# ---------------------------------------------------------------------------- errors


def test_missing_key_is_one_line_and_exit_1() -> None:
    result = run_cli("--url", "memory://", "get", "nope")
    assert "key 'nope' not found" in assert_one_line_error(result)
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("args", "prefix", "internal"),
    [
        (("get", "k", "--rev", "99"), "kvstore get: error: ", "range:"),
        (("lease", "revoke", "abc"), "kvstore lease revoke: error: ", "lease_revoke"),
        (("lease", "ttl", "abc"), "kvstore lease ttl: error: ", "lease_time_to_live"),
        (("compact", "99"), "kvstore compact: error: ", "compact:"),
    ],
)
def test_errors_name_the_command_not_the_primitive(
    args: tuple[str, ...], prefix: str, internal: str
) -> None:
    stderr = assert_one_line_error(run_cli("--url", "memory://", *args))
    assert stderr.startswith(prefix), stderr
    assert internal not in stderr[len(prefix) :]


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


# ---------------------------------------------------------------------------- escaping


@given(st.text())
def test_printable_output_is_always_printable(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable()
    assert printable(shown) == shown


@given(st.text().filter(str.isprintable))
def test_printable_text_is_left_alone(text: str) -> None:
    assert printable(text) == text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x1b[2J", "\\x1b[2J"),
        ("nul\x00", "nul\\x00"),
        ("\x7f\x85", "\\x7f\\x85"),
        ("line\u2028sep", "line\\u2028sep"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("héllo wörld ✓", "héllo wörld ✓"),
    ],
)
def test_printable_uses_python_style_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


NASTY = [("a\nfake-key", b"v"), ("b\x1b[31mred", b"x\x1b]0;title\x07\r\n"), ("c\x00", b"\xff\x00")]


def test_ls_escapes_keys(seeded: Seeded) -> None:
    code, out, _ = seeded(NASTY, "ls")
    assert code == 0
    assert out == "a\\nfake-key\nb\\x1b[31mred\nc\\x00\n"


def test_ls_values_escapes_keys_and_values(seeded: Seeded) -> None:
    code, out, _ = seeded(NASTY, "ls", "--values")
    assert code == 0
    assert out.splitlines() == [
        "a\\nfake-key\tv",
        "b\\x1b[31mred\tx\\x1b]0;title\\x07\\r\\n",
        "c\\x00\t\\xff\\x00",
    ]


def test_ls_json_stays_exact_json(seeded: Seeded) -> None:
    code, out, _ = seeded(NASTY, "ls", "--values", "--json")
    assert code == 0
    assert json.loads(out)[1] == {"key": "b\x1b[31mred", "value": "x\x1b]0;title\x07\r\n"}
    assert out.endswith("\n") and out[:-1].isprintable()


def test_watch_escapes_keys_and_values(seeded: Seeded) -> None:
    writes: list[tuple[str, bytes | None]] = [("k\x1bx", b"one\ntwo"), ("k\x1bx", None)]
    code, out, err = seeded(writes, "watch", "k", "--prefix", "--rev", "2", "--count", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("PUT k\\x1bx rev=2 ") and lines[0].endswith("one\\ntwo")
    assert lines[1].startswith("DELETE k\\x1bx rev=3")
    assert err.rstrip("\n").isprintable()


def test_watch_mirror_prints_the_state_first(seeded: Seeded) -> None:
    writes: list[tuple[str, bytes | None]] = [("cfg/a", b"1"), ("cfg/b\x1b", b"2"), ("x", b"3")]
    code, out, err = seeded(writes, "watch", "cfg/", "--mirror", "--count", "2")
    assert code == 0, err
    assert out.splitlines() == ["put cfg/a rev=4 1 (listed)", "put cfg/b\\x1b rev=4 2 (listed)"]
    assert "mirroring 2 keys under 'cfg/' from revision 4" in err
    code, out, _ = seeded(writes, "watch", "cfg/", "--mirror", "--count", "1", "--json")
    assert json.loads(out) == {
        "type": "put",
        "key": "cfg/a",
        "revision": 4,
        "relisted": True,
        "value": "1",
        "version": 1,
        "lease": 0,
    }


def test_watch_mirror_refuses_a_revision(seeded: Seeded) -> None:
    code, _, err = seeded([], "watch", "cfg/", "--mirror", "--rev", "2")
    assert code != 0 and "--mirror takes neither --rev nor --prev-kv" in err


def test_get_to_a_pipe_writes_the_raw_bytes(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdout", pipe)
    value = b"\x1b[2J\x00raw\xff\n"
    code, _, _ = seeded([("k", value)], "get", "k")
    assert code == 0
    assert pipe.buffer.getvalue() == value  # type: ignore[attr-defined]


def test_get_to_a_terminal_keeps_line_breaks_and_escapes_the_rest(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    code, _, _ = seeded([("k", b"line 1\nline\t2\x1b[2J\r\n")], "get", "k")
    assert code == 0
    assert terminal.getvalue() == "line 1\nline\t2\\x1b[2J\\r\n"


def test_error_lines_escape_what_they_quote(seeded: Seeded) -> None:
    code, _, err = seeded([], "get", "evil\x1b[2J\nkey")
    assert code == 1
    assert err.count("\n") == 1 and err.rstrip("\n").isprintable()
    assert err.startswith("kvstore get: error: ")


def test_reencrypt_lists_undecryptable_keys_escaped(seeded: Seeded, tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"1:{Keyring.encode_key(Keyring.generate_key())}\n")
    code, out, err = seeded(
        [("s/\x1b[2J", b"plain")], "--key-file", str(key_file), "reencrypt", "--prefix", "s/"
    )
    assert code == 1
    assert "1 undecryptable" in out
    assert "cannot decrypt 's/\\x1b[2J'" in err
    assert all(line.isprintable() for line in err.splitlines())


# ---------------------------------------------------------------------------- reencrypt progress


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_is_redrawn_in_place() -> None:
    stream = _FakeTerminal()
    bar = cli._ProgressBar("kvstore reencrypt", stream, width=4)
    for done in range(3):
        bar.update(done, 2)
    bar.finish()
    assert stream.getvalue() == (
        "\rkvstore reencrypt [----] 0/2"
        "\rkvstore reencrypt [##--] 1/2"
        "\rkvstore reencrypt [####] 2/2\n"
    )


def test_progress_off_a_terminal_is_one_summary_line() -> None:
    stream = io.StringIO()
    bar = cli._ProgressBar("kvstore reencrypt", stream)
    for done in range(101):
        bar.update(done, 100)
    bar.finish()
    assert stream.getvalue() == "kvstore reencrypt: 100/100 value(s) examined\n"


# ---------------------------------------------------------------------------- serve's port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 with a listening socket on it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_serve_takes_the_preferred_port_when_it_is_free() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert cli._serve_port(None, preferred=free) == free


def test_serve_falls_back_to_any_free_port_when_the_preferred_is_taken(busy_port: int) -> None:
    assert cli._serve_port(None, preferred=busy_port) is None


def test_serve_uses_the_port_asked_for(busy_port: int) -> None:
    assert cli._serve_port(busy_port, preferred=busy_port) == busy_port
    assert cli.SERVE_DEFAULT_PORT == 2379


def test_endpoints_of_a_url_is_the_etcd_endpoints_form() -> None:
    assert cli._endpoints_of("etcd://127.0.0.1:2379") == "127.0.0.1:2379"
    assert cli._endpoints_of("etcd://u:p@h1:1,h2:2?dial_timeout=1") == "h1:1,h2:2"


# ---------------------------------------------------------------------------- gRPC's own logging


def test_main_silences_grpc_logging_unless_the_user_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_ADDED_ENV_VARS", set())
    monkeypatch.setenv("GRPC_VERBOSITY", "DEBUG")
    assert main(["--url", "memory://", "status", "--json"]) == 0
    assert os.environ["GRPC_VERBOSITY"] == "DEBUG"
    monkeypatch.delenv("GRPC_VERBOSITY")
    assert main(["--url", "memory://", "status", "--json"]) == 0
    assert os.environ["GRPC_VERBOSITY"] == "NONE"


def test_lock_runs_the_command_with_the_callers_grpc_verbosity() -> None:
    script = "import os; print(os.environ.get('GRPC_VERBOSITY'))"
    command = ("--url", "memory://", "lock", "jobs", "--", sys.executable, "-c", script)
    assert run_cli(*command).stdout == b"None\n"
    assert run_cli(*command, env={"GRPC_VERBOSITY": "INFO"}).stdout == b"INFO\n"


# ---------------------------------------------------------------------------- TLS hint


def test_no_tls_hint_for_a_server_that_is_down() -> None:
    result = run_cli("--url", UNREACHABLE, "get", "k")
    assert "hint" not in result.stderr.decode()


def test_a_plaintext_server_does_not_speak_tls() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_in_plaintext() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer_in_plaintext, daemon=True)
        thread.start()
        assert not cli._speaks_tls("127.0.0.1", listener.getsockname()[1])
        thread.join(timeout=10)
