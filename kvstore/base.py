"""The implementer's base classes: ``BaseStore`` and ``AsyncBaseStore``.

A backend subclasses one of them and writes a few primitives (``kv_range``, ``kv_put``,
``kv_delete``, ``kv_txn``, the lease and watch primitives); every method of ``KVStore`` /
``AsyncKVStore`` is then provided on top of them, with the arguments checked once. The
asyncio class is written by hand in ``kvstore/_async/base.py``; the sync one is generated
from it into ``kvstore/_sync/base.py``. Wrapper stores build on ``kvstore.wrappers``.
"""

from __future__ import annotations

from kvstore._async.base import AsyncBaseStore
from kvstore._sync.base import BaseStore

__all__ = ["AsyncBaseStore", "BaseStore"]
