"""The ``kvstore`` command line: read, write, watch and administer a store from a shell.

Every command opens the store named by ``--url``, else ``$KVSTORE_URL``, else
``$ETCD_ENDPOINTS`` (comma-separated ``host:port``, turned into ``etcd://...``), else
``etcd://localhost:2379``. With ``--key-file`` (or ``$KVSTORE_ENCRYPTION_KEY_FILE``) the
store is wrapped in an ``EncryptedStore``, so values are encrypted and decrypted here.

Mistakes and failures (a missing key, a bad argument, an unreachable server) print one line
to stderr, ``kvstore COMMAND: error: ...``, and exit non-zero, never a traceback. ``get``
writes the value's raw bytes to a pipe; ``--json`` gives machine-readable output where it
helps. Human-readable output never prints a key or value raw: every non-printable
character (line breaks, terminal escape codes, NUL ...) appears as a Python-style escape
(``\\n``, ``\\x1b``, ``\\x00``), so one key is one line and cannot drive the terminal.

Exit codes: 0 success, 1 a store or usage error, 2 bad command-line arguments,
130 interrupted; ``lock NAME -- CMD`` exits with ``CMD``'s own exit code, 127 when ``CMD``
is not found and 126 when it cannot be run.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import kvstore
from kvstore.errors import ConfigurationError, KVStoreError
from kvstore.types import KeyValue, WatchEvent

if TYPE_CHECKING:
    from kvstore.base import BaseStore
    from kvstore.encryption import Keyring

__all__ = ["DEFAULT_URL", "main", "printable", "redact_url", "resolve_url"]

DEFAULT_URL = "etcd://localhost:2379"
"""The store used when neither ``--url`` nor the environment names one."""

URL_ENV_VAR = "KVSTORE_URL"
ENDPOINTS_ENV_VAR = "ETCD_ENDPOINTS"
KEY_FILE_ENV_VAR = "KVSTORE_ENCRYPTION_KEY_FILE"
KEY_ENV_VAR = "KVSTORE_ENCRYPTION_KEY"
DEBUG_ENV_VAR = "KVSTORE_DEBUG"
GRPC_VERBOSITY_ENV_VAR = "GRPC_VERBOSITY"
GRPC_VERBOSITY = "NONE"
"""gRPC's C core otherwise logs its own lines (e.g. TLS handshake failures) beside our error."""

SERVE_SCHEME = "etcd"
"""The backend whose plugin ``kvstore serve`` asks for a local server."""

SERVE_DEFAULT_PORT = 2379
"""etcd's standard client port: ``serve`` takes it when free, so ``DEFAULT_URL`` just works."""

SERVE_WARNING = (
    "the bundled etcd 3.5.1 is for development and tests only: etcd 3.5.0-3.5.2 have a "
    "known data-inconsistency bug when a member is killed under load; run etcd >= 3.5.3 "
    "in production"
)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127
EXIT_INTERRUPTED = 130

_ADDED_ENV_VARS: set[str] = set()
"""Variables ``main`` set for itself, kept out of the environment of ``lock``'s command."""


class CommandError(Exception):
    """A command-line mistake found by the CLI itself; printed as one line.

    Args:
        message: The line to print, without the ``kvstore COMMAND: error:`` prefix.
        code: The exit code (default 1).
    """

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------- configuration


def resolve_url(explicit: str | None, environ: dict[str, str] | None = None) -> str:
    """The store URL: ``explicit``, else ``$KVSTORE_URL``, else ``$ETCD_ENDPOINTS``, else default.

    Args:
        explicit: The ``--url`` argument, if given.
        environ: The environment to read (default ``os.environ``).

    Returns:
        A ``scheme://...`` URL.
    """
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get(URL_ENV_VAR, "").strip():
        return env[URL_ENV_VAR].strip()
    endpoints = [
        part.strip().split("://", 1)[-1].rstrip("/")
        for part in env.get(ENDPOINTS_ENV_VAR, "").split(",")
        if part.strip()
    ]
    if endpoints:
        return "etcd://" + ",".join(endpoints)
    return DEFAULT_URL


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print.

    Args:
        url: A store URL, possibly with ``user:password@``.

    Returns:
        The URL without its password.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<malformed URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    netloc = f"{user}:***@{hosts}" if ":" in userinfo else f"{user}@{hosts}"
    return urlunsplit(parts._replace(netloc=netloc))


def _keyring(args: argparse.Namespace) -> Keyring | None:
    """The encryption keys: ``--key-file``, ``$KVSTORE_ENCRYPTION_KEY_FILE`` or
    ``$KVSTORE_ENCRYPTION_KEY`` (key text itself); ``None`` when none is configured.

    Raises:
        ConfigurationError: The file or variable does not hold valid keys.
    """
    path = getattr(args, "key_file", None) or os.environ.get(KEY_FILE_ENV_VAR, "").strip()
    if not path and not os.environ.get(KEY_ENV_VAR, "").strip():
        return None
    from kvstore.encryption import Keyring

    return Keyring.from_file(path) if path else Keyring.from_env(KEY_ENV_VAR)


def _open(args: argparse.Namespace, *, encrypted: bool = True) -> BaseStore:
    """Open the store named by the arguments/environment, encrypted if keys are configured.

    Raises:
        ConfigurationError: The URL or the encryption keys are invalid.
        BackendNotFoundError: No backend serves the URL's scheme.
    """
    keyring = _keyring(args) if encrypted else None
    store = kvstore.open(args.resolved_url)
    if keyring is None:
        return store
    from kvstore.encryption import EncryptedStore

    return EncryptedStore(store, keyring)


# ---------------------------------------------------------------------------- output helpers


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _print_json(value: object) -> None:
    _out(json.dumps(value, sort_keys=False))


def _value_json(value: bytes) -> dict[str, str]:
    try:
        return {"value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_base64": base64.b64encode(value).decode("ascii")}


def _kv_json(kv: KeyValue) -> dict[str, Any]:
    return {
        "key": kv.key,
        **_value_json(kv.value),
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": kv.lease,
    }


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, *, keep: str = "") -> str:
    """``text`` safe to show on a terminal: each non-printable character as a Python escape.

    Line breaks, tabs, terminal escape codes, NUL and other characters for which
    ``str.isprintable()`` is false become ``\\n``, ``\\t``, ``\\x1b``, ``\\x00``,
    ``\\u2028`` ..., so a key or value is one line of visible text. Backslashes are left
    alone, so the result is for reading, not parsing: ``--json`` is the exact form.

    Args:
        text: A key, a value's text or a message.
        keep: Characters to leave as they are (``get`` keeps line breaks on a terminal).

    Returns:
        ``text`` with only printable characters (and those in ``keep``).
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char in keep else _escape(char) for char in text)


def _value_text(value: bytes, *, keep: str = "") -> str:
    """A value as visible text: UTF-8 where possible, backslash escapes for the rest."""
    return printable(value.decode("utf-8", "backslashreplace"), keep=keep)


def _parse_lease_id(text: str) -> int:
    """Lease ids are hexadecimal, as etcdctl prints them (``0x`` optional)."""
    try:
        lease_id = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid lease id {text!r} (hexadecimal)") from None
    if lease_id <= 0:
        raise argparse.ArgumentTypeError(f"invalid lease id {text!r} (must be positive)")
    return lease_id


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return number


def _positive_float(text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return number


# ---------------------------------------------------------------------------- commands


def cmd_get(args: argparse.Namespace) -> int:
    """Print a value (raw bytes), or with ``--json`` the value and its metadata."""
    with _open(args) as store:
        if args.rev is not None:
            value = store.get_with_revision(args.key, args.rev)
            if args.json:
                _print_json({"key": args.key, **_value_json(value), "revision": args.rev})
                return 0
        else:
            kv = store.get_kv(args.key)
            if kv is None:
                raise kvstore.KeyNotFoundError(
                    f"get: key {args.key!r} not found", key=args.key, operation="get"
                )
            if args.json:
                _print_json(_kv_json(kv))
                return 0
            value = kv.value
    if sys.stdout.isatty():
        # For people: line breaks stay (multi-line values are common), escape codes do not.
        text = _value_text(value, keep="\n\t")
        _out(text[:-1] if text.endswith("\n") else text)
        return 0
    stdout = sys.stdout.buffer
    stdout.write(value)  # a pipe gets the exact bytes
    stdout.flush()
    return 0


def cmd_put(args: argparse.Namespace) -> int:
    """Write a value given as an argument, or read from stdin when it is omitted or ``-``."""
    if args.value is None or args.value == "-":
        value = sys.stdin.buffer.read()
    else:
        value = os.fsencode(args.value)
    with _open(args) as store:
        revision = store.put(args.key, value, lease=args.lease)
    if args.json:
        _print_json({"key": args.key, "revision": revision})
    else:
        _out(f"OK revision {revision}")
    return 0


def cmd_del(args: argparse.Namespace) -> int:
    """Delete a key, or every key under a prefix; print how many were deleted."""
    if args.prefix and args.key == "" and not args.all:
        raise CommandError("--prefix '' would delete every key; add --all to confirm")
    with _open(args) as store:
        if args.prefix:
            deleted = store.delete_prefix(args.key, allow_all=args.all)
        else:
            deleted = store.delete(args.key)
    if args.json:
        _print_json({"deleted": deleted})
    else:
        _out(str(deleted))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """List keys under a prefix (every key without one), optionally with values."""
    with _open(args) as store:
        if args.values:
            items = store.get_multiple(args.prefix)
            if args.json:
                _print_json([{"key": key, **_value_json(value)} for key, value in items.items()])
            else:
                for key, value in items.items():
                    _out(f"{printable(key)}\t{_value_text(value)}")
        else:
            keys = store.list(args.prefix)
            if args.json:
                _print_json(keys)
            else:
                for key in keys:
                    _out(printable(key))
    return 0


def _event_line(event: WatchEvent, *, as_json: bool) -> str:
    if as_json:
        record: dict[str, Any] = {
            "type": event.type.value,
            "key": event.kv.key,
            "revision": event.revision,
        }
        if event.type is kvstore.EventType.PUT:
            record.update(_value_json(event.kv.value))
            record["version"] = event.kv.version
            record["lease"] = event.kv.lease
        if event.prev_kv is not None:
            record["prev_kv"] = _kv_json(event.prev_kv)
        return json.dumps(record)
    line = f"{event.type.value} {printable(event.kv.key)} rev={event.revision}"
    if event.type is kvstore.EventType.PUT:
        line += f" {_value_text(event.kv.value)}"
    if event.prev_kv is not None:
        line += f" (was {_value_text(event.prev_kv.value)})"
    return line


def cmd_watch(args: argparse.Namespace) -> int:
    """Print one line per event until interrupted (or ``--count`` events were seen)."""
    with _open(args) as store:
        if args.prefix:
            watch = store.watch_prefix(args.key, start_revision=args.rev, prev_kv=args.prev_kv)
        else:
            watch = store.watch(args.key, start_revision=args.rev, prev_kv=args.prev_kv)
        with watch, _stop_on_sigterm():
            if not args.json:
                what = "prefix" if args.prefix else "key"
                print(f"watching {what} {args.key!r} (Ctrl-C to stop)", file=sys.stderr)
            for seen, event in enumerate(watch, start=1):
                _out(_event_line(event, as_json=args.json))
                if args.count is not None and seen >= args.count:
                    break
    return 0


class _Terminated(Exception):
    """SIGTERM arrived; unwinds like Ctrl-C so that ``with`` blocks clean up."""


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into an exception in the main thread for the duration of the block."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_lock(args: argparse.Namespace) -> int:
    """Run a command while holding a distributed lock; exit with the command's exit code.

    The command sees ``KVSTORE_LOCK_NAME`` and ``KVSTORE_LOCK_FENCING_TOKEN`` in its
    environment. If the lock's session is lost while the command runs, the command is
    terminated and the exit code is 1.
    """
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CommandError("give the command to run after '--', e.g. lock NAME -- make")
    with _open(args) as store:
        lock = store.new_lock(args.name, ttl=args.ttl)
        try:
            if args.timeout is not None:
                lock.lock(timeout=args.timeout)
            else:
                lock.lock()
            env = {name: value for name, value in os.environ.items() if name not in _ADDED_ENV_VARS}
            env["KVSTORE_LOCK_NAME"] = args.name
            env["KVSTORE_LOCK_FENCING_TOKEN"] = str(lock.fencing_token)
            try:
                child = subprocess.Popen(command, env=env)
            except FileNotFoundError as exc:
                # The shell's exit codes: 127 not found, 126 found but not runnable.
                raise CommandError(
                    f"command not found: {command[0]!r}", code=EXIT_NOT_FOUND
                ) from exc
            except OSError as exc:
                raise CommandError(
                    f"cannot run {command[0]!r}: {exc.strerror}", code=EXIT_NOT_EXECUTABLE
                ) from exc
            return _wait_child(child, lock, _prog(args))
        finally:
            with contextlib.suppress(KVStoreError):
                lock.unlock()
            close = getattr(lock, "close", None)
            if close is not None:
                with contextlib.suppress(KVStoreError):
                    close()


def _lock_lost(lock: object) -> bool:
    lost = getattr(lock, "lost", None)
    is_set = getattr(lost, "is_set", None)
    return bool(is_set()) if callable(is_set) else False


def _wait_child(child: subprocess.Popen[bytes], lock: object, prog: str) -> int:
    """Wait for the child, forwarding SIGINT/SIGTERM, and stop it if the lock is lost."""
    forwarded: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                return child.wait(timeout=0.2) if not forwarded else child.wait()
            except subprocess.TimeoutExpired:
                if _lock_lost(lock):
                    print(
                        f"{prog}: error: the lock's session was lost; stopping the command",
                        file=sys.stderr,
                    )
                    child.terminate()
                    try:
                        child.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
                    return EXIT_ERROR
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_lease(args: argparse.Namespace) -> int:
    """Grant, revoke or inspect a lease (ids are hexadecimal, as etcdctl prints them)."""
    with _open(args) as store:
        if args.lease_command == "grant":
            grant = store.lease_grant(args.ttl)
            if args.json:
                _print_json({"id": f"{grant.id:x}", "ttl": grant.ttl})
            else:
                _out(f"{grant.id:x}")
                print(f"lease {grant.id:x} granted with TTL {grant.ttl}s", file=sys.stderr)
        elif args.lease_command == "revoke":
            store.lease_revoke(args.id)
            if args.json:
                _print_json({"id": f"{args.id:x}", "revoked": True})
            else:
                _out(f"lease {args.id:x} revoked")
        else:
            info = store.lease_time_to_live(args.id, keys=args.keys)
            if args.json:
                record: dict[str, Any] = {
                    "id": f"{info.id:x}",
                    "ttl": info.ttl,
                    "granted_ttl": info.granted_ttl,
                }
                if args.keys:
                    record["keys"] = list(info.keys)
                _print_json(record)
            else:
                line = f"lease {info.id:x}: {info.ttl}s left of {info.granted_ttl}s"
                if args.keys:
                    shown = ", ".join(printable(key) for key in info.keys)
                    line += f"; keys: {shown or '(none)'}"
                _out(line)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print the answering member's status."""
    with _open(args, encrypted=False) as store:
        status = store.status()
    record = {
        "url": redact_url(args.resolved_url),
        "version": status.version,
        "db_size": status.db_size,
        "leader": f"{status.leader:x}",
        "member_id": f"{status.member_id:x}",
        "raft_index": status.raft_index,
        "raft_term": status.raft_term,
        "revision": status.revision,
        "compact_revision": status.compact_revision,
    }
    if args.json:
        _print_json(record)
    else:
        width = max(len(name) for name in record)
        for name, value in record.items():
            _out(printable(f"{name:<{width}}  {value}"))
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    """List the cluster's members."""
    with _open(args, encrypted=False) as store:
        members = store.member_list()
    if args.json:
        _print_json(
            [
                {
                    "id": f"{member.id:x}",
                    "name": member.name,
                    "peer_urls": list(member.peer_urls),
                    "client_urls": list(member.client_urls),
                    "is_learner": member.is_learner,
                }
                for member in members
            ]
        )
    else:
        for member in members:
            learner = " (learner)" if member.is_learner else ""
            _out(
                printable(
                    f"{member.id:x}  {member.name or '(unstarted)'}{learner}  "
                    f"clients={','.join(member.client_urls)}  peers={','.join(member.peer_urls)}"
                )
            )
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Compact history below a revision."""
    with _open(args, encrypted=False) as store:
        store.compact_revision(args.revision, physical=args.physical)
    if args.json:
        _print_json({"compacted": args.revision})
    else:
        _out(f"compacted revision {args.revision}")
    return 0


def cmd_defrag(args: argparse.Namespace) -> int:
    """Defragment the answering member's storage."""
    with _open(args, encrypted=False) as store:
        store.defragment()
    if args.json:
        _print_json({"defragmented": True})
    else:
        _out("defragmented")
    return 0


class _ProgressBar:
    """A progress bar redrawn in place on a terminal; elsewhere only a final summary line.

    Args:
        label: Printed before the bar and the summary.
        stream: Where to draw (default stderr).
        width: The bar's width in characters.
    """

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 30) -> None:
        self._label = label
        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._tty = self._stream.isatty()
        self._shown = (-1, -1)
        self._latest = (0, 0)

    def update(self, done: int, total: int) -> None:
        """Record progress; redraw the bar when on a terminal and something changed."""
        self._latest = (done, total)
        if not self._tty or (done, total) == self._shown:
            return
        self._shown = (done, total)
        fraction = done / total if total else 1.0
        filled = int(self._width * fraction)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r{self._label} [{bar}] {done}/{total}")
        self._stream.flush()

    def finish(self) -> None:
        """End the bar's line on a terminal; elsewhere write the one summary line."""
        if self._tty:
            self._stream.write("\n")
        else:
            done, total = self._latest
            self._stream.write(f"{self._label}: {done}/{total} value(s) examined\n")
        self._stream.flush()


def cmd_reencrypt(args: argparse.Namespace) -> int:
    """Rewrite every value under a prefix that is not under the primary encryption key.

    Exit code 1 when some values could not be decrypted (they are left alone and listed).
    """
    from kvstore.encryption import EncryptedStore

    keyring = _keyring(args)
    if keyring is None:
        raise CommandError(
            f"needs the encryption keys: --key-file FILE, ${KEY_FILE_ENV_VAR} or ${KEY_ENV_VAR}"
        )
    store = EncryptedStore(
        kvstore.open(args.resolved_url), keyring, allow_plaintext=args.allow_plaintext
    )
    with store:
        bar = _ProgressBar(_prog(args))
        try:
            report = store.reencrypt(args.prefix, progress=bar.update)
        finally:
            bar.finish()
    if args.json:
        _print_json(
            {
                "prefix": args.prefix,
                "key_id": report.key_id,
                "examined": report.examined,
                "rewritten": report.rewritten,
                "current": report.current,
                "skipped": list(report.skipped),
                "failed": list(report.failed),
                "revision": report.revision,
            }
        )
    else:
        _out(
            f"examined {report.examined} value(s) under {args.prefix!r}: "
            f"{report.rewritten} rewritten with key {report.key_id}, "
            f"{report.current} already current, {len(report.skipped)} changed meanwhile, "
            f"{len(report.failed)} undecryptable"
        )
        for key in report.failed:
            print(f"{_prog(args)}: cannot decrypt {key!r} (left alone)", file=sys.stderr)
    return EXIT_ERROR if report.failed else 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Print a new random encryption key as an ``ID:KEY`` line of a key file."""
    from kvstore.encryption import Keyring

    key = Keyring.generate_key()
    Keyring.single(key, key_id=args.id)  # rejects an id a key file cannot hold
    _out(f"{args.id}:{Keyring.encode_key(key)}")
    return 0


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now (another may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As etcd does: a port left in TIME_WAIT by a previous server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _serve_port(requested: int | None, preferred: int = SERVE_DEFAULT_PORT) -> int | None:
    """The client port for ``serve``: ``requested``, else ``preferred`` if free, else any.

    Returns:
        The port, or ``None`` for "a free port, chosen by the launcher".
    """
    if requested is not None:
        return requested
    return preferred if _port_is_free(preferred) else None


def _endpoints_of(url: str) -> str:
    """The ``host:port,...`` part of a store URL, the form ``$ETCD_ENDPOINTS`` takes."""
    return urlsplit(url).netloc.rpartition("@")[2]


def cmd_serve(args: argparse.Namespace) -> int:
    """Run a local etcd (through its backend plugin) until Ctrl-C or SIGTERM."""
    from kvstore.plugins import start_local_server

    prog = _prog(args)
    port = _serve_port(args.port)
    server = None
    try:
        with _stop_on_sigterm():
            server = start_local_server(
                SERVE_SCHEME, port=port, data_dir=args.data_dir, binary=args.etcd_binary
            )
            if server.warning:
                print(f"{prog}: warning: {server.warning}", file=sys.stderr)
            if port is None:
                print(
                    f"{prog}: port {SERVE_DEFAULT_PORT} is in use, so this server listens on "
                    "another port: use the export line below (or choose one with --port)",
                    file=sys.stderr,
                )
            _out(f"{server.description} serving at {server.url}")
            endpoints = _endpoints_of(server.url)
            _out(f"  export {ENDPOINTS_ENV_VAR}={endpoints}   # or: --url {server.url}")
            if server.data_dir:
                kept = "" if args.data_dir else " (removed on exit)"
                _out(f"  data dir: {server.data_dir}{kept}")
            _out("Press Ctrl-C to stop.")
            while server.is_running:
                time.sleep(0.2)
            raise CommandError(f"{server.description} exited unexpectedly; see {server.log_path}")
    except (kvstore.BackendNotFoundError, kvstore.PluginLoadError) as exc:
        # Not about --url: serve opens no store, so the URL suffix in _describe misleads.
        raise CommandError(_first_line(exc)) from exc
    except (KeyboardInterrupt, _Terminated):
        if server is not None:
            print(f"stopping {server.description} ...", file=sys.stderr)
        return 0
    finally:
        if server is not None:
            server.stop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk through the library's features (see ``kvstore.demo``)."""
    from kvstore import demo

    url = args.url or os.environ.get(URL_ENV_VAR) or None
    if url is None and os.environ.get(ENDPOINTS_ENV_VAR, "").strip():
        url = resolve_url(None)
    try:
        return demo.run(url)
    except demo.DemoError as exc:
        raise CommandError(_first_line(exc)) from exc


# ---------------------------------------------------------------------------- parser


def _key_id(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a key id (an integer), got {text!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected a key id >= 0, got {text!r}")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``kvstore`` command.

    Returns:
        The parser; each subcommand sets ``handler`` and ``parser`` (its own parser, for
        errors that name it).
    """
    url_option = _Parser(add_help=False)
    url_option.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"store URL (default: ${URL_ENV_VAR}, else ${ENDPOINTS_ENV_VAR}, else {DEFAULT_URL})",
    )
    key_file_option = _Parser(add_help=False)
    key_file_option.add_argument(
        "--key-file",
        default=argparse.SUPPRESS,
        help=f"encryption keys, ID:KEY per line (default: ${KEY_FILE_ENV_VAR}, ${KEY_ENV_VAR})",
    )
    option_parsers = {"url": url_option, "key_file": key_file_option}
    store_options = ("url", "key_file")
    as_json = _Parser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="machine-readable JSON output")

    parser = _Parser(
        prog="kvstore",
        description="Read, write, watch and administer a kvstore (etcd, memory://, plugins).",
        epilog="Environment: KVSTORE_URL, ETCD_ENDPOINTS=host:port[,host:port], "
        "KVSTORE_ENCRYPTION_KEY_FILE or KVSTORE_ENCRYPTION_KEY (keys: ID:KEY, hex or base64).",
    )
    parser.add_argument("--url", help="store URL (also accepted after the command)")
    parser.add_argument("--key-file", help="encryption key file (also after the command)")
    parser.add_argument("--version", action="version", version=f"kvstore {kvstore.__version__}")
    parser.set_defaults(parser=parser, options=())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def add(
        name: str,
        handler: Callable[[argparse.Namespace], int],
        help_text: str,
        *parents: _Parser,
        options: tuple[str, ...] = store_options,
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            parents=[*(option_parsers[option] for option in options), *parents],
            help=help_text,
            description=help_text,
            **kwargs,
        )
        sub.set_defaults(handler=handler, parser=sub, options=options)
        return sub

    sub = add("get", cmd_get, "print the value of KEY (raw bytes; --json for metadata)", as_json)
    sub.add_argument("key", help="the key to read")
    sub.add_argument("--rev", type=_positive_int, help="read as of this revision")

    sub = add("put", cmd_put, "write VALUE (or stdin) at KEY", as_json)
    sub.add_argument("key", help="the key to write")
    sub.add_argument("value", nargs="?", help="the value; omitted or '-' reads stdin")
    sub.add_argument("--lease", type=_parse_lease_id, help="attach to this lease (hex id)")

    sub = add("del", cmd_del, "delete KEY (or every key under a prefix)", as_json)
    sub.add_argument("key", help="the key to delete (the prefix, with --prefix)")
    sub.add_argument("--prefix", action="store_true", help="delete every key starting with KEY")
    sub.add_argument("--all", action="store_true", help="allow --prefix '' (every key)")

    sub = add("ls", cmd_ls, "list the keys under PREFIX (every key if omitted)", as_json)
    sub.add_argument("prefix", nargs="?", default="", help="list keys starting with this")
    sub.add_argument("--values", action="store_true", help="print values too")

    sub = add("watch", cmd_watch, "print changes to KEY as they happen, one line each", as_json)
    sub.add_argument("key", help="the key to watch (the prefix, with --prefix)")
    sub.add_argument("--prefix", action="store_true", help="watch every key starting with KEY")
    sub.add_argument("--rev", type=_positive_int, help="replay history from this revision")
    sub.add_argument("--prev-kv", action="store_true", help="show the previous value too")
    sub.add_argument("--count", type=_positive_int, help="exit after this many events")

    sub = add(
        "lock",
        cmd_lock,
        "run COMMAND while holding the lock NAME; exits with COMMAND's exit code "
        "(127: COMMAND not found, 126: not executable)",
        usage="kvstore lock [--ttl S] [--timeout S] [--url URL] [--key-file KEY_FILE] "
        "NAME -- COMMAND [ARG ...]",
    )
    sub.add_argument("name", help="the lock's name (a key prefix shared by its holders)")
    sub.add_argument("command", nargs=argparse.REMAINDER, help="the command, after '--'")
    sub.add_argument(
        "--ttl", type=_positive_int, default=10, metavar="S", help="session lease TTL (10 s)"
    )
    sub.add_argument("--timeout", type=_positive_float, metavar="S", help="give up after S seconds")

    lease = add("lease", cmd_lease, "grant, revoke or inspect leases (hex ids)")
    lease_commands = lease.add_subparsers(
        dest="lease_command", metavar="ACTION", parser_class=_Parser
    )
    lease_commands.required = True

    def add_lease(name: str, help_text: str) -> argparse.ArgumentParser:
        action = lease_commands.add_parser(
            name,
            parents=[url_option, key_file_option, as_json],
            help=help_text,
            description=help_text,
        )
        action.set_defaults(parser=action, options=store_options)
        return action

    grant = add_lease("grant", "grant a lease of TTL seconds; prints its id")
    grant.add_argument("ttl", type=_positive_int, help="the lease's time to live in seconds")
    revoke = add_lease("revoke", "revoke a lease, deleting its keys")
    revoke.add_argument("id", type=_parse_lease_id, help="the lease id (hexadecimal)")
    ttl = add_lease("ttl", "a lease's remaining TTL")
    ttl.add_argument("id", type=_parse_lease_id, help="the lease id (hexadecimal)")
    ttl.add_argument("--keys", action="store_true", help="list the keys attached to it")

    add("status", cmd_status, "show the answering member's status", as_json)
    add("members", cmd_members, "list the cluster's members", as_json)

    sub = add("compact", cmd_compact, "forget history below REVISION", as_json)
    sub.add_argument("revision", type=_positive_int, help="the oldest revision to keep")
    sub.add_argument("--physical", action="store_true", help="wait until the space is freed")

    add("defrag", cmd_defrag, "defragment the answering member's storage", as_json)

    sub = add(
        "reencrypt",
        cmd_reencrypt,
        "rewrite values under a prefix with the primary encryption key",
        as_json,
    )
    sub.add_argument("--prefix", required=True, help="the key prefix to rewrite ('' for all)")
    sub.add_argument(
        "--allow-plaintext",
        action="store_true",
        help="encrypt plaintext values too (migrating a store to encryption)",
    )

    sub = add(
        "keygen",
        cmd_keygen,
        "print a new random encryption key as an ID:KEY line: kvstore keygen > keys.txt "
        "(keep the file private); to rotate, append a key with a higher --id and reencrypt",
        options=(),
    )
    sub.add_argument("--id", type=_key_id, default=1, help="the key id (default 1)")

    sub = add(
        "serve",
        cmd_serve,
        f"start a local etcd for development; {SERVE_WARNING}",
        options=(),
    )
    sub.add_argument(
        "--port",
        type=_positive_int,
        help=f"client port (default: {SERVE_DEFAULT_PORT} if free, else a free port)",
    )
    sub.add_argument("--data-dir", help="keep data here (default: a temporary directory)")
    sub.add_argument("--etcd-binary", help="etcd binary (default: $KVSTORE_ETCD_BIN, bundled)")

    add(
        "demo",
        cmd_demo,
        "walk through every feature; with no URL it starts a throwaway local etcd",
        options=("url",),
    )
    return parser


# ---------------------------------------------------------------------------- entry point


def _prog(args: argparse.Namespace) -> str:
    """The command as typed, ``kvstore lease revoke``: the prefix of its messages."""
    prog: str = args.parser.prog
    return prog


def _fail(message: str, prog: str = "kvstore", code: int = EXIT_ERROR) -> int:
    print(f"{prog}: error: {printable(message)}", file=sys.stderr)
    return code


def _quiet_grpc() -> None:
    """Keep gRPC's C core from logging beside our one-line errors (before grpc loads)."""
    if GRPC_VERBOSITY_ENV_VAR not in os.environ:
        os.environ[GRPC_VERBOSITY_ENV_VAR] = GRPC_VERBOSITY
        _ADDED_ENV_VARS.add(GRPC_VERBOSITY_ENV_VAR)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``kvstore`` command.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    _quiet_grpc()
    parser = build_parser()
    args, unrecognized = parser.parse_known_args(argv)
    command_parser: argparse.ArgumentParser = args.parser
    if unrecognized:
        command_parser.error(f"unrecognized arguments: {' '.join(unrecognized)}")
    for dest in ("url", "key_file"):
        if getattr(args, dest, None) is not None and dest not in args.options:
            flag = "--" + dest.replace("_", "-")
            command_parser.error(f"{flag} does not apply to {args.command}")
    args.resolved_url = resolve_url(getattr(args, "url", None))
    if not hasattr(args, "url"):
        args.url = None
    prog = _prog(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (KeyboardInterrupt, _Terminated):
        return EXIT_INTERRUPTED
    except CommandError as exc:
        return _fail(_first_line(exc), prog, exc.code)
    except KVStoreError as exc:
        code = _fail(_describe(exc, args), prog)
        hint = _tls_hint(exc, args.resolved_url)
        if hint:
            print(f"{prog}: hint: {hint}", file=sys.stderr)
        return code
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a message.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get(DEBUG_ENV_VAR):
            raise
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV_VAR}=1 for a traceback)",
            prog,
        )


def _describe(error: KVStoreError, args: argparse.Namespace) -> str:
    """The error's first line, without the library's operation prefix, plus the store URL.

    The library names its primitive (``range:``, ``lease_revoke:``); the line's prefix
    already names the command the user typed, so the primitive's name is dropped.
    """
    message = _first_line(error)
    is_open_error = isinstance(error, ConfigurationError) and message.startswith("open:")
    if error.operation and message.startswith(f"{error.operation}: "):
        message = message[len(error.operation) + 2 :]
    if isinstance(error, kvstore.UnavailableError | kvstore.OperationTimeoutError):
        message += f" (store: {redact_url(args.resolved_url)})"
    elif isinstance(error, kvstore.BackendNotFoundError | kvstore.PluginLoadError) or is_open_error:
        message += f" (url: {redact_url(args.resolved_url)})"
    return message


_TLS_PROBE_TIMEOUT = 1.0
_TLS_PROBE_MAX_ENDPOINTS = 3


def _speaks_tls(host: str, port: int) -> bool:
    """Whether ``host:port`` answers a TLS handshake (the certificate is not checked)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=_TLS_PROBE_TIMEOUT) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except ssl.SSLError as exc:
        # A TLS server that refuses us (e.g. wants a client certificate) still answers
        # with a TLS alert; a plaintext server's reply is no TLS record at all.
        return "ALERT" in (exc.reason or "").upper()
    except OSError:
        return False


def _tls_hint(error: KVStoreError, url: str) -> str | None:
    """A hint when a plain ``etcd://`` URL failed because the server speaks TLS.

    Only given when an endpoint completes a TLS handshake (or answers with a TLS alert),
    so an unreachable plaintext server never gets a misleading hint.
    """
    if not isinstance(error, kvstore.UnavailableError):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() != "etcd":
        return None
    for endpoint in _endpoints_of(url).split(",")[:_TLS_PROBE_MAX_ENDPOINTS]:
        try:
            address = urlsplit(f"//{endpoint}")
            host, port = address.hostname, address.port or SERVE_DEFAULT_PORT
        except ValueError:
            continue
        if host and _speaks_tls(host, port):
            return f"{endpoint} speaks TLS: is the server using TLS? try etcds://"
    return None


if __name__ == "__main__":
    sys.exit(main())
