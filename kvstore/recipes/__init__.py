"""Coordination recipes, written once on the store primitives: sessions, locks, elections.

Every conforming backend (and every wrapper store) gets them, the way etcd's Go
``concurrency`` package gets them from etcd's primitives: ``Session`` (a lease kept alive
in the background), ``Lock`` (a fair FIFO lock with fencing tokens), ``Election``
(leader election) and ``STM`` (software transactional memory, Go's ``concurrency.STM``).
Applications reach them through ``store.new_lock(name)``, ``store.new_election(name)`` and
``store.stm(apply)``, or import them from here (or from ``kvstore``).

The asyncio API has the same recipes as ``AsyncSession``, ``AsyncLock``,
``AsyncElection`` and ``AsyncSTM`` (``kvstore.recipes._async``, the source the sync modules here are
generated from): the same names and arguments, their waiting methods coroutines.

Modules:
    ``session``: ``Session``.
    ``lock``: ``Lock``, ``LOCK_NAMESPACE`` (the recipe and the key layout are described
        in its docstring).
    ``election``: ``Election``, ``LeaderObserver``, ``ELECTION_NAMESPACE``.
    ``stm``: ``STM``, ``ISOLATION_LEVELS``, ``DEFAULT_STM_RETRIES`` (the isolation levels
        are described in its docstring).
    ``_waiters``: the FIFO waiter queue that ``Lock`` and ``Election`` share.
    ``_store``: ``RecipeStore``, the ``Protocol`` of the store methods the recipes call.

Layering (what a recipe may import). The recipes sit above the core and below the
stores::

    kvstore.base, kvstore.protocol, kvstore (package)   import the recipes
        kvstore.recipes.*                               import only the modules below
            kvstore.lease, kvstore.watch, kvstore.txn,
            kvstore.keys, kvstore.types, kvstore.errors,
            kvstore._context                             import no recipe, no store

A module in this package may import: the standard library, ``attrs``, the core modules
listed (``errors``, ``types``, ``keys``, ``txn``, ``lease``, ``watch``, ``_context``) and the other
modules of this package. It never imports ``kvstore.base``, ``kvstore.protocol``, a
wrapper (``kvstore.namespace``, ``kvstore.encryption``), a backend (``kvstore_etcd``,
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
    AsyncElection,
    AsyncLeaderObserver,
    AsyncLock,
    AsyncSession,
    AsyncSTM,
)
from kvstore.recipes._waiters import LAYOUTS, LockLostCallback
from kvstore.recipes.election import ELECTION_NAMESPACE, Election, LeaderObserver
from kvstore.recipes.lock import LOCK_NAMESPACE, Lock
from kvstore.recipes.session import LostCallback, Session
from kvstore.recipes.stm import DEFAULT_STM_RETRIES, ISOLATION_LEVELS, STM, Apply, Isolation

__all__ = [
    "DEFAULT_STM_RETRIES",
    "ELECTION_NAMESPACE",
    "ISOLATION_LEVELS",
    "LAYOUTS",
    "LOCK_NAMESPACE",
    "STM",
    "Apply",
    "AsyncApply",
    "AsyncElection",
    "AsyncLeaderObserver",
    "AsyncLock",
    "AsyncSTM",
    "AsyncSession",
    "Election",
    "Isolation",
    "LeaderObserver",
    "Lock",
    "LockLostCallback",
    "LostCallback",
    "Session",
]
