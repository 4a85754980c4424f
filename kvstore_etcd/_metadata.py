"""The gRPC metadata of an etcd call: the auth token, and ``hasleader`` on streams."""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["REQUIRE_LEADER", "Metadata", "with_leader"]

Metadata: TypeAlias = tuple[tuple[str, str], ...] | None
"""The gRPC metadata of a call: the auth token, or ``None`` without auth."""

REQUIRE_LEADER = ("hasleader", "true")
"""gRPC metadata asking etcd to end the stream when its member has no leader (Go's
``WithRequireLeader``): a member cut off from its leader ends the stream instead of
leaving it silent."""


def with_leader(metadata: Metadata) -> tuple[tuple[str, str], ...]:
    """A stream's metadata: auth (if any) and ``hasleader=true``."""
    return (*(metadata or ()), REQUIRE_LEADER)
