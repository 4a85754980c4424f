"""Protobuf wire decoding for the few etcd messages python3-etcd3's stubs lack.

The stubs are generated from an older ``rpc.proto``: they have no ``Lease.LeaseLeases``
call and no ``Member.isLearner`` field. Both messages are tiny, so they are decoded here
from the wire format instead of shipping another generated module.
"""

from __future__ import annotations

from collections.abc import Iterator

from kvstore_etcd._config_parsing import normalize_endpoint

__all__ = [
    "LEASE_LEASES_METHOD",
    "MEMBER_LIST_METHOD",
    "decode_lease_ids",
    "decode_members",
    "member_endpoints",
    "encode_empty",
    "identity",
]

LEASE_LEASES_METHOD = "/etcdserverpb.Lease/LeaseLeases"
MEMBER_LIST_METHOD = "/etcdserverpb.Cluster/MemberList"

_VARINT = 0
_FIXED64 = 1
_LENGTH = 2
_FIXED32 = 5


def encode_empty(message: object) -> bytes:
    """Serialize an empty request message (``LeaseLeasesRequest``, ``MemberListRequest``)."""
    return b""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` pairs of a message; varints as int, the rest as bytes."""
    position = 0
    while position < len(data):
        tag, position = _varint(data, position)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == _VARINT:
            value, position = _varint(data, position)
            yield number, value
        elif wire_type == _LENGTH:
            size, position = _varint(data, position)
            yield number, data[position : position + size]
            position += size
        elif wire_type == _FIXED64:
            yield number, data[position : position + 8]
            position += 8
        elif wire_type == _FIXED32:
            yield number, data[position : position + 4]
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_lease_ids(data: bytes) -> list[int]:
    """The lease ids of a ``LeaseLeasesResponse`` (field 2: repeated ``LeaseStatus{ID=1}``)."""
    ids: list[int] = []
    for number, value in _fields(data):
        if number == 2 and isinstance(value, bytes):
            for inner, lease_id in _fields(value):
                if inner == 1 and isinstance(lease_id, int):
                    ids.append(_signed64(lease_id))
    return ids


def member_endpoints(data: bytes) -> list[str]:
    """``host:port`` of every client URL of the voting members in a ``MemberListResponse``
    (learners serve no client requests; a member not started yet has no client URL)."""
    return [
        normalize_endpoint(url)
        for _, _, _, clients, learner in decode_members(data)
        if not learner
        for url in clients
    ]


def decode_members(data: bytes) -> list[tuple[int, str, list[str], list[str], bool]]:
    """``(id, name, peer URLs, client URLs, is learner)`` of a ``MemberListResponse``."""
    members = []
    for number, value in _fields(data):
        if number != 2 or not isinstance(value, bytes):
            continue
        member_id, name, peers, clients, learner = 0, "", [], [], False
        for inner, item in _fields(value):
            if inner == 1 and isinstance(item, int):
                member_id = item
            elif inner == 2 and isinstance(item, bytes):
                name = item.decode("utf-8", "replace")
            elif inner == 3 and isinstance(item, bytes):
                peers.append(item.decode("utf-8", "replace"))
            elif inner == 4 and isinstance(item, bytes):
                clients.append(item.decode("utf-8", "replace"))
            elif inner == 5 and isinstance(item, int):
                learner = bool(item)
        members.append((member_id, name, peers, clients, learner))
    return members


def identity(data: bytes) -> bytes:
    """Deserializer that keeps the raw bytes."""
    return data
