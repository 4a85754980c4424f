"""What the pages of ``kvstore ui`` show, read from an asyncio store as JSON-ready dicts.

Nothing here knows about HTTP: each function takes an ``AsyncBaseStore`` (and a
``ValueCodec`` for values) and returns plain ``dict`` / ``list`` data. Every read is
bounded, so a store of 100,000 keys stays responsive:

- ``tree_page`` lists the children of a prefix (keys, and "directories" up to the next
  ``/``) a page at a time, with keys-only range reads of at most ``limit + 1`` keys; a
  directory is skipped over with one jump (its range end), never read key by key, and
  its size is a count-only read;
- ``key_history`` reads the key at earlier revisions, one version per read, a page at a
  time, until the compact revision (``CompactedError``) or the key's creation;
- ``leases``, ``held_recipes`` read at most ``MAX_LEASES`` leases and
  ``MAX_RECIPE_KEYS`` recipe keys of each kind (and count at most ``MAX_QUEUES``
  queues of each kind, never listing their items).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import (
    CompactedError,
    KVStoreError,
    LeaseNotFoundError,
    UnsupportedOperationError,
)
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.recipes import (
    BARRIER_NAMESPACE,
    COUNTER_NAMESPACE,
    DOUBLE_BARRIER_NAMESPACE,
    ELECTION_NAMESPACE,
    LOCK_NAMESPACE,
    PARTY_NAMESPACE,
    PRIORITY_QUEUE_NAMESPACE,
    QUEUE_NAMESPACE,
    RWLOCK_NAMESPACE,
    SEMAPHORE_NAMESPACE,
)
from kvstore.recipes._sync._waiters import recipe_name, recipe_prefix
from kvstore.recipes._sync.barrier import BARRIER_HOLD, DOUBLE_BARRIER_MEMBERS, DOUBLE_BARRIER_READY
from kvstore.recipes._sync.counter import COUNTER_VALUE
from kvstore.recipes._sync.party import member_name
from kvstore.recipes._sync.rwlock import holder_mode
from kvstore.recipes._sync.semaphore import semaphore_limit
from kvstore.types import KeyValue, SortOrder, SortTarget, WatchEvent
from kvstore.wrappers._async.mapping import AsyncValueMappingStore
from kvstore.wrappers.encryption import Keyring
from kvstore.wrappers.encryption.envelope import HEADER_BYTES, has_magic

__all__ = [
    "DEFAULT_HISTORY_PAGE",
    "DEFAULT_TREE_PAGE",
    "MAX_LEASE_KEYS",
    "MAX_LEASES",
    "MAX_PAGE",
    "MAX_QUEUES",
    "MAX_RECIPE_KEYS",
    "ValueCodec",
    "cluster_info",
    "event_json",
    "held_recipes",
    "key_detail",
    "key_history",
    "leases",
    "tree_page",
]

DEFAULT_TREE_PAGE = 100
"""Children of a prefix shown per page of the key tree."""

DEFAULT_HISTORY_PAGE = 20
"""Versions of a key shown per page of its history."""

MAX_PAGE = 500
"""The largest page a client may ask for (tree or history)."""

MAX_LEASES = 200
"""Leases shown at most (each costs one ``lease_time_to_live`` call)."""

MAX_LEASE_KEYS = 50
"""Keys listed per lease at most (the count is always given)."""

MAX_RECIPE_KEYS = 1000
"""Recipe keys read at most, per kind (the oldest: a queue's holders are among them)."""

MAX_QUEUES = 100
"""Queues shown at most, per kind (each costs two reads: a jump over it and a count)."""

_SEPARATOR = "/"

_Part = TypeVar("_Part")


def _hex(number: int) -> str | None:
    return f"{number:x}" if number else None


class ValueCodec:
    """Turns stored values into what the page shows, and values typed in into stored bytes.

    The UI reads the store's raw values, so a value it cannot decrypt is still shown with
    its metadata. With a keyring, encrypted values are decrypted (``AsyncEncryptedStore``'s
    own decoding, plaintext allowed); without one they are shown as "encrypted (key id N)".
    With ``compress``, values are decompressed after decryption (``AsyncCompressedStore``).
    Writes go through the same wrappers, composed by ``kvstore.wrappers.compose.wrap_store``.

    Args:
        store: The store the UI browses (unencrypted; wrappers are added here).
        keyring: The encryption keys (``None``: values are not decrypted, writes of
            plaintext are allowed only over values that are not encrypted).
        compress: Whether values are compressed (the URL's ``?compress=1``).

    Attributes:
        writer: The store writes go through (``store`` wrapped as configured).
        keyring: The keys, if any.
    """

    def __init__(
        self, store: AsyncBaseStore, *, keyring: Keyring | None = None, compress: bool = False
    ) -> None:
        from kvstore.wrappers.compose import wrap_store

        self.keyring = keyring
        self.writer = wrap_store(
            store, keyring=keyring, allow_plaintext=keyring is not None, compress=compress
        )
        self._decoders: list[AsyncValueMappingStore] = []
        layer: object = self.writer
        while isinstance(layer, AsyncValueMappingStore):
            self._decoders.insert(0, layer)
            layer = layer.inner

    def show(self, key: str, stored: bytes) -> dict[str, Any]:
        """How the value stored at ``key`` is shown.

        Returns:
            ``value`` (base64 of the bytes to show, or ``None`` when they cannot be
            shown), ``size`` (stored bytes), ``encrypted`` (``None``, or ``key_id`` and
            whether it was ``decrypted``) and ``error`` (why the value is not shown).
        """
        shown: dict[str, Any] = {"size": len(stored), "encrypted": None, "error": None}
        if has_magic(stored) and len(stored) >= HEADER_BYTES:
            key_id = int.from_bytes(stored[5:HEADER_BYTES], "big")
            shown["encrypted"] = {"key_id": key_id, "decrypted": False}
            if self.keyring is None:
                shown["value"] = None
                shown["error"] = f"encrypted (key id {key_id}); start with --key-file to read it"
                return shown
        value = stored
        try:
            for decoder in self._decoders:
                value = decoder.decode(key, value, "ui")
        except KVStoreError as exc:
            shown["value"] = None
            shown["error"] = str(exc)
            return shown
        if shown["encrypted"] is not None:
            shown["encrypted"]["decrypted"] = True
        shown["value"] = base64.b64encode(value).decode("ascii")
        return shown

    def is_encrypted_without_keys(self, stored: bytes) -> bool:
        """Whether ``stored`` is an encrypted value this codec cannot read."""
        return self.keyring is None and has_magic(stored)


def kv_json(codec: ValueCodec, kv: KeyValue, *, with_value: bool = True) -> dict[str, Any]:
    """A key-value and its metadata for the page (the value as ``ValueCodec.show``)."""
    record: dict[str, Any] = {
        "key": kv.key,
        "create_revision": kv.create_revision,
        "mod_revision": kv.mod_revision,
        "version": kv.version,
        "lease": _hex(kv.lease),
    }
    if with_value:
        record.update(codec.show(kv.key, kv.value))
    return record


def event_json(codec: ValueCodec, event: WatchEvent) -> dict[str, Any]:
    """A watch event for the live panel."""
    record: dict[str, Any] = {"type": event.type.value, "revision": event.revision}
    if event.type.value == "PUT":
        record.update(kv_json(codec, event.kv))
    else:
        record["key"] = event.kv.key
    return record


# ---------------------------------------------------------------------------- the key tree


async def tree_page(
    store: AsyncBaseStore, prefix: str, *, start: str | None = None, limit: int = DEFAULT_TREE_PAGE
) -> dict[str, Any]:
    """One page of the children of ``prefix``: its keys and its "directories".

    A directory is ``prefix`` plus everything up to the next ``/`` of a key below it
    (``config/`` and ``config/db/`` for the key ``config/db/host``). Keys are read keys
    only, at most ``limit + 1`` a read, all reads at the first one's revision; each
    directory is jumped over (read again from its range end), so a directory of 100,000
    keys costs one read and one count-only read, never a listing.

    Args:
        store: The store.
        prefix: The prefix whose children to list (``""``: the top level).
        start: Resume here (the ``next`` of the previous page; inclusive).
        limit: Most children in the page (1 to ``MAX_PAGE``).

    Returns:
        ``prefix``, ``entries`` (each ``name``, ``key`` (the full key or directory
        prefix), ``dir`` and, for directories, ``count``), ``next`` (where the next page
        starts, or ``None``), ``count`` (keys under ``prefix``) and ``revision``.

    Raises:
        KVStoreError: The store failed a read.
    """
    limit = max(1, min(limit, MAX_PAGE))
    end = prefix_range_end(prefix)
    cursor = start if start is not None and start >= prefix else (prefix or ALL_KEYS)
    entries: list[dict[str, Any]] = []
    revision: int | None = None
    starts: list[str] = []  # where each entry's keys start, to resume after a full page
    exhausted = False
    while len(entries) <= limit and not exhausted:
        page = await store.kv_range(cursor, end, revision=revision, limit=limit + 1, keys_only=True)
        revision = page.revision
        exhausted = not page.more or not page.kvs
        for kv in page.kvs:
            if kv.key < cursor:
                continue
            rest = kv.key[len(prefix) :]
            slash = rest.find(_SEPARATOR)
            if slash >= 0:
                directory = prefix + rest[: slash + 1]
                entries.append({"name": rest[: slash + 1], "key": directory, "dir": True})
                starts.append(directory)
                cursor = prefix_range_end(directory)
                if cursor == ALL_KEYS:
                    exhausted = True
                    break
            else:
                entries.append({"name": rest, "key": kv.key, "dir": False})
                starts.append(kv.key)
                cursor = kv.key + "\0"
            if len(entries) > limit:
                break
        if cursor == ALL_KEYS:
            break
    following: str | None = None
    if len(entries) > limit:
        entries.pop()
        following = starts[limit]

    async def count(low: str, high: str) -> int:
        result = await store.kv_range(low, high, revision=revision, count_only=True)
        return result.count

    directories = [entry for entry in entries if entry["dir"]]
    counts = await asyncio.gather(
        count(prefix or ALL_KEYS, end),
        *(count(entry["key"], prefix_range_end(entry["key"])) for entry in directories),
    )
    for entry, number in zip(directories, counts[1:], strict=True):
        entry["count"] = number
    return {
        "prefix": prefix,
        "entries": entries,
        "next": following,
        "count": counts[0],
        "revision": revision,
    }


# ---------------------------------------------------------------------------- one key


async def key_detail(store: AsyncBaseStore, codec: ValueCodec, key: str) -> dict[str, Any] | None:
    """A key's value and metadata, with its lease's TTL; ``None`` if the key is absent.

    Raises:
        InvalidKeyError: ``key`` is not a valid key.
        KVStoreError: The store failed a read.
    """
    result = await store.kv_range(key)
    if not result.kvs:
        return None
    kv = result.kvs[0]
    record = kv_json(codec, kv)
    record["revision"] = result.revision
    record["lease_ttl"] = None
    if kv.lease:
        try:
            info = await store.lease_time_to_live(kv.lease)
        except (LeaseNotFoundError, UnsupportedOperationError):
            pass
        else:
            record["lease_ttl"] = info.ttl
    return record


async def key_history(
    store: AsyncBaseStore,
    codec: ValueCodec,
    key: str,
    *,
    before: int | None = None,
    limit: int = DEFAULT_HISTORY_PAGE,
) -> dict[str, Any]:
    """The versions of ``key``, newest first: one read at each earlier revision.

    Each version is read at the revision just below the previous one's mod revision,
    until the key did not exist there (``absent_at``), history was compacted
    (``compacted``: the compact revision) or ``limit`` versions were read (``next``: pass
    it as ``before`` for the next page).

    Args:
        store: The store.
        codec: How values are shown.
        key: The key.
        before: Show versions written before this revision (``None``: from the current one).
        limit: Most versions in the page (1 to ``MAX_PAGE``).

    Raises:
        InvalidKeyError: ``key`` is not a valid key.
        KVStoreError: The store failed a read (other than ``CompactedError``).
    """
    limit = max(1, min(limit, MAX_PAGE))
    versions: list[dict[str, Any]] = []
    revision = None if before is None else before - 1
    compacted: int | None = None
    absent_at: int | None = None
    following: int | None = None
    while revision is None or revision >= 1:
        if len(versions) == limit:
            following = revision + 1 if revision is not None else None
            break
        try:
            result = await store.kv_range(key, revision=revision)
        except CompactedError as exc:
            compacted = exc.compact_revision
            break
        if not result.kvs:
            absent_at = revision if revision is not None else result.revision
            break
        kv = result.kvs[0]
        versions.append(kv_json(codec, kv))
        revision = kv.mod_revision - 1
    return {
        "key": key,
        "versions": versions,
        "next": following,
        "compacted": compacted,
        "absent_at": absent_at,
    }


# ---------------------------------------------------------------------------- leases


async def leases(store: AsyncBaseStore) -> dict[str, Any]:
    """The store's leases (at most ``MAX_LEASES``), each with its TTL and keys.

    Returns:
        ``leases`` (each ``id`` in hex, ``ttl``, ``granted_ttl``, ``keys`` (at most
        ``MAX_LEASE_KEYS``), ``key_count``), ``total`` and ``supported`` (false when the
        backend has no leases).

    Raises:
        KVStoreError: The store failed a call.
    """
    try:
        ids = await store.lease_leases()
    except UnsupportedOperationError:
        return {"leases": [], "total": 0, "supported": False}

    async def one(lease_id: int) -> dict[str, Any] | None:
        try:
            info = await store.lease_time_to_live(lease_id, keys=True)
        except LeaseNotFoundError:
            return None  # expired meanwhile
        return {
            "id": f"{lease_id:x}",
            "ttl": info.ttl,
            "granted_ttl": info.granted_ttl,
            "keys": sorted(info.keys)[:MAX_LEASE_KEYS],
            "key_count": len(info.keys),
        }

    found = await asyncio.gather(*(one(lease_id) for lease_id in sorted(ids)[:MAX_LEASES]))
    return {
        "leases": [lease for lease in found if lease is not None],
        "total": len(ids),
        "supported": True,
    }


# ---------------------------------------------------------------------------- locks


_RecipeKeys = list[tuple[str, KeyValue]]
"""One recipe's keys, oldest first: each the rest of the key after the recipe's prefix
(see ``kvstore.recipes._sync._waiters.recipe_name``) and the key-value."""

_Show = Callable[[ValueCodec, _RecipeKeys], dict[str, Any] | None]
"""What the page shows of one recipe, from its keys (``None``: nothing)."""


def _waiter(kv: KeyValue) -> dict[str, Any]:
    return {"key": kv.key, "lease": _hex(kv.lease), "create_revision": kv.create_revision}


def _plain(codec: ValueCodec, kv: KeyValue) -> bytes | None:
    """The value of ``kv`` as ``codec`` shows it (decrypted, decompressed), or ``None``."""
    shown = codec.show(kv.key, kv.value)["value"]
    return None if shown is None else base64.b64decode(shown)


async def _oldest_first(
    store: AsyncBaseStore, prefix: str, *, keys_only: bool = True
) -> tuple[tuple[KeyValue, ...], bool]:
    """The first ``MAX_RECIPE_KEYS`` keys under ``prefix`` by create revision, and whether
    more exist: a truncated queue still shows its real holders, which are the oldest."""
    result = await store.kv_range(
        prefix,
        prefix_range_end(prefix),
        limit=MAX_RECIPE_KEYS,
        keys_only=keys_only,
        sort_target=SortTarget.CREATE,
        sort_order=SortOrder.ASCEND,
    )
    return result.kvs, result.more


async def _recipes_under(
    store: AsyncBaseStore, namespace: str, *, keys_only: bool = True
) -> tuple[dict[str, _RecipeKeys], bool]:
    """The keys under a recipe namespace, grouped by recipe name in one pass."""
    kvs, more = await _oldest_first(store, namespace, keys_only=keys_only)
    recipes: dict[str, _RecipeKeys] = {}
    for kv in kvs:
        found = recipe_name(namespace, kv.key)
        if found is not None:
            name, rest = found
            recipes.setdefault(name, []).append((rest, kv))
    return recipes, more


def _lock_queue(codec: ValueCodec, kvs: list[KeyValue], *, with_value: bool) -> dict[str, Any]:
    """A lock's or an election's queue (oldest first): the holder and the waiters."""
    holder, *waiting = kvs
    shown: dict[str, Any] = {
        "key": holder.key,
        "lease": _hex(holder.lease),
        "fencing_token": holder.create_revision,
        "since": holder.create_revision,
    }
    if with_value:
        shown.update(codec.show(holder.key, holder.value))
    return {"holder": shown, "waiters": [_waiter(kv) for kv in waiting]}


def _semaphore(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any]:
    kvs = [kv for _, kv in keys]
    value = _plain(codec, kvs[0])
    limit = None if value is None else semaphore_limit(value)
    held = 1 if limit is None else limit  # the oldest key always holds (limit >= 1)
    return {
        "limit": limit,
        "holders": [_waiter(kv) for kv in kvs[:held]],
        "waiters": [_waiter(kv) for kv in kvs[held:]],
    }


def _rwlock(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any]:
    holders: list[dict[str, Any]] = []
    waiters: list[dict[str, Any]] = []
    behind_a_writer = False
    for rest, kv in keys:
        mode = holder_mode(rest)
        if mode is None:
            continue
        entry = {**_waiter(kv), "mode": mode}
        # readers hold until the first writer; a writer holds only at the head
        if not behind_a_writer and (mode == "read" or not holders):
            holders.append(entry)
        else:
            waiters.append(entry)
        behind_a_writer = behind_a_writer or mode == "write"
    return {"holders": holders, "waiters": waiters}


def _party(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any]:
    members = [{**_waiter(kv), "member": member_name(rest)} for rest, kv in keys]
    return {"holders": members, "waiters": []}


def _barrier(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any] | None:
    hold = next((kv for rest, kv in keys if rest == BARRIER_HOLD), None)
    if hold is None:
        return None
    return {"held": True, "since": hold.create_revision, "holders": [], "waiters": []}


def _double_barrier(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any]:
    ready = next((kv for rest, kv in keys if rest == DOUBLE_BARRIER_READY), None)
    members = [kv for rest, kv in keys if rest.startswith(DOUBLE_BARRIER_MEMBERS)]
    # the ready key is put after the round's last member: members older than it are
    # inside, the others wait for the next round
    released = 0 if ready is None else ready.mod_revision
    return {
        "ready": ready is not None,
        "holders": [_waiter(kv) for kv in members if kv.create_revision < released],
        "waiters": [_waiter(kv) for kv in members if kv.create_revision >= released],
    }


def _counter(codec: ValueCodec, keys: _RecipeKeys) -> dict[str, Any] | None:
    value = next((kv for rest, kv in keys if rest == COUNTER_VALUE), None)
    if value is None:
        return None
    return {**codec.show(value.key, value.value), "holders": [], "waiters": []}


_KINDS: tuple[tuple[str, str, bool, _Show], ...] = (
    ("rwlock", RWLOCK_NAMESPACE, True, _rwlock),
    ("semaphore", SEMAPHORE_NAMESPACE, False, _semaphore),
    ("barrier", BARRIER_NAMESPACE, True, _barrier),
    ("double_barrier", DOUBLE_BARRIER_NAMESPACE, True, _double_barrier),
    ("party", PARTY_NAMESPACE, True, _party),
    ("counter", COUNTER_NAMESPACE, False, _counter),
)
"""The recipes shown besides locks and elections: kind, namespace, whether its keys are
read without values, and what is shown of one recipe's keys (``None``: nothing)."""

_QUEUES = (("queue", QUEUE_NAMESPACE), ("priority_queue", PRIORITY_QUEUE_NAMESPACE))


async def _recipes_of_kind(
    store: AsyncBaseStore,
    codec: ValueCodec,
    kind: str,
    namespace: str,
    keys_only: bool,
    show: _Show,
) -> tuple[list[dict[str, Any]], bool]:
    recipes, more = await _recipes_under(store, namespace, keys_only=keys_only)
    found = []
    for name, keys in sorted(recipes.items()):
        shown = show(codec, keys)
        if shown is not None:
            found.append({"kind": kind, "name": name, **shown})
    return found, more


async def _queues_of_kind(
    store: AsyncBaseStore, kind: str, namespace: str
) -> tuple[list[dict[str, Any]], bool]:
    """Each queue's item count: the tree's directories, one jump and one count each, so a
    queue of 100,000 items costs two reads and no listing."""
    page = await tree_page(store, namespace, limit=MAX_QUEUES)
    found = []
    for entry in page["entries"]:
        named = recipe_name(namespace, entry["key"]) if entry["dir"] else None
        if named is not None:
            found.append(
                {
                    "kind": kind,
                    "name": named[0],
                    "items": entry["count"],
                    "holders": [],
                    "waiters": [],
                }
            )
    return found, page["next"] is not None


async def held_recipes(
    store: AsyncBaseStore, codec: ValueCodec, *, etcd_lock: str | None = None
) -> dict[str, Any]:
    """The coordination recipes of the ``kvstore.recipes`` layout, with holders and waiters.

    Every recipe is read from its keys (see each module of ``kvstore.recipes`` for its
    layout), oldest first, at most ``MAX_RECIPE_KEYS`` keys of a kind, and derived in one
    pass over them:

    - locks and elections queue as keys ``__kvstore/locks/<quoted name>/<lease hex>``
      (``__kvstore/elections/...``); the oldest (lowest create revision) holds the lock
      (leads), and that create revision is its fencing token; the others wait in order;
    - a semaphore's first ``limit`` keys hold (the limit is each key's value; where it
      cannot be read, only the oldest is shown as holding);
    - a readers-writer lock's readers before its oldest writer hold together; that writer
      holds only at the head of the queue; everyone behind a writer waits;
    - a party's keys are its members; a barrier is shown while it is held (its key
      exists); a double barrier's members are inside once its ``ready`` key was put
      after them, else they wait for the round to fill;
    - a queue or priority queue shows its item count (at most ``MAX_QUEUES`` queues of a
      kind, counted without listing their items); a counter shows its value.

    Only key names, leases and revisions are shown, and the values of election leaders
    and counters, through ``codec`` (an encrypted value read without its keys shows as
    "encrypted", never as bytes); queue items and the values of other keys are not read.

    etcd-layout locks (``new_lock(name, layout="etcd")``, Go's ``concurrency.Mutex``,
    ``etcdctl lock``) have keys ``<name>/<lease hex>`` anywhere in the store, which no
    reader can tell from application keys: they are shown for one name at a time, the
    one given as ``etcd_lock`` (the page's "etcd-layout lock" field, ``?prefix=NAME`` of
    ``/api/recipes``). Every key under ``NAME/`` is in that lock's queue, as Go and
    ``new_lock`` see it (so ``NAME/sub/...`` keys are too): the oldest holds.

    Args:
        store: The store.
        codec: How values are shown.
        etcd_lock: The name of an etcd-layout lock to show (``None``: none).

    Returns:
        ``locks`` and ``elections``: lists of ``name``, ``holder`` (``key``, ``lease``,
        ``fencing_token``, ``since`` and, for elections, the proclaimed ``value``) and
        ``waiters`` (``key``, ``lease``, ``create_revision``); ``recipes``: the other
        kinds, each ``kind`` (``rwlock``, ``semaphore``, ``barrier``,
        ``double_barrier``, ``party``, ``counter``, ``queue``, ``priority_queue``),
        ``name``, ``holders`` and ``waiters`` (as ``waiters`` above, with ``mode``
        ``read`` / ``write`` for a readers-writer lock and ``member`` for a party), and
        ``limit`` (semaphore), ``held`` and ``since`` (barrier), ``ready`` (double
        barrier), ``items`` (queues) or the shown ``value`` (counter); ``etcd_lock``
        (with ``etcd_lock`` only): ``name``, ``prefix`` and ``lock`` (``holder`` and
        ``waiters``, ``None`` when no key is under the prefix); ``truncated`` when a kind
        had more keys (or queues) than are read.

    Raises:
        InvalidKeyError: ``etcd_lock`` is not a valid key.
        KVStoreError: The store failed a read.
    """
    etcd_prefix = None
    if etcd_lock is not None:
        etcd_prefix = recipe_prefix(LOCK_NAMESPACE, etcd_lock, "ui", layout="etcd")
    (locks, locks_more), (elections, elections_more), *others = await asyncio.gather(
        _recipes_under(store, LOCK_NAMESPACE),
        _recipes_under(store, ELECTION_NAMESPACE, keys_only=False),
        *(_recipes_of_kind(store, codec, *kind) for kind in _KINDS),
        *(_queues_of_kind(store, *queue) for queue in _QUEUES),
    )
    found: dict[str, Any] = {
        "locks": [
            {"name": name, **_lock_queue(codec, [kv for _, kv in keys], with_value=False)}
            for name, keys in sorted(locks.items())
        ],
        "elections": [
            {"name": name, **_lock_queue(codec, [kv for _, kv in keys], with_value=True)}
            for name, keys in sorted(elections.items())
        ],
        "recipes": [recipe for recipes, _ in others for recipe in recipes],
        "truncated": locks_more or elections_more or any(more for _, more in others),
    }
    if etcd_prefix is not None:
        kvs, more = await _oldest_first(store, etcd_prefix)
        found["etcd_lock"] = {
            "name": etcd_lock,
            "prefix": etcd_prefix,
            "lock": _lock_queue(codec, list(kvs), with_value=False) if kvs else None,
        }
        found["truncated"] = found["truncated"] or more
    return found


# ---------------------------------------------------------------------------- cluster


async def cluster_info(store: AsyncBaseStore) -> dict[str, Any]:
    """The answering member's status, the members and the alarms, where the backend has them.

    Returns:
        ``status``, ``members`` and ``alarms``, each ``None`` when the backend does not
        offer it, and ``errors`` (what failed, by part).
    """
    errors: dict[str, str] = {}
    info: dict[str, Any] = {"status": None, "members": None, "alarms": None, "errors": errors}
    status = await _cluster_part(errors, "status", store.status)
    if status is not None:
        info["status"] = {
            "version": status.version,
            "db_size": status.db_size,
            "leader": _hex(status.leader),
            "member_id": _hex(status.member_id),
            "raft_index": status.raft_index,
            "raft_term": status.raft_term,
            "revision": status.revision,
            "compact_revision": status.compact_revision,
        }
    members = await _cluster_part(errors, "members", store.member_list)
    if members is not None:
        leader = info["status"]["leader"] if info["status"] is not None else None
        info["members"] = [
            {
                "id": _hex(member.id),
                "name": member.name,
                "peer_urls": list(member.peer_urls),
                "client_urls": list(member.client_urls),
                "is_learner": member.is_learner,
                "leader": leader is not None and _hex(member.id) == leader,
            }
            for member in members
        ]
    alarms = await _cluster_part(errors, "alarms", store.alarms)
    if alarms is not None:
        info["alarms"] = [
            {"member_id": _hex(alarm.member_id), "alarm": alarm.alarm} for alarm in alarms
        ]
    return info


async def _cluster_part(
    errors: dict[str, str], part: str, read: Callable[[], Awaitable[_Part]]
) -> _Part | None:
    """``await read()``; ``None`` when the backend does not offer it, or when it failed
    (then ``errors[part]`` says why)."""
    try:
        return await read()
    except UnsupportedOperationError:
        return None
    except KVStoreError as exc:
        errors[part] = str(exc)
        return None
