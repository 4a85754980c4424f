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
  ``MAX_RECIPE_KEYS`` recipe keys.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from urllib.parse import unquote

from kvstore._async.base import AsyncBaseStore
from kvstore._async.wrappers import AsyncValueMappingStore
from kvstore.encryption import Keyring
from kvstore.encryption.envelope import HEADER_BYTES, has_magic
from kvstore.errors import (
    CompactedError,
    KVStoreError,
    LeaseNotFoundError,
    UnsupportedOperationError,
)
from kvstore.keys import ALL_KEYS, prefix_range_end
from kvstore.recipes import ELECTION_NAMESPACE, LOCK_NAMESPACE
from kvstore.types import KeyValue, WatchEvent

__all__ = [
    "DEFAULT_HISTORY_PAGE",
    "DEFAULT_TREE_PAGE",
    "MAX_LEASE_KEYS",
    "MAX_LEASES",
    "MAX_PAGE",
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
"""Lock and election keys read at most, per kind."""

_SEPARATOR = "/"


def _hex(number: int) -> str | None:
    return f"{number:x}" if number else None


class ValueCodec:
    """Turns stored values into what the page shows, and values typed in into stored bytes.

    The UI reads the store's raw values, so a value it cannot decrypt is still shown with
    its metadata. With a keyring, encrypted values are decrypted (``AsyncEncryptedStore``'s
    own decoding, plaintext allowed); without one they are shown as "encrypted (key id N)".
    With ``compress``, values are decompressed after decryption (``AsyncCompressedStore``).
    Writes go through the same wrappers, composed by ``kvstore.compose.wrap_store``.

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
        from kvstore.compose import wrap_store

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


async def held_recipes(store: AsyncBaseStore, codec: ValueCodec) -> dict[str, Any]:
    """The locks and elections of the ``kvstore.recipes`` layout, with holder and waiters.

    The recipes queue waiters (candidates) as keys ``__kvstore/locks/<quoted name>/<lease
    hex>`` (``__kvstore/elections/...``); the one with the lowest create revision holds
    the lock (leads), and that create revision is its fencing token. The others wait, in
    create-revision order.

    Returns:
        ``locks`` and ``elections``: lists of ``name``, ``holder`` (``key``, ``lease``,
        ``fencing_token``, ``since`` and, for elections, the proclaimed ``value``) and
        ``waiters`` (``key``, ``lease``, ``create_revision``); ``truncated`` when more
        than ``MAX_RECIPE_KEYS`` keys of a kind exist.

    Raises:
        KVStoreError: The store failed a read.
    """
    found: dict[str, Any] = {"truncated": False}
    for kind, namespace in (("locks", LOCK_NAMESPACE), ("elections", ELECTION_NAMESPACE)):
        result = await store.kv_range(namespace, prefix_range_end(namespace), limit=MAX_RECIPE_KEYS)
        found["truncated"] = found["truncated"] or result.more
        queues: dict[str, list[KeyValue]] = {}
        for kv in result.kvs:
            quoted, slash, _ = kv.key[len(namespace) :].partition(_SEPARATOR)
            if slash:
                queues.setdefault(unquote(quoted), []).append(kv)
        items = []
        for name, keys in sorted(queues.items()):
            keys.sort(key=lambda kv: kv.create_revision)
            holder, *waiting = keys
            shown: dict[str, Any] = {
                "key": holder.key,
                "lease": _hex(holder.lease),
                "fencing_token": holder.create_revision,
                "since": holder.create_revision,
            }
            if kind == "elections":
                shown.update(codec.show(holder.key, holder.value))
            items.append(
                {
                    "name": name,
                    "holder": shown,
                    "waiters": [
                        {
                            "key": kv.key,
                            "lease": _hex(kv.lease),
                            "create_revision": kv.create_revision,
                        }
                        for kv in waiting
                    ],
                }
            )
        found[kind] = items
    return found


# ---------------------------------------------------------------------------- cluster


async def cluster_info(store: AsyncBaseStore) -> dict[str, Any]:
    """The answering member's status, the members and the alarms, where the backend has them.

    Returns:
        ``status``, ``members`` and ``alarms``, each ``None`` when the backend does not
        offer it, and ``errors`` (what failed, by part).
    """
    info: dict[str, Any] = {"status": None, "members": None, "alarms": None, "errors": {}}
    try:
        status = await store.status()
    except UnsupportedOperationError:
        pass
    except KVStoreError as exc:
        info["errors"]["status"] = str(exc)
    else:
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
    try:
        members = await store.member_list()
    except UnsupportedOperationError:
        pass
    except KVStoreError as exc:
        info["errors"]["members"] = str(exc)
    else:
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
    try:
        alarms = await store.alarms()
    except UnsupportedOperationError:
        pass
    except KVStoreError as exc:
        info["errors"]["alarms"] = str(exc)
    else:
        info["alarms"] = [
            {"member_id": _hex(alarm.member_id), "alarm": alarm.alarm} for alarm in alarms
        ]
    return info
