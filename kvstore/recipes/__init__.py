"""Coordination recipes, written once on the store primitives: sessions, locks, elections,
readers-writer locks, semaphores, barriers, queues, counters and parties.

Every conforming backend (and every wrapper store) gets them, the way etcd's Go
``concurrency`` and ``recipes`` packages get them from etcd's primitives: ``Session`` (a
lease kept alive in the background), ``Lock`` (a fair FIFO lock with fencing tokens),
``Election`` (leader election), ``STM`` (software transactional memory, Go's
``concurrency.STM``), and the recipes of Go's ``recipes`` and kazoo's ``recipe``
packages. Applications reach them through ``store.new_lock(name)``,
``store.new_election(name)``, ``store.stm(apply)``, ``store.new_rwlock(name)``,
``store.new_semaphore(name, limit)``, ``store.new_barrier(name)``,
``store.new_double_barrier(name, count)``, ``store.new_queue(name)``,
``store.new_priority_queue(name)``, ``store.new_counter(name)`` and
``store.new_party(name, member)``, or import them from here (or from ``kvstore``).

The asyncio API has the same recipes with an ``Async`` prefix (``kvstore.recipes._async``,
the source the sync modules here are generated from): the same names and arguments, their
waiting methods coroutines.

Modules (each docstring describes its recipe and key layout):
    ``session``: ``Session``.
    ``lock``: ``Lock``, ``LOCK_NAMESPACE``.
    ``election``: ``Election``, ``LeaderObserver``, ``ELECTION_NAMESPACE``.
    ``stm``: ``STM``, ``ISOLATION_LEVELS``, ``DEFAULT_STM_RETRIES`` (the isolation levels
        are described in its docstring).
    ``rwlock``: ``RWLock``, ``ReadLock``, ``WriteLock``, ``RWLOCK_NAMESPACE``.
    ``semaphore``: ``Semaphore``, ``SEMAPHORE_NAMESPACE``.
    ``barrier``: ``Barrier``, ``DoubleBarrier``, ``BARRIER_NAMESPACE``,
        ``DOUBLE_BARRIER_NAMESPACE``.
    ``queue``: ``Queue``, ``PriorityQueue``, ``QUEUE_NAMESPACE``,
        ``PRIORITY_QUEUE_NAMESPACE``, ``MIN_PRIORITY``, ``MAX_PRIORITY``.
    ``counter``: ``Counter``, ``COUNTER_NAMESPACE``.
    ``party``: ``Party``, ``PARTY_NAMESPACE``.
    ``_waiters``: the FIFO waiter queue, the waits and ``Holder`` (what read and write
        locks and semaphores share), on which the recipes with sessions are built.
    ``_store``: ``RecipeStore``, the ``Protocol`` of the store methods the recipes call.

What a reader of the keys needs (``kvstore ui`` shows every recipe from its keys with
them, never re-deriving a layout): ``recipe_name`` (``_waiters``, the inverse of
``recipe_prefix``), ``holder_mode`` (``rwlock``), ``member_name`` (``party``),
``semaphore_limit`` (``semaphore``: each key's value is the holder's ``limit``),
``BARRIER_HOLD``, ``DOUBLE_BARRIER_MEMBERS``, ``DOUBLE_BARRIER_READY`` (``barrier``) and
``COUNTER_VALUE`` (``counter``).

Layering (what a recipe may import). The recipes sit above the core and below the
stores::

    kvstore.base, kvstore.protocol, kvstore (package)   import the recipes
        kvstore.recipes.*                               import only the modules below
            kvstore.lease, kvstore.watch, kvstore.txn,
            kvstore.keys, kvstore.types, kvstore.errors,
            kvstore._sync._context                             import no recipe, no store

A module in this package may import: the standard library, ``attrs``, the core modules
listed (``errors``, ``types``, ``keys``, ``txn``, ``lease``, ``watch``, ``_context``) and the other
modules of this package. It never imports ``kvstore.base``, ``kvstore.protocol``, a
wrapper (``kvstore.wrappers``, ``kvstore.wrappers.encryption``), a backend (``kvstore_etcd``,
``kvstore_memory``) or the ``kvstore`` package's ``__init__``, not even inside a function
or under ``if TYPE_CHECKING:``: the store a recipe is given is typed as ``RecipeStore``
(a ``Protocol`` that every ``BaseStore`` satisfies structurally), so ``kvstore.base`` can
import the recipes at the top of the module without an import cycle. A new recipe that
needs another store method adds it to ``RecipeStore``.

The old modules ``kvstore.lock``, ``kvstore.election`` and ``kvstore.session`` still
import, as deprecated aliases of the modules here.
"""

from __future__ import annotations

from kvstore.recipes._async import (
    AsyncApply,
    AsyncBarrier,
    AsyncCounter,
    AsyncDoubleBarrier,
    AsyncElection,
    AsyncHolder,
    AsyncLeaderObserver,
    AsyncLock,
    AsyncParty,
    AsyncPriorityQueue,
    AsyncQueue,
    AsyncReadLock,
    AsyncRWLock,
    AsyncSemaphore,
    AsyncSession,
    AsyncSTM,
    AsyncWriteLock,
)
from kvstore.recipes._sync._waiters import LAYOUTS, Holder, LockLostCallback
from kvstore.recipes._sync.barrier import (
    BARRIER_NAMESPACE,
    DOUBLE_BARRIER_NAMESPACE,
    Barrier,
    DoubleBarrier,
)
from kvstore.recipes._sync.counter import COUNTER_NAMESPACE, Counter
from kvstore.recipes._sync.election import ELECTION_NAMESPACE, Election, LeaderObserver
from kvstore.recipes._sync.lock import LOCK_NAMESPACE, Lock
from kvstore.recipes._sync.party import PARTY_NAMESPACE, Party
from kvstore.recipes._sync.queue import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    PRIORITY_QUEUE_NAMESPACE,
    QUEUE_NAMESPACE,
    PriorityQueue,
    Queue,
)
from kvstore.recipes._sync.rwlock import RWLOCK_NAMESPACE, ReadLock, RWLock, WriteLock
from kvstore.recipes._sync.semaphore import SEMAPHORE_NAMESPACE, Semaphore
from kvstore.recipes._sync.session import LostCallback, Session
from kvstore.recipes._sync.stm import DEFAULT_STM_RETRIES, ISOLATION_LEVELS, STM, Apply, Isolation

__all__ = [
    "DEFAULT_STM_RETRIES",
    "BARRIER_NAMESPACE",
    "COUNTER_NAMESPACE",
    "DOUBLE_BARRIER_NAMESPACE",
    "ELECTION_NAMESPACE",
    "ISOLATION_LEVELS",
    "LAYOUTS",
    "LOCK_NAMESPACE",
    "STM",
    "Apply",
    "AsyncApply",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "PARTY_NAMESPACE",
    "PRIORITY_QUEUE_NAMESPACE",
    "QUEUE_NAMESPACE",
    "RWLOCK_NAMESPACE",
    "SEMAPHORE_NAMESPACE",
    "AsyncBarrier",
    "AsyncCounter",
    "AsyncDoubleBarrier",
    "AsyncElection",
    "AsyncHolder",
    "AsyncLeaderObserver",
    "AsyncLock",
    "AsyncSTM",
    "AsyncParty",
    "AsyncPriorityQueue",
    "AsyncQueue",
    "AsyncRWLock",
    "AsyncReadLock",
    "AsyncSemaphore",
    "AsyncSession",
    "AsyncWriteLock",
    "Barrier",
    "Counter",
    "DoubleBarrier",
    "Election",
    "Isolation",
    "Holder",
    "LeaderObserver",
    "Lock",
    "LockLostCallback",
    "LostCallback",
    "Party",
    "PriorityQueue",
    "Queue",
    "RWLock",
    "ReadLock",
    "Semaphore",
    "Session",
    "WriteLock",
]
