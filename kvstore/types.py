"""Immutable value types shared by every backend: key-values, results, events, infos.

All of them are frozen, slotted ``attrs`` classes, so they hash, compare and pickle.
Values are ``bytes`` and keys are ``str`` on every backend.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

import attrs

__all__ = [
    "AlarmInfo",
    "Capability",
    "DeleteResult",
    "EventType",
    "HashInfo",
    "KeyValue",
    "LeaseGrant",
    "LeaseInfo",
    "MemberInfo",
    "MirrorChange",
    "OpResult",
    "PutResult",
    "RangeResult",
    "SortOrder",
    "SortTarget",
    "StatusInfo",
    "TxnResult",
    "WatchEvent",
]


@attrs.frozen
class KeyValue:
    """One key with its value and etcd metadata.

    Attributes:
        key: The key.
        value: The value (``b""`` for keys-only reads).
        create_revision: Store revision of the put that created the key.
        mod_revision: Store revision of the last write to the key.
        version: Number of puts since the key was created (1 after the first put).
        lease: The lease id the key is attached to, 0 for none.
    """

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


class EventType(enum.Enum):
    """What happened to a key in a watch event."""

    PUT = "PUT"
    DELETE = "DELETE"


@attrs.frozen
class WatchEvent:
    """One change seen by a watch.

    Attributes:
        type: ``EventType.PUT`` or ``EventType.DELETE``.
        kv: The key after the change; for a delete, only ``key`` and ``mod_revision`` (the
            revision of the delete) are meaningful.
        prev_kv: The key before the change, when the watch asked for ``prev_kv``.
    """

    type: EventType
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        """The store revision at which the change happened."""
        return self.kv.mod_revision


class SortTarget(enum.Enum):
    """The field a range read sorts by (etcd's ``RangeRequest.SortTarget``)."""

    KEY = "key"
    VERSION = "version"
    CREATE = "create_revision"
    MOD = "mod_revision"
    VALUE = "value"


class SortOrder(enum.Enum):
    """The direction of a range read's sort (etcd's ``RangeRequest.SortOrder``).

    ``NONE`` is key order, unless the sort target is not ``SortTarget.KEY``: then it is
    ``ASCEND``, as etcd does, but with a ``limit`` etcd then sorts only the first
    ``limit + 1`` keys of the range; an explicit ``ASCEND`` sorts the whole range.
    """

    NONE = "none"
    ASCEND = "ascend"
    DESCEND = "descend"


@attrs.frozen
class RangeResult:
    """The answer to a range read.

    Attributes:
        kvs: The key-values found, ordered by key unless the read asked for a sort (empty
            for count-only reads).
        count: How many keys are in the range, regardless of ``limit`` and of the
            create-revision bounds (as etcd counts).
        more: Whether ``limit`` cut the result (counted after the create-revision bounds).
        revision: The store revision the read was served at.
    """

    kvs: tuple[KeyValue, ...]
    count: int
    more: bool
    revision: int


@attrs.frozen
class PutResult:
    """The answer to a put: the new store revision and, if asked, the previous key-value."""

    revision: int
    prev_kv: KeyValue | None = None


@attrs.frozen
class DeleteResult:
    """The answer to a delete: the store revision, how many keys went, and, if asked, which."""

    revision: int
    deleted: int
    prev_kvs: tuple[KeyValue, ...] = ()


@attrs.frozen
class TxnResult:
    """The answer to a transaction.

    Attributes:
        succeeded: Whether every compare held (so the ``then`` branch ran).
        responses: One result per operation of the branch that ran, in order.
        revision: The store revision after the transaction (one revision for all its writes).
    """

    succeeded: bool
    responses: tuple[OpResult, ...]
    revision: int


OpResult: TypeAlias = "RangeResult | PutResult | DeleteResult | TxnResult"


@attrs.frozen
class LeaseGrant:
    """A granted lease: its id and the TTL the store granted (may be above the asked TTL)."""

    id: int
    ttl: int


@attrs.frozen
class LeaseInfo:
    """A lease's state.

    Attributes:
        id: The lease id.
        ttl: Seconds left before it expires.
        granted_ttl: The TTL it was granted with.
        keys: The keys attached to it (only when asked for).
    """

    id: int
    ttl: int
    granted_ttl: int
    keys: tuple[str, ...] = ()


@attrs.frozen
class StatusInfo:
    """The state of one store member.

    Attributes:
        version: Server version string.
        db_size: Backend database size in bytes.
        leader: Member id of the raft leader (0 if not applicable).
        member_id: Member id of the member that answered.
        raft_index: Raft log index.
        raft_term: Raft term.
        revision: Current store revision.
        compact_revision: Oldest revision still readable (0 if none compacted), when known.
    """

    version: str
    db_size: int
    leader: int
    member_id: int
    raft_index: int
    raft_term: int
    revision: int
    compact_revision: int = 0


@attrs.frozen
class MemberInfo:
    """One member of the cluster."""

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool = False


@attrs.frozen
class AlarmInfo:
    """An active cluster alarm (``"NOSPACE"``, ``"CORRUPT"``) on a member."""

    member_id: int
    alarm: str


@attrs.frozen
class HashInfo:
    """The hash of the key-value store up to a revision (``hash_kv``)."""

    hash: int
    compact_revision: int
    revision: int


class Capability:
    """Names of optional backend capabilities (``store.capabilities`` holds a set of them)."""

    LEASES = "leases"
    WATCH = "watch"
    TXN = "txn"
    HISTORY = "history"
    CLUSTER = "cluster"
    CLOCK = "clock"


@attrs.frozen
class MirrorChange:
    """One key's change in a mirror.

    Attributes:
        key: The store's full key.
        old: The key's ``KeyValue`` before the change (``None``: it did not exist).
        new: Its ``KeyValue`` after (``None``: deleted).
        revision: The store revision of the change.
        relisted: True when the change came from a listing (the initial state, or a
            relist after compaction or a failure) rather than from a watch event.
    """

    key: str
    old: KeyValue | None
    new: KeyValue | None
    revision: int
    relisted: bool = False
