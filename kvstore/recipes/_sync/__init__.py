# Generated from kvstore/recipes/_async/__init__.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""The asyncio recipes: ``Session``, ``Lock``, ``Election``, ``STM``, ...

The modules here are the source of truth of the sync recipes in ``kvstore/recipes/_sync/``,
which ``scripts/unasync.py`` generates from them; ``kvstore.recipes`` exports both.
"""

from __future__ import annotations

from kvstore.recipes._sync._waiters import Holder
from kvstore.recipes._sync.barrier import Barrier, DoubleBarrier
from kvstore.recipes._sync.counter import Counter
from kvstore.recipes._sync.election import Election, LeaderObserver
from kvstore.recipes._sync.lock import Lock
from kvstore.recipes._sync.party import Party
from kvstore.recipes._sync.queue import PriorityQueue, Queue
from kvstore.recipes._sync.rwlock import ReadLock, RWLock, WriteLock
from kvstore.recipes._sync.semaphore import Semaphore
from kvstore.recipes._sync.session import Session
from kvstore.recipes._sync.stm import STM, Apply

__all__ = [
    "STM",
    "Apply",
    "Barrier",
    "Counter",
    "DoubleBarrier",
    "Election",
    "Holder",
    "LeaderObserver",
    "Lock",
    "Party",
    "PriorityQueue",
    "Queue",
    "RWLock",
    "ReadLock",
    "Semaphore",
    "Session",
    "WriteLock",
]
