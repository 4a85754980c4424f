"""Cluster administration: ``status``, ``members``, ``compact``, ``defrag``.

These commands read no values, so they open the store without wrappers and read no key.
"""

from __future__ import annotations

import argparse

from kvstore.cli._common import CommandSet, open_store, out, positive_int, print_json, printable
from kvstore.cli.urls import redact_url

__all__ = ["cmd_compact", "cmd_defrag", "cmd_members", "cmd_status", "register"]


def cmd_status(args: argparse.Namespace) -> int:
    """Print the answering member's status."""
    with open_store(args, values=False) as store:
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
        print_json(record)
    else:
        width = max(len(name) for name in record)
        for name, value in record.items():
            out(printable(f"{name:<{width}}  {value}"))
    return 0


def cmd_members(args: argparse.Namespace) -> int:
    """List the cluster's members."""
    with open_store(args, values=False) as store:
        members = store.member_list()
    if args.json:
        print_json(
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
            out(
                printable(
                    f"{member.id:x}  {member.name or '(unstarted)'}{learner}  "
                    f"clients={','.join(member.client_urls)}  peers={','.join(member.peer_urls)}"
                )
            )
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    """Compact history below a revision."""
    with open_store(args, values=False) as store:
        store.compact_revision(args.revision, physical=args.physical)
    if args.json:
        print_json({"compacted": args.revision})
    else:
        out(f"compacted revision {args.revision}")
    return 0


def cmd_defrag(args: argparse.Namespace) -> int:
    """Defragment the answering member's storage."""
    with open_store(args, values=False) as store:
        store.defragment()
    if args.json:
        print_json({"defragmented": True})
    else:
        out("defragmented")
    return 0


def register(commands: CommandSet) -> None:
    """Add ``status``, ``members``, ``compact`` and ``defrag``."""
    as_json = commands.as_json
    commands.add("status", cmd_status, "show the answering member's status", as_json)
    commands.add("members", cmd_members, "list the cluster's members", as_json)
    sub = commands.add("compact", cmd_compact, "forget history below REVISION", as_json)
    sub.add_argument("revision", type=positive_int, help="the oldest revision to keep")
    sub.add_argument("--physical", action="store_true", help="wait until the space is freed")
    commands.add("defrag", cmd_defrag, "defragment the answering member's storage", as_json)
