"""Differential testing: one random primitive sequence on two stores, compared step by step.

``run_differential(store_a, store_b, seed=...)`` generates a random sequence of primitive
calls from ``random.Random(seed)``, sends each call to both stores and compares what they
answer; the first step where they differ comes back as a ``Divergence`` (``None`` when
they agree all along), whose ``replay`` replays it::

    from kvstore.testing.differential import run_differential
    from kvstore_memory import MemoryStore

    divergence = run_differential(MemoryStore(), etcd_store, seed=7, steps=300)
    assert divergence is None, str(divergence)

``compare_many(make_a, make_b, seeds=range(20))`` runs one sequence per seed, each on a
fresh pair of stores from the two factories, and returns every divergence.

What the steps are (weighted at random, each compared in full):

- ``Put`` with and without a lease (a live one, a revoked one, or one never granted), with
  ``prev_kv``, with ``ignore_lease``;
- ``Get`` with every option: one key, a range, a prefix, an inverted range, the whole
  run; a past, the current, a compacted or a future revision; ``limit``, ``keys_only``,
  ``count_only``; every ``sort_target`` and ``sort_order``; create-revision bounds;
- ``Delete`` of a key or a range, with ``prev_kv``;
- ``Txn`` with compares on every target (value, version, create and mod revision, lease)
  with every operator (``== != < >``), on one key or a range, and branches holding puts,
  gets, deletes and nested transactions (two levels deep); now and then a branch that
  writes one key twice (the error is compared);
- leases: grant (TTLs from 1 s to beyond etcd's maximum, and invalid ones), revoke,
  time-to-live with and without keys, keep-alive once, the list of leases; and a TTL
  bounds step that grants a short lease (1 to 5 s), checks its granted TTL, its remaining
  TTL and its keep-alive TTL, and revokes it at once;
- compaction at the current revision, at a past one, and at already compacted or future
  ones; reads, transactions and watches below the compact revision;
- watch replay: a watch on a key or range from a past revision (with or without
  ``prev_kv``); the step then puts a marker key inside the watched range and collects the
  events up to the marker's, so it ends without waiting on a clock.

How results are compared:

- Every step's answer, and the store revision after it, is turned into plain values and
  compared with ``==``: result types (``RangeResult``, ``TxnResult`` ...), errors as
  ``Raised`` (compared by the error's type, not its message), lease answers as
  ``LeaseState``.
- Revisions are relative to each store's revision when the run started (which counts as
  1, as on a fresh store); lease ids are the position of the grant in the run (1 for the
  first lease granted), since stores pick their own ids; keys are shown without the run's
  prefix. Requests are generated in this normalized form and translated for each store.
- Remaining TTLs are compared as ``Remaining``: whether each lies within what the time
  elapsed on that store allows (from the granted TTL less the seconds since the grant or
  last keep-alive started, less a second, up to the granted TTL). Nothing in a sequence
  depends on the wall clock: no lease is left to expire (short leases are revoked in the
  step that grants them; others are granted for at least a minute).
- Not compared: error messages, ``hash_kv`` (each backend hashes its own way), the
  other fields of ``status``, and the order of keys that tie on a sort target beyond six
  keys (see below).

``Coverage`` counts which generated features (``FEATURES``) the agreed steps exercised,
so a test can show that its seeds covered everything; ``brief`` formats requests and
results the way a ``Divergence`` report shows them.

What the run needs and leaves:

- Two separate stores (two backends, or two instances), each used by nobody else for the
  run: a store shared with a writer elsewhere sees revisions the other does not. Keys
  live under ``prefix``, so other keys may exist; ``lease_leases()`` is filtered to the
  run's leases. Compaction (``compact=False`` leaves it out) is store-wide: on a shared
  etcd it compacts everyone's history.
- The run's leases are revoked and its keys deleted at the end (``cleanup=False`` keeps
  them).

Choices that keep the comparison exact:

- Compactions are physical: a non-physical one leaves it to a background job of etcd
  whether a watch from the compact revision still sees the deletes at that revision.
- At most six keys: etcd (built with Go 1.16) sorts a range with Go's ``sort.Sort``,
  which is a plain insertion sort, stable, below seven elements; so keys that tie on the
  sort target keep key order on etcd as on ``MemoryStore``. On larger ranges etcd's order
  among ties is arbitrary.
- Lease compares with ``<`` and ``>`` use the operand 0 only (lease ids are the stores'
  own and order differently).

etcd versions: the fake follows etcd 3.5. The harness found no difference between etcd
3.5.1 and 3.4.23 in what it compares (CI runs it on both).

Modules (this package exports their public names):

- ``normalized``: the normalized answers (``Raised``, ``Remaining``, ``LeaseState``,
  ``Replayed``, ``Outcome``);
- ``side``: one store's side of a run, translating requests and normalizing answers;
- ``actions``: the steps (``Action``, ``Send``, ``WatchReplay``, the lease steps,
  ``Compact``);
- ``generation``: the random generator of steps and its model of the agreed answers;
- ``coverage``: ``Coverage`` and ``FEATURES``;
- ``runs``: ``run_differential``, ``compare_many``, ``Divergence`` and ``brief``.
"""

from __future__ import annotations

from kvstore.testing.differential.actions import (
    Action,
    CheckLeaseBounds,
    Compact,
    GrantLease,
    KeepAliveOnce,
    LeaseTimeToLive,
    ListLeases,
    RevokeLease,
    Send,
    WatchReplay,
)
from kvstore.testing.differential.coverage import FEATURES, Coverage
from kvstore.testing.differential.normalized import LeaseState, Outcome, Raised, Remaining, Replayed
from kvstore.testing.differential.runs import (
    DEFAULT_PREFIX,
    Divergence,
    brief,
    compare_many,
    run_differential,
)

# A public name of the module before it became this package, though never in __all__.
from kvstore.testing.differential.side import NEVER_GRANTED as NEVER_GRANTED

__all__ = [
    "DEFAULT_PREFIX",
    "Action",
    "FEATURES",
    "CheckLeaseBounds",
    "Compact",
    "Coverage",
    "Divergence",
    "GrantLease",
    "KeepAliveOnce",
    "LeaseState",
    "LeaseTimeToLive",
    "ListLeases",
    "Outcome",
    "Raised",
    "Remaining",
    "Replayed",
    "RevokeLease",
    "Send",
    "WatchReplay",
    "brief",
    "compare_many",
    "run_differential",
]
