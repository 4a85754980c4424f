"""Keys and values: ``get``, ``put``, ``del``, ``ls``, ``watch``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import kvstore
from kvstore._sync.base import BaseStore
from kvstore.cli._common import (
    CommandError,
    CommandSet,
    kv_json,
    lease_id,
    open_store,
    out,
    positive_int,
    print_json,
    printable,
    stop_on_sigterm,
    value_json,
    value_text,
)
from kvstore.types import MirrorChange, WatchEvent

__all__ = ["cmd_del", "cmd_get", "cmd_ls", "cmd_put", "cmd_watch", "register"]

_SYNC_SECONDS = 30.0
"""How long ``watch --mirror`` waits for the first listing."""


def cmd_get(args: argparse.Namespace) -> int:
    """Print a value (raw bytes), or with ``--json`` the value and its metadata."""
    with open_store(args) as store:
        if args.rev is not None:
            value = store.get_with_revision(args.key, args.rev)
            if args.json:
                print_json({"key": args.key, **value_json(value), "revision": args.rev})
                return 0
        else:
            kv = store.get_kv(args.key)
            if kv is None:
                raise kvstore.KeyNotFoundError(
                    f"get: key {args.key!r} not found", key=args.key, operation="get"
                )
            if args.json:
                print_json(kv_json(kv))
                return 0
            value = kv.value
    if sys.stdout.isatty():
        # For people: line breaks stay (multi-line values are common), escape codes do not.
        text = value_text(value, keep="\n\t")
        out(text[:-1] if text.endswith("\n") else text)
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
    with open_store(args) as store:
        revision = store.put(args.key, value, lease=args.lease)
    if args.json:
        print_json({"key": args.key, "revision": revision})
    else:
        out(f"OK revision {revision}")
    return 0


def cmd_del(args: argparse.Namespace) -> int:
    """Delete a key, or every key under a prefix; print how many were deleted."""
    if args.prefix and args.key == "" and not args.all:
        raise CommandError("--prefix '' would delete every key; add --all to confirm")
    with open_store(args) as store:
        if args.prefix:
            deleted = store.delete_prefix(args.key, allow_all=args.all)
        else:
            deleted = store.delete(args.key)
    if args.json:
        print_json({"deleted": deleted})
    else:
        out(str(deleted))
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    """List keys under a prefix (every key without one), optionally with values."""
    with open_store(args) as store:
        if args.values:
            items = store.get_multiple(args.prefix)
            if args.json:
                print_json([{"key": key, **value_json(value)} for key, value in items.items()])
            else:
                for key, value in items.items():
                    out(f"{printable(key)}\t{value_text(value)}")
        else:
            keys = store.list(args.prefix)
            if args.json:
                print_json(keys)
            else:
                for key in keys:
                    out(printable(key))
    return 0


def _event_line(event: WatchEvent, *, as_json: bool) -> str:
    if as_json:
        record: dict[str, Any] = {
            "type": event.type.value,
            "key": event.kv.key,
            "revision": event.revision,
        }
        if event.type is kvstore.EventType.PUT:
            record.update(value_json(event.kv.value))
            record["version"] = event.kv.version
            record["lease"] = event.kv.lease
        if event.prev_kv is not None:
            record["prev_kv"] = kv_json(event.prev_kv)
        return json.dumps(record)
    line = f"{event.type.value} {printable(event.kv.key)} rev={event.revision}"
    if event.type is kvstore.EventType.PUT:
        line += f" {value_text(event.kv.value)}"
    if event.prev_kv is not None:
        line += f" (was {value_text(event.prev_kv.value)})"
    return line


def _change_line(change: MirrorChange, *, as_json: bool) -> str:
    kind = "delete" if change.new is None else "put"
    if as_json:
        record: dict[str, Any] = {
            "type": kind,
            "key": change.key,
            "revision": change.revision,
            "relisted": change.relisted,
        }
        if change.new is not None:
            record.update(value_json(change.new.value))
            record["version"] = change.new.version
            record["lease"] = change.new.lease
        return json.dumps(record)
    line = f"{kind} {printable(change.key)} rev={change.revision}"
    if change.new is not None:
        line += f" {value_text(change.new.value)}"
    return line + (" (listed)" if change.relisted else "")


def _watch_mirror(store: BaseStore, args: argparse.Namespace) -> int:
    """``watch --mirror``: the prefix's state (one ``(listed)`` line per key), then its
    changes; a relist after compaction prints the changes it found, ``(listed)`` too."""
    if args.rev is not None or args.prev_kv:
        raise CommandError("watch: --mirror takes neither --rev nor --prev-kv")
    with store.mirror(args.key) as mirror, stop_on_sigterm():
        if not mirror.wait_synced(_SYNC_SECONDS):
            raise CommandError(f"watch: the mirror of {args.key!r} did not sync: {mirror.error}")
        changes = mirror.changes()
        if not args.json:
            # After the mirror is live: a write made once this is printed is not missed.
            print(
                f"mirroring {len(mirror)} keys under {args.key!r} from revision "
                f"{mirror.revision} (Ctrl-C to stop)",
                file=sys.stderr,
            )
        for seen, change in enumerate(changes, start=1):
            out(_change_line(change, as_json=args.json))
            if args.count is not None and seen >= args.count:
                break
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    """Print one line per event until interrupted (or ``--count`` events were seen)."""
    with open_store(args) as store:
        if args.mirror:
            return _watch_mirror(store, args)
        if args.prefix:
            watch = store.watch_prefix(args.key, start_revision=args.rev, prev_kv=args.prev_kv)
        else:
            watch = store.watch(args.key, start_revision=args.rev, prev_kv=args.prev_kv)
        with watch, stop_on_sigterm():
            if not args.json:
                what = "prefix" if args.prefix else "key"
                print(f"watching {what} {args.key!r} (Ctrl-C to stop)", file=sys.stderr)
            for seen, event in enumerate(watch, start=1):
                out(_event_line(event, as_json=args.json))
                if args.count is not None and seen >= args.count:
                    break
    return 0


def register(commands: CommandSet) -> None:
    """Add ``get``, ``put``, ``del``, ``ls`` and ``watch``."""
    as_json = commands.as_json
    sub = commands.add(
        "get", cmd_get, "print the value of KEY (raw bytes; --json for metadata)", as_json
    )
    sub.add_argument("key", help="the key to read")
    sub.add_argument("--rev", type=positive_int, help="read as of this revision")

    sub = commands.add("put", cmd_put, "write VALUE (or stdin) at KEY", as_json)
    sub.add_argument("key", help="the key to write")
    sub.add_argument("value", nargs="?", help="the value; omitted or '-' reads stdin")
    sub.add_argument("--lease", type=lease_id, help="attach to this lease (hex id)")

    sub = commands.add("del", cmd_del, "delete KEY (or every key under a prefix)", as_json)
    sub.add_argument("key", help="the key to delete (the prefix, with --prefix)")
    sub.add_argument("--prefix", action="store_true", help="delete every key starting with KEY")
    sub.add_argument("--all", action="store_true", help="allow --prefix '' (every key)")

    sub = commands.add("ls", cmd_ls, "list the keys under PREFIX (every key if omitted)", as_json)
    sub.add_argument("prefix", nargs="?", default="", help="list keys starting with this")
    sub.add_argument("--values", action="store_true", help="print values too")

    sub = commands.add(
        "watch", cmd_watch, "print changes to KEY as they happen, one line each", as_json
    )
    sub.add_argument("key", help="the key to watch (the prefix, with --prefix)")
    sub.add_argument("--prefix", action="store_true", help="watch every key starting with KEY")
    sub.add_argument("--rev", type=positive_int, help="replay history from this revision")
    sub.add_argument("--prev-kv", action="store_true", help="show the previous value too")
    sub.add_argument("--count", type=positive_int, help="exit after this many events")
    sub.add_argument(
        "--mirror",
        action="store_true",
        help="keep the keys under KEY (a prefix) in memory: print their state, then changes",
    )
