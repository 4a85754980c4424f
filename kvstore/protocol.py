"""``KVStore`` and ``AsyncKVStore``: the interfaces applications type against.

Production code receives an ``EtcdStore`` (or a SQL store), unit tests pass a
``MemoryStore``; both satisfy these protocols, and so do the wrapper stores. The full
contract of each method (arguments, errors) is in ``BaseStore``'s docstrings
(``kvstore.base``).
"""

from __future__ import annotations

from kvstore._async.protocol import AsyncKVStore
from kvstore._sync.protocol import KVStore

__all__ = ["AsyncKVStore", "KVStore"]
