"""``AsyncMirrorPropertyConformance``: ``MirrorPropertyConformance`` on an asyncio store.

Hypothesis drives sync code, so the property runs in a worker thread on a sync view of the
store (as ``AsyncStateMachineConformance`` runs its machine): every store and mirror call
is handed to the test's event loop, where the asyncio store and its mirror live.
"""
# unasync: no-twin

from __future__ import annotations

import asyncio

from kvstore._async.base import AsyncBaseStore
from kvstore.testing._async._support import AsyncConformanceBase, requires
from kvstore.testing._async.state_machine import _Portal, _SyncView
from kvstore.testing.mirror_property import MirrorPropertyConformance, run_property

__all__ = ["AsyncMirrorPropertyConformance"]


# The asyncio base first: its advance_clock is the suite's (mypy sees two signatures).
class AsyncMirrorPropertyConformance(AsyncConformanceBase, MirrorPropertyConformance):  # type: ignore[misc]
    """Random write sequences (Hypothesis) leave an asyncio store's mirror equal to it."""

    async def test_the_mirror_equals_the_store_after_random_writes(  # type: ignore[override]
        self, store: AsyncBaseStore
    ) -> None:
        requires(store, "watch", "history")
        view = _SyncView(store, _Portal(asyncio.get_running_loop()))
        await asyncio.to_thread(run_property, view, self.mirror_settings())
