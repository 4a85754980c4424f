"""Conversions from etcd's protobuf messages to kvstore's value types.

Shared by ``store`` (range, put and delete results) and ``_watch`` (events), so that
neither imports the other for them: ``store`` imports ``_watch``, never the reverse.
"""

from __future__ import annotations

from typing import Any

from kvstore.types import KeyValue

__all__ = ["to_key_value"]


def to_key_value(kv: Any) -> KeyValue:
    """A ``KeyValue`` from an etcd ``mvccpb.KeyValue`` message."""
    return KeyValue(
        kv.key.decode("utf-8", "replace"),
        kv.value,
        kv.create_revision,
        kv.mod_revision,
        kv.version,
        kv.lease,
    )
