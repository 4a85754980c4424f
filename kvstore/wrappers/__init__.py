"""Wrapper stores: complete stores that wrap another store and change what passes through.

- ``NamespacedStore``: every key under a prefix (``?namespace=``).
- ``CompressedStore``: values compressed (``?compression=``).
- ``EncryptedStore`` (``kvstore.wrappers.encryption``): values encrypted client-side.
- ``TracingStore`` (``kvstore.wrappers.tracing``, extra ``[otel]``): OpenTelemetry spans.
- ``kvstore.wrappers.compose``: the order wrappers are put in from a URL's options.

To write a wrapper of your own, subclass one of the bases: ``WrapperStore`` delegates
every primitive to ``inner`` (override the few that carry keys or values);
``KeyMappingStore`` supplies only a key mapping, ``ValueMappingStore`` only a value
encoding. Each has an ``Async`` twin. The asyncio classes are written in
``kvstore/wrappers/_async/`` and the sync ones generated from them into ``_sync/``.
"""

from __future__ import annotations

from kvstore.wrappers._async.compression import AsyncCompressedStore
from kvstore.wrappers._async.mapping import AsyncKeyMappingStore, AsyncValueMappingStore
from kvstore.wrappers._async.namespace import AsyncNamespacedStore
from kvstore.wrappers._async.wrapper import AsyncWrapperStore
from kvstore.wrappers._sync.compression import CompressedStore
from kvstore.wrappers._sync.mapping import KeyMappingStore, ValueMappingStore
from kvstore.wrappers._sync.namespace import NamespacedStore
from kvstore.wrappers._sync.wrapper import WrapperStore
from kvstore.wrappers.encryption import AsyncEncryptedStore, EncryptedStore

__all__ = [
    "AsyncCompressedStore",
    "AsyncEncryptedStore",
    "AsyncKeyMappingStore",
    "AsyncNamespacedStore",
    "AsyncValueMappingStore",
    "AsyncWrapperStore",
    "CompressedStore",
    "EncryptedStore",
    "KeyMappingStore",
    "NamespacedStore",
    "ValueMappingStore",
    "WrapperStore",
]
