"""Coordination: ``lock NAME -- COMMAND``, ``elect NAME PROPOSAL`` and ``lease grant/revoke/ttl``.

``--layout etcd`` puts the lock's (or election's) keys where etcd's Go ``concurrency``
package and ``etcdctl lock`` / ``etcdctl elect`` put theirs (``NAME/<lease hex>``), so a
``kvstore lock --layout etcd NAME`` and an ``etcdctl lock NAME`` exclude each other.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
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
from kvstore.recipes import LAYOUTS
from kvstore.types import KeyValue

__all__ = ["cmd_elect", "cmd_lease", "cmd_lock", "register"]


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
    with open_store(args) as store:
        lock = store.new_lock(args.name, ttl=args.ttl, layout=args.layout)
        try:
            if args.timeout is not None:
                lock.lock(timeout=args.timeout)
            else:
                lock.lock()
            env = _child_env(args)
            env["KVSTORE_LOCK_NAME"] = args.name
            env["KVSTORE_LOCK_FENCING_TOKEN"] = str(lock.fencing_token)
            return _wait_child(_start_child(command, env), lock, prog_of(args))
        finally:
            with contextlib.suppress(KVStoreError):
                lock.unlock()
            close = getattr(lock, "close", None)
            if close is not None:
                with contextlib.suppress(KVStoreError):
                    close()


def cmd_elect(args: argparse.Namespace) -> int:
    """Campaign in an election, or follow its leaders (``--listen``), as ``etcdctl elect``.

    ``elect NAME PROPOSAL``: once elected, print the leader's key and value (two lines) and
    lead until SIGINT or SIGTERM, then resign (exit 0; 1 if leadership was lost).
    ``elect NAME PROPOSAL -- COMMAND``: run the command while leading, with
    ``KVSTORE_ELECTION_NAME`` and ``KVSTORE_ELECTION_FENCING_TOKEN`` in its environment,
    then resign; exit with the command's exit code. ``elect --listen NAME``: print each
    leader's key and value as it changes (``--count N``: stop after N leaders).
    """
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if args.listen:
        if args.proposal is not None or command:
            raise CommandError("--listen takes the election's name only, no proposal")
        return _listen(args)
    if args.proposal is None:
        raise CommandError("give a PROPOSAL to campaign with, or --listen to follow the leaders")
    if args.count is not None:
        raise CommandError("--count goes with --listen")
    with open_store(args) as store:
        election = store.new_election(args.name, ttl=args.ttl, layout=args.layout)
        try:
            proposal = os.fsencode(args.proposal)
            if args.timeout is not None:
                election.campaign(proposal, timeout=args.timeout)
            else:
                election.campaign(proposal)
            if command:
                env = _child_env(args)
                env["KVSTORE_ELECTION_NAME"] = args.name
                env["KVSTORE_ELECTION_FENCING_TOKEN"] = str(election.fencing_token)
                return _wait_child(_start_child(command, env), election, prog_of(args))
            leader = election.leader()
            if leader is not None:
                _print_leader(leader)
            return _hold_until_signal(election, prog_of(args))
        finally:
            with contextlib.suppress(KVStoreError):
                election.close()


def _listen(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        election = store.new_election(args.name, layout=args.layout)
        seen = 0
        stop = threading.Event()
        previous = _on_signals(lambda signum: stop.set())
        try:
            with election.observe() as leaders:
                while not stop.is_set() and (args.count is None or seen < args.count):
                    leader = leaders.next_leader(timeout=0.2)
                    if leader is not None:
                        _print_leader(leader)
                        seen += 1
        finally:
            _restore_signals(previous)
    return 0


def _print_leader(leader: KeyValue) -> None:
    out(printable(leader.key))
    out(printable(os.fsdecode(leader.value)))


def _hold_until_signal(holder: object, prog: str) -> int:
    """Wait for SIGINT or SIGTERM (exit 0), or for the holder's session to be lost (1)."""
    stop = threading.Event()
    previous = _on_signals(lambda signum: stop.set())
    try:
        while not stop.wait(0.2):
            if _lock_lost(holder):
                print(f"{prog}: error: the session was lost", file=sys.stderr)
                return EXIT_ERROR
        return 0
    finally:
        _restore_signals(previous)


def _on_signals(handler: Any) -> dict[int, Any]:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        handler(signum)

    return {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _child_env(args: argparse.Namespace) -> dict[str, str]:
    """The caller's environment without the variables ``main`` set for itself."""
    own_env_vars: frozenset[str] = getattr(args, "own_env_vars", frozenset())
    return {name: value for name, value in os.environ.items() if name not in own_env_vars}


def _start_child(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(command, env=env)
    except FileNotFoundError as exc:
        # The shell's exit codes: 127 not found, 126 found but not runnable.
        raise CommandError(f"command not found: {command[0]!r}", code=EXIT_NOT_FOUND) from exc
    except OSError as exc:
        raise CommandError(
            f"cannot run {command[0]!r}: {exc.strerror}", code=EXIT_NOT_EXECUTABLE
        ) from exc


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


def _add_layout(parser: argparse.ArgumentParser, etcdctl: str) -> None:
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="kvstore",
        help=f"key layout: kvstore (default) or etcd (NAME/<lease hex>, shared with {etcdctl})",
    )


def register(commands: CommandSet) -> None:
    """Add ``lock``, ``elect`` and ``lease`` (with its actions ``grant``, ``revoke``, ``ttl``)."""
    sub = commands.add(
        "lock",
        cmd_lock,
        "run COMMAND while holding the lock NAME; exits with COMMAND's exit code "
        "(127: COMMAND not found, 126: not executable)",
        usage="kvstore lock [--ttl S] [--timeout S] [--layout {kvstore,etcd}] [--url URL] "
        "[--key-file KEY_FILE] [--namespace PREFIX] NAME -- COMMAND [ARG ...]",
    )
    sub.add_argument("name", help="the lock's name (a key prefix shared by its holders)")
    sub.add_argument("command", nargs=argparse.REMAINDER, help="the command, after '--'")
    sub.add_argument(
        "--ttl", type=positive_int, default=10, metavar="S", help="session lease TTL (10 s)"
    )
    sub.add_argument("--timeout", type=positive_float, metavar="S", help="give up after S seconds")
    _add_layout(sub, "etcdctl lock")

    elect = commands.add(
        "elect",
        cmd_elect,
        "campaign with PROPOSAL and lead until interrupted (or while COMMAND runs), "
        "or follow the leaders with --listen",
        usage="kvstore elect [--ttl S] [--timeout S] [--layout {kvstore,etcd}] [--url URL] "
        "[--key-file KEY_FILE] [--namespace PREFIX] NAME PROPOSAL [-- COMMAND [ARG ...]]\n"
        "       kvstore elect --listen [--count N] [--layout {kvstore,etcd}] NAME",
    )
    elect.add_argument("name", help="the election's name")
    elect.add_argument("proposal", nargs="?", help="the value the leader announces")
    elect.add_argument("command", nargs=argparse.REMAINDER, help="a command, after '--'")
    elect.add_argument(
        "-l", "--listen", action="store_true", help="print each new leader (key, value)"
    )
    elect.add_argument(
        "--count", type=positive_int, metavar="N", help="with --listen: stop after N leaders"
    )
    elect.add_argument(
        "--ttl", type=positive_int, default=10, metavar="S", help="session lease TTL (10 s)"
    )
    elect.add_argument(
        "--timeout", type=positive_float, metavar="S", help="give up campaigning after S seconds"
    )
    _add_layout(elect, "etcdctl elect")

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
