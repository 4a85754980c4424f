"""The asyncio recipes: ``AsyncSession``, ``AsyncLock``, ``AsyncElection``, ``AsyncSTM``, ...

The modules here are the source of truth of the sync recipes in ``kvstore/recipes/_sync/``,
which ``scripts/unasync.py`` generates from them; ``kvstore.recipes`` exports both.
"""

from __future__ import annotations

from kvstore.recipes._async._waiters import AsyncHolder
from kvstore.recipes._async.barrier import AsyncBarrier, AsyncDoubleBarrier
from kvstore.recipes._async.counter import AsyncCounter
from kvstore.recipes._async.election import AsyncElection, AsyncLeaderObserver
from kvstore.recipes._async.lock import AsyncLock
from kvstore.recipes._async.party import AsyncParty
from kvstore.recipes._async.queue import AsyncPriorityQueue, AsyncQueue
from kvstore.recipes._async.rwlock import AsyncReadLock, AsyncRWLock, AsyncWriteLock
from kvstore.recipes._async.semaphore import AsyncSemaphore
from kvstore.recipes._async.session import AsyncSession
from kvstore.recipes._async.stm import AsyncApply, AsyncSTM

__all__ = [
    "AsyncApply",
    "AsyncElection",
    "AsyncLeaderObserver",
    "AsyncLock",
    "AsyncSTM",
    "AsyncSession",
    "AsyncBarrier",
    "AsyncCounter",
    "AsyncDoubleBarrier",
    "AsyncHolder",
    "AsyncParty",
    "AsyncPriorityQueue",
    "AsyncQueue",
    "AsyncRWLock",
    "AsyncReadLock",
    "AsyncSemaphore",
    "AsyncWriteLock",
]
