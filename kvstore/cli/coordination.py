"""Coordination: ``lock NAME -- COMMAND`` and ``lease grant/revoke/ttl``."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from types import FrameType
from typing import Any

from kvstore.cli._common import (
    EXIT_ERROR,
    EXIT_NOT_EXECUTABLE,
    EXIT_NOT_FOUND,
    CommandError,
    CommandSet,
    lease_id,
    open_store,
    out,
    positive_float,
    positive_int,
    print_json,
    printable,
    prog_of,
)
from kvstore.errors import KVStoreError

__all__ = ["cmd_lease", "cmd_lock", "register"]


def cmd_lock(args: argparse.Namespace) -> int:
    """Run a command while holding a distributed lock; exit with the command's exit code.

    The command sees ``KVSTORE_LOCK_NAME`` and ``KVSTORE_LOCK_FENCING_TOKEN`` in its
    environment, and not the variables ``main`` set for itself (``args.own_env_vars``).
    If the lock's session is lost while the command runs, the command is terminated and
    the exit code is 1.
    """
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise CommandError("give the command to run after '--', e.g. lock NAME -- make")
    own_env_vars: frozenset[str] = getattr(args, "own_env_vars", frozenset())
    with open_store(args) as store:
        lock = store.new_lock(args.name, ttl=args.ttl)
        try:
            if args.timeout is not None:
                lock.lock(timeout=args.timeout)
            else:
                lock.lock()
            env = {name: value for name, value in os.environ.items() if name not in own_env_vars}
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
            return _wait_child(child, lock, prog_of(args))
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
    with open_store(args) as store:
        if args.lease_command == "grant":
            grant = store.lease_grant(args.ttl)
            if args.json:
                print_json({"id": f"{grant.id:x}", "ttl": grant.ttl})
            else:
                out(f"{grant.id:x}")
                print(f"lease {grant.id:x} granted with TTL {grant.ttl}s", file=sys.stderr)
        elif args.lease_command == "revoke":
            store.lease_revoke(args.id)
            if args.json:
                print_json({"id": f"{args.id:x}", "revoked": True})
            else:
                out(f"lease {args.id:x} revoked")
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
                print_json(record)
            else:
                line = f"lease {info.id:x}: {info.ttl}s left of {info.granted_ttl}s"
                if args.keys:
                    shown = ", ".join(printable(key) for key in info.keys)
                    line += f"; keys: {shown or '(none)'}"
                out(line)
    return 0


def register(commands: CommandSet) -> None:
    """Add ``lock`` and ``lease`` (with its actions ``grant``, ``revoke`` and ``ttl``)."""
    sub = commands.add(
        "lock",
        cmd_lock,
        "run COMMAND while holding the lock NAME; exits with COMMAND's exit code "
        "(127: COMMAND not found, 126: not executable)",
        usage="kvstore lock [--ttl S] [--timeout S] [--url URL] [--key-file KEY_FILE] "
        "[--namespace PREFIX] NAME -- COMMAND [ARG ...]",
    )
    sub.add_argument("name", help="the lock's name (a key prefix shared by its holders)")
    sub.add_argument("command", nargs=argparse.REMAINDER, help="the command, after '--'")
    sub.add_argument(
        "--ttl", type=positive_int, default=10, metavar="S", help="session lease TTL (10 s)"
    )
    sub.add_argument("--timeout", type=positive_float, metavar="S", help="give up after S seconds")

    lease = commands.add("lease", cmd_lease, "grant, revoke or inspect leases (hex ids)")
    actions = CommandSet(lease, dest="lease_command", metavar="ACTION")
    grant = actions.add(
        "grant", None, "grant a lease of TTL seconds; prints its id", actions.as_json
    )
    grant.add_argument("ttl", type=positive_int, help="the lease's time to live in seconds")
    revoke = actions.add("revoke", None, "revoke a lease, deleting its keys", actions.as_json)
    revoke.add_argument("id", type=lease_id, help="the lease id (hexadecimal)")
    ttl = actions.add("ttl", None, "a lease's remaining TTL", actions.as_json)
    ttl.add_argument("id", type=lease_id, help="the lease id (hexadecimal)")
    ttl.add_argument("--keys", action="store_true", help="list the keys attached to it")
