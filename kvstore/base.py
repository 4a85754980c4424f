"""The implementer's base classes: ``BaseStore`` and ``AsyncBaseStore``.

A backend subclasses one of them and writes a few primitives (``kv_range``, ``kv_put``,
``kv_delete``, ``kv_txn``, the lease and watch primitives); every method of ``KVStore`` /
``AsyncKVStore`` is then provided on top of them, with the arguments checked once. The
asyncio class is written by hand in ``kvstore/_async/base.py``; the sync one is generated
from it into ``kvstore/_sync/base.py``. Wrapper stores build on ``kvstore.wrappers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kvstore._async.base import AsyncBaseStore
from kvstore._sync.base import BaseStore

if TYPE_CHECKING:
    from kvstore._async.protocol import AsyncKVStore
    from kvstore._sync.protocol import KVStore

__all__ = ["AsyncBaseStore", "BaseStore"]


if TYPE_CHECKING:

    def _bases_satisfy_the_protocols(
        store: BaseStore, async_store: AsyncBaseStore
    ) -> tuple[KVStore, AsyncKVStore]:
        """The static check that ``BaseStore`` satisfies ``KVStore`` and ``AsyncBaseStore``
        satisfies ``AsyncKVStore``: ``mypy --strict`` (run by CI) fails on this line the
        day a method of a protocol is missing from its base or has another signature."""
        return store, async_store
