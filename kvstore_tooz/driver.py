"""``KVStoreDriver``: tooz's coordination API (locks, groups, elections) on any kvstore URL.

tooz picks a driver by URL scheme; this one is registered in the ``tooz.backends``
entry-point group under ``kvstore+etcd``, ``kvstore+etcds``, ``kvstore+postgresql``,
``kvstore+postgres``, ``kvstore+sqlite`` and ``kvstore+memory``. The URL without its
``kvstore+`` is the kvstore URL, opened with ``kvstore.open`` (wrapper options such as
``?namespace=`` included); the driver's own options are taken out of the query first:

``timeout`` (seconds, default 30)
    The default of the three below.
``membership_timeout``
    TTL of the membership lease: how long a member whose process stopped heartbeating
    stays listed in its groups.
``lock_timeout``
    TTL of each lock holder's session (renewed in the background while the process runs).
``leader_timeout``
    TTL of each candidacy's session in an election.

A path on an etcd URL (``kvstore+etcd://host:2379/app``) names a key namespace, as
``?namespace=app/`` does (tooz's URLs conventionally carry one; etcd's have none).

Everything is built on kvstore's recipes, nothing twice:

* ``get_lock`` returns a ``KVStoreLock`` on ``store.new_rwlock(name)``: an exclusive
  acquisition is a ``WriteLock``, a shared one a ``ReadLock``; each holder has its own
  session and exposes ``fencing_token`` and ``guard()``.
* Groups are kvstore parties: a member is the key
  ``__kvstore/parties/<quoted group>/<quoted member>/<lease id hex>`` (the layout of
  ``kvstore.recipes.Party``, so ``store.new_party(group, ...).members()`` and
  ``kvstore ui`` list tooz's members too), its value the member's capabilities (tooz's
  msgpack serialization). tooz groups exist on their own, so each has a marker key
  ``__kvstore/tooz/groups/<quoted group>``; joins, leaves and deletions are transactions
  on both.
* The members' keys are put with one membership lease per coordinator, renewed by
  ``heartbeat()`` (tooz's heart: ``coordinator.start(start_heart=True)``): a member whose
  process dies, or stops heartbeating, leaves its groups after ``membership_timeout``.
* Elections are ``store.new_election(group)``: ``run_watchers`` (or
  ``run_elect_coordinator``) campaigns without waiting, the leader's value is its member
  id, and ``stand_down_group_leader`` resigns.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import tooz
from tooz import coordination, locking, utils

from kvstore.base import BaseStore
from kvstore.errors import (
    AuthenticationError,
    KVStoreError,
    LeaseNotFoundError,
    LockTimeoutError,
    OperationTimeoutError,
    UnavailableError,
)
from kvstore.keys import prefix_range_end
from kvstore.lease import Lease
from kvstore.plugins.discovery import open_base_store
from kvstore.recipes import PARTY_NAMESPACE, Election, ReadLock, RWLock, WriteLock
from kvstore.txn import Compare, CreateRevision, Delete, Get, Put, Version
from kvstore.types import KeyValue, RangeResult

__all__ = [
    "DEFAULT_TIMEOUT",
    "GROUP_NAMESPACE",
    "KVStoreDriver",
    "KVStoreLock",
    "SCHEMES",
    "kvstore_url",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30
"""Default of the ``timeout`` option, in seconds."""

GROUP_NAMESPACE = "__kvstore/tooz/groups/"
"""Prefix of the groups' marker keys (the members are under ``PARTY_NAMESPACE``)."""

SCHEMES = ("etcd", "etcds", "postgresql", "postgres", "sqlite", "memory")
"""The kvstore schemes the driver is registered for (as ``kvstore+<scheme>``)."""

_OWN_OPTIONS = ("timeout", "membership_timeout", "lock_timeout", "leader_timeout")

_C = coordination.Characteristics
_CHARACTERISTICS: dict[str, tuple[coordination.Characteristics, ...]] = {
    "etcd": (
        _C.DISTRIBUTED_ACROSS_THREADS,
        _C.DISTRIBUTED_ACROSS_PROCESSES,
        _C.DISTRIBUTED_ACROSS_HOSTS,
        _C.LINEARIZABLE,
        _C.SERIALIZABLE,
    ),
    "postgresql": (
        _C.DISTRIBUTED_ACROSS_THREADS,
        _C.DISTRIBUTED_ACROSS_PROCESSES,
        _C.DISTRIBUTED_ACROSS_HOSTS,
        _C.SERIALIZABLE,
    ),
    "sqlite": (
        _C.DISTRIBUTED_ACROSS_THREADS,
        _C.DISTRIBUTED_ACROSS_PROCESSES,
        _C.SERIALIZABLE,
    ),
    "memory": (_C.DISTRIBUTED_ACROSS_THREADS, _C.SERIALIZABLE),
}
_CHARACTERISTICS["etcds"] = _CHARACTERISTICS["etcd"]
_CHARACTERISTICS["postgres"] = _CHARACTERISTICS["postgresql"]

# memory:// opens a new store each time: the coordinators of one process share one per URL
_MEMORY_STORES: dict[str, BaseStore] = {}
_MEMORY_LOCK = threading.Lock()


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """Turn kvstore's errors into tooz's (the kvstore error is the ``__cause__``)."""
    try:
        yield
    except (UnavailableError, AuthenticationError) as exc:
        raise coordination.ToozConnectionError(str(exc)) from exc
    except OperationTimeoutError as exc:
        raise coordination.OperationTimedOut(str(exc)) from exc
    except KVStoreError as exc:
        raise tooz.ToozError(str(exc)) from exc


def _binary(value: bytes | str) -> bytes:
    """tooz's ids are bytes; str ones (accepted at run time) are encoded as UTF-8."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    """A tooz id as the name of a kvstore recipe."""
    return value if isinstance(value, str) else value.decode("utf-8", "backslashreplace")


def _quote(value: bytes) -> str:
    return urllib.parse.quote(value, safe="")


def _timeout_option(options: dict[str, Any], name: str, default: int) -> int:
    raw = options.get(name, default)
    try:
        seconds = int(float(raw))
    except (TypeError, ValueError):
        raise tooz.ToozError(f"kvstore tooz driver: {name} must be a number of seconds") from None
    if seconds < 1:
        raise tooz.ToozError(f"kvstore tooz driver: {name} must be at least 1 second")
    return seconds


def kvstore_url(parsed_url: Any) -> str:
    """The kvstore URL of a tooz URL: without ``kvstore+`` and the driver's own options.

    Args:
        parsed_url: The tooz URL, split (``urllib.parse.urlsplit``'s result).

    Returns:
        The URL to give ``kvstore.open``.

    Raises:
        tooz.ToozError: An etcd URL names its namespace by both its path and ``?namespace=``.
    """
    scheme = str(parsed_url.scheme).removeprefix("kvstore+")
    query = [
        (name, value)
        for name, value in urllib.parse.parse_qsl(parsed_url.query, keep_blank_values=True)
        if name not in _OWN_OPTIONS
    ]
    path = str(parsed_url.path)
    if scheme in ("etcd", "etcds") and path.strip("/"):
        if any(name == "namespace" for name, _ in query):
            raise tooz.ToozError(
                "kvstore tooz driver: an etcd URL names its namespace by its path or by "
                "?namespace=, not both"
            )
        query.insert(0, ("namespace", path.strip("/") + "/"))
        path = ""
    elif scheme in ("etcd", "etcds"):
        path = ""
    url = f"{scheme}://{parsed_url.netloc}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query, safe="/")
    return url


class KVStoreLock(locking.Lock):
    """A tooz lock on ``store.new_rwlock(name)``: exclusive holds are writers, shared ones
    readers.

    Each ``acquire`` is a new holder (a ``WriteLock`` or ``ReadLock`` with its own session,
    renewed in the background), so one lock object may be acquired again, from another
    thread, and waits its turn like any other holder. ``release`` releases the newest hold.
    The fencing of kvstore's locks is available while held: ``fencing_token`` (strictly
    increasing from one exclusive holder to the next) and ``guard()`` (a compare to put in
    the ``if_`` of a transaction).
    """

    def __init__(self, driver: KVStoreDriver, name: bytes) -> None:
        super().__init__(name)
        self._driver = driver
        self._rwlock: RWLock = driver.store.new_rwlock(_text(name), ttl=driver.lock_timeout)
        self._holders: list[ReadLock | WriteLock] = []
        self._state = threading.Lock()

    def __repr__(self) -> str:
        return f"KVStoreLock(name={self.name!r}, held={len(self._holders)})"

    @property
    def acquired(self) -> bool:
        """Whether this object holds the lock (exclusive or shared), as far as it knows."""
        return bool(self._holders)

    @property
    def holder(self) -> ReadLock | WriteLock:
        """The newest hold: the kvstore ``WriteLock`` or ``ReadLock`` behind it.

        Raises:
            tooz.ToozError: The lock is not held.
        """
        with self._state:
            if not self._holders:
                raise tooz.ToozError(f"lock {self.name!r} is not held")
            return self._holders[-1]

    @property
    def fencing_token(self) -> int:
        """The newest hold's fencing token (its key's create revision).

        Raises:
            tooz.ToozError: The lock is not held.
        """
        with _translated():
            return self.holder.fencing_token

    def guard(self) -> Compare:
        """A compare that holds only while the newest hold is still this object's.

        Returns:
            A ``Compare`` on the newest hold's key, to put in a transaction's ``if_``: the
            transaction applies only while the hold is this object's (fencing).

        Raises:
            tooz.ToozError: The lock is not held.
        """
        with _translated():
            return self.holder.guard()

    def acquire(
        self,
        blocking: bool | float = True,
        shared: bool = False,
        timeout: float | None = None,
    ) -> bool:
        """Acquire the lock, exclusive or ``shared``.

        Args:
            blocking: Wait for it (``True``), do not wait (``False``), or wait at most
                this many seconds (a number).
            shared: A shared (reader's) hold instead of an exclusive one.
            timeout: Most seconds to wait when ``blocking`` is ``True`` (``None``: no limit).

        Returns:
            Whether it was acquired.

        Raises:
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        wait, limit = utils.convert_blocking(blocking, timeout)
        holder = self._rwlock.read_lock() if shared else self._rwlock.write_lock()
        with _translated():
            acquired = holder.acquire(limit if wait else 0)
        if acquired:
            with self._state:
                self._holders.append(holder)
            self._driver._holding(self, True)
        return acquired

    def release(self) -> bool:
        """Release the newest hold.

        Returns:
            ``True`` if this object held the lock and its key was still its own (not broken
            nor expired); ``False`` otherwise.

        Raises:
            tooz.ToozError: The store failed; the hold stands.
        """
        with self._state:
            if not self._holders:
                return False
            holder = self._holders.pop()
            if not self._holders:
                self._driver._holding(self, False)
        try:
            with _translated():
                ours = self._driver.store.kv_txn([holder.guard()], [Delete(holder.key)], [])
                holder.release()
        except BaseException:
            with self._state:
                self._holders.append(holder)
            self._driver._holding(self, True)
            raise
        return ours.succeeded

    def break_(self) -> bool:
        """Delete every holder's key (and waiter's) of this lock, whoever holds it.

        Returns:
            Whether there was a key to delete.

        Raises:
            tooz.ToozError: The store failed.
        """
        prefix = self._rwlock.prefix
        with _translated():
            deleted = self._driver.store.kv_delete_range(Delete(prefix, prefix_range_end(prefix)))
        return deleted.deleted > 0

    def is_still_owner(self) -> bool:
        """Whether this object holds the lock and its newest hold's key is still its own.

        Returns:
            ``True`` if this object holds the lock and its newest hold's key is still its own, else
            ``False``.

        Raises:
            tooz.ToozError: The store failed.
        """
        with self._state:
            if not self._holders:
                return False
            holder = self._holders[-1]
        with _translated():
            return self._driver.store.kv_txn([holder.guard()], [], []).succeeded

    def _drop(self) -> None:
        """Release every hold (the coordinator stops)."""
        with self._state:
            holders, self._holders = self._holders, []
        for holder in holders:
            with contextlib.suppress(KVStoreError):
                holder.release()


class KVStoreDriver(
    coordination.CoordinationDriverCachedRunWatchers,
    coordination.CoordinationDriverWithExecutor,
):
    """A tooz coordination driver on a kvstore URL (see the module docstring).

    Get one with ``tooz.coordination.get_coordinator("kvstore+etcd://host:2379", member)``.

    Attributes:
        store: The kvstore store (opened by ``start``).
        membership_timeout: TTL of the membership lease, in seconds.
        lock_timeout: TTL of each lock holder's session.
        leader_timeout: TTL of each candidacy's session.
    """

    CHARACTERISTICS: tuple[coordination.Characteristics, ...] = ()

    def __init__(self, member_id: bytes, parsed_url: Any, options: dict[str, Any]) -> None:
        super().__init__(_binary(member_id), parsed_url, options)
        collapsed = utils.collapse(options)
        self._scheme = str(parsed_url.scheme).removeprefix("kvstore+")
        if self._scheme not in SCHEMES:
            raise tooz.ToozError(f"kvstore tooz driver: unknown scheme kvstore+{self._scheme}")
        self.CHARACTERISTICS = _CHARACTERISTICS[self._scheme]
        self._url = kvstore_url(parsed_url)
        timeout = _timeout_option(collapsed, "timeout", DEFAULT_TIMEOUT)
        self.membership_timeout = _timeout_option(collapsed, "membership_timeout", timeout)
        self.lock_timeout = _timeout_option(collapsed, "lock_timeout", timeout)
        self.leader_timeout = _timeout_option(collapsed, "leader_timeout", timeout)
        self._store: BaseStore | None = None
        self._lease: Lease | None = None
        self._lease_state = threading.Lock()
        self._elections: dict[bytes, Election] = {}
        self._locks: set[KVStoreLock] = set()
        """The locks with holds, released by ``stop``."""
        self._locks_state = threading.Lock()

    def __repr__(self) -> str:
        return f"KVStoreDriver(scheme=kvstore+{self._scheme}, member={self._member_id!r})"

    @property
    def store(self) -> BaseStore:
        """The store (opened by ``start``).

        Raises:
            tooz.ToozError: The coordinator was not started.
        """
        if self._store is None:
            raise tooz.ToozError("kvstore tooz driver: the coordinator is not started")
        return self._store

    # -- lifecycle

    def _start(self) -> None:
        super()._start()
        with _translated():
            self._store = self._open()
            try:
                self._lease = self._store.lease(self.membership_timeout)
            except BaseException:
                self._close_store()
                raise

    def _open(self) -> BaseStore:
        if self._scheme != "memory":
            return open_base_store(self._url)
        with _MEMORY_LOCK:
            store = _MEMORY_STORES.get(self._url)
            if store is None:
                store = _MEMORY_STORES[self._url] = open_base_store(self._url)
            return store

    def _stop(self) -> None:
        for election in list(self._elections.values()):
            with contextlib.suppress(KVStoreError):
                election.resign()
        self._elections.clear()
        with self._locks_state:
            locks, self._locks = self._locks, set()
        for lock in locks:
            lock._drop()
        lease, self._lease = self._lease, None
        if lease is not None:
            with contextlib.suppress(KVStoreError):
                lease.revoke()
        self._close_store()
        super()._stop()

    def _close_store(self) -> None:
        store, self._store = self._store, None
        if store is not None and self._scheme != "memory":
            with contextlib.suppress(KVStoreError):
                store.close()

    def heartbeat(self) -> float:
        """Renew the membership lease (a new one if it expired: the memberships are gone).

        Returns:
            Seconds until the next heartbeat is due (tooz's heart beats at half of it).

        Raises:
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        lease = self._membership_lease()
        with _translated():
            try:
                lease.refresh()
            except LeaseNotFoundError:
                self._new_lease(lease)
        return self.membership_timeout / 2

    def _membership_lease(self) -> Lease:
        if self._lease is None:
            raise tooz.ToozError("kvstore tooz driver: the coordinator is not started")
        return self._lease

    def _new_lease(self, expired: Lease) -> Lease:
        """Replace an expired membership lease (once, whichever thread notices first)."""
        with self._lease_state:
            if self._lease is expired:
                self._lease = self.store.lease(self.membership_timeout)
            return self._membership_lease()

    # -- locks

    def _holding(self, lock: KVStoreLock, held: bool) -> None:
        with self._locks_state:
            if held:
                self._locks.add(lock)
            else:
                self._locks.discard(lock)

    def get_lock(self, name: bytes) -> KVStoreLock:
        """A lock named ``name`` (see ``KVStoreLock``).

        Returns:
            A new ``KVStoreLock``, not acquired yet.

        Raises:
            tooz.ToozError: The coordinator was not started, or ``name`` is not valid.
        """
        with _translated():
            return KVStoreLock(self, _binary(name))

    # -- groups

    def _submit(self, call: Callable[[], T]) -> coordination.CoordinatorResult[T]:
        def translated() -> T:
            with _translated():
                return call()

        return coordination.CoordinatorResult(self._executor.submit(translated))

    @staticmethod
    def _group_key(group_id: bytes) -> str:
        return GROUP_NAMESPACE + _quote(group_id)

    @staticmethod
    def _members_prefix(group_id: bytes) -> str:
        return f"{PARTY_NAMESPACE}{_quote(group_id)}/"

    def _member_prefix(self, group_id: bytes, member_id: bytes) -> str:
        return f"{self._members_prefix(group_id)}{_quote(member_id)}/"

    def _member_id_of(self, group_id: bytes, key: str) -> bytes:
        rest = key[len(self._members_prefix(group_id)) :]
        return urllib.parse.unquote_to_bytes(rest.rpartition("/")[0])

    def _group_and_members(self, group_id: bytes) -> tuple[bool, RangeResult]:
        """Whether the group exists, and its members' keys, read at one revision."""
        members = self._members_prefix(group_id)
        read = self.store.kv_txn(
            [],
            [
                Get(self._group_key(group_id), keys_only=True),
                Get(members, prefix_range_end(members)),
            ],
            [],
        )
        marker, found = (cast(RangeResult, response) for response in read.responses)
        return bool(marker.kvs), found

    def create_group(self, group_id: bytes) -> coordination.CoordinatorResult[None]:
        """Create the group ``group_id`` (one transaction on its marker key).

        Returns:
            A result whose ``get()`` returns ``None`` once created.

        Raises:
            coordination.GroupAlreadyExist: From ``get()``: the group exists.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)

        def create() -> None:
            key = self._group_key(group_id)
            if not self.store.kv_txn([Version(key) == 0], [Put(key, b"")], []).succeeded:
                raise coordination.GroupAlreadyExist(group_id)

        return self._submit(create)

    def get_groups(self) -> coordination.CoordinatorResult[list[bytes]]:
        """The ids of every group.

        Returns:
            A result whose ``get()`` returns the list of group ids (bytes).

        Raises:
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """

        def groups() -> list[bytes]:
            read = self.store.kv_range(
                Get(GROUP_NAMESPACE, prefix_range_end(GROUP_NAMESPACE), keys_only=True)
            )
            return [
                urllib.parse.unquote_to_bytes(kv.key[len(GROUP_NAMESPACE) :]) for kv in read.kvs
            ]

        return self._submit(groups)

    def delete_group(self, group_id: bytes) -> coordination.CoordinatorResult[None]:
        """Delete the group ``group_id``, which must have no member.

        Returns:
            A result whose ``get()`` returns ``None`` once deleted.

        Raises:
            coordination.GroupNotCreated: From ``get()``: there is no such group.
            coordination.GroupNotEmpty: From ``get()``: the group has members.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)

        def delete() -> None:
            key = self._group_key(group_id)
            empty = CreateRevision(self._members_prefix(group_id), prefix=True) == 0
            if self.store.kv_txn([Version(key) != 0, empty], [Delete(key)], []).succeeded:
                return
            exists, _ = self._group_and_members(group_id)
            if not exists:
                raise coordination.GroupNotCreated(group_id)
            raise coordination.GroupNotEmpty(group_id)

        return self._submit(delete)

    def _destroy_group(self, group_id: bytes) -> None:
        """Delete a group and its members, whoever they are (for tests)."""
        group_id = _binary(group_id)
        members = self._members_prefix(group_id)
        with _translated():
            self.store.kv_txn(
                [],
                [Delete(self._group_key(group_id)), Delete(members, prefix_range_end(members))],
                [],
            )

    def join_group(
        self, group_id: bytes, capabilities: coordination.Capabilities | None = None
    ) -> coordination.CoordinatorResult[None]:
        """Join ``group_id`` as this coordinator's member, with ``capabilities``; the key is
        put with the membership lease (renewed by ``heartbeat``).

        Returns:
            A result whose ``get()`` returns ``None`` once joined.

        Raises:
            coordination.GroupNotCreated: From ``get()``: there is no such group.
            coordination.MemberAlreadyExist: From ``get()``: a member of this id is in it.
            tooz.utils.SerializationError: ``capabilities`` cannot be serialized.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)
        value = utils.dumps(capabilities)

        def join() -> None:
            lease = self._membership_lease()
            try:
                # joining is a sign of life: the new member gets a full membership_timeout
                lease.refresh()
                joined = self._join(group_id, value, lease.id)
            except LeaseNotFoundError:
                joined = self._join(group_id, value, self._new_lease(lease).id)
            if not joined:
                exists, _ = self._group_and_members(group_id)
                if not exists:
                    raise coordination.GroupNotCreated(group_id)
                raise coordination.MemberAlreadyExist(group_id, self._member_id)
            self._joined_groups.add(group_id)

        return self._submit(join)

    def _join(self, group_id: bytes, value: bytes, lease_id: int) -> bool:
        mine = self._member_prefix(group_id, self._member_id)
        compares = [Version(self._group_key(group_id)) != 0, CreateRevision(mine, prefix=True) == 0]
        put = Put(f"{mine}{lease_id:x}", value, lease=lease_id)
        return self.store.kv_txn(compares, [put], []).succeeded

    def leave_group(self, group_id: bytes) -> coordination.CoordinatorResult[None]:
        """Leave ``group_id`` (delete this member's key, whoever put it).

        Returns:
            A result whose ``get()`` returns ``None`` once left.

        Raises:
            coordination.MemberNotJoined: From ``get()``: this member is not in the group.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)

        def leave() -> None:
            mine = self._member_prefix(group_id, self._member_id)
            joined = CreateRevision(mine, prefix=True) != 0
            result = self.store.kv_txn([joined], [Delete(mine, prefix_range_end(mine))], [])
            self._joined_groups.discard(group_id)
            if not result.succeeded:
                raise coordination.MemberNotJoined(group_id, self._member_id)

        return self._submit(leave)

    def _members(self, group_id: bytes) -> dict[bytes, KeyValue]:
        exists, found = self._group_and_members(group_id)
        if not exists:
            raise coordination.GroupNotCreated(group_id)
        return {self._member_id_of(group_id, kv.key): kv for kv in found.kvs}

    def get_members(self, group_id: bytes) -> coordination.CoordinatorResult[set[bytes]]:
        """The ids of the group's members, read at one revision with the group's marker.

        Returns:
            A result whose ``get()`` returns the set of member ids (bytes).

        Raises:
            coordination.GroupNotCreated: From ``get()``: there is no such group.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)
        return self._submit(lambda: set(self._members(group_id)))

    def get_members_with_capabilities(
        self, group_id: bytes
    ) -> coordination.CoordinatorResult[dict[bytes, coordination.Capabilities | None]]:
        """The group's members and their capabilities, in one read.

        Returns:
            A result whose ``get()`` returns ``{member id: capabilities or None}``.

        Raises:
            coordination.GroupNotCreated: From ``get()``: there is no such group.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)

        def members() -> dict[bytes, coordination.Capabilities | None]:
            return {member: _capabilities(kv) for member, kv in self._members(group_id).items()}

        return self._submit(members)

    def _member(self, group_id: bytes, member_id: bytes) -> KeyValue:
        prefix = self._member_prefix(group_id, member_id)
        read = self.store.kv_range(Get(prefix, prefix_range_end(prefix), limit=1))
        if not read.kvs:
            raise coordination.MemberNotJoined(group_id, member_id)
        return read.kvs[0]

    def get_member_capabilities(
        self, group_id: bytes, member_id: bytes
    ) -> coordination.CoordinatorResult[coordination.Capabilities | None]:
        """The capabilities ``member_id`` joined ``group_id`` with (or last updated).

        Returns:
            A result whose ``get()`` returns the capabilities (``None`` if none were given).

        Raises:
            coordination.MemberNotJoined: From ``get()``: no such member in the group.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id, member_id = _binary(group_id), _binary(member_id)
        return self._submit(lambda: _capabilities(self._member(group_id, member_id)))

    def get_member_info(
        self, group_id: bytes, member_id: bytes
    ) -> coordination.CoordinatorResult[dict[str, Any]]:
        """The member's ``capabilities``, with the ``create_revision`` and
        ``mod_revision`` of its key and its ``lease`` id.

        Returns:
            A result whose ``get()`` returns that dict.

        Raises:
            coordination.MemberNotJoined: From ``get()``: no such member in the group.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id, member_id = _binary(group_id), _binary(member_id)

        def info() -> dict[str, Any]:
            kv = self._member(group_id, member_id)
            return {
                "capabilities": _capabilities(kv),
                "create_revision": kv.create_revision,
                "mod_revision": kv.mod_revision,
                "lease": kv.lease,
            }

        return self._submit(info)

    def update_capabilities(
        self, group_id: bytes, capabilities: coordination.Capabilities
    ) -> coordination.CoordinatorResult[None]:
        """Replace this member's capabilities in ``group_id`` (its key keeps its lease).

        Returns:
            A result whose ``get()`` returns ``None`` once updated.

        Raises:
            coordination.MemberNotJoined: From ``get()``: this member is not in the group.
            tooz.utils.SerializationError: ``capabilities`` cannot be serialized.
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)
        value = utils.dumps(capabilities)

        def update() -> None:
            kv = self._member(group_id, self._member_id)
            same = CreateRevision(kv.key) == kv.create_revision
            put = Put(kv.key, value, ignore_lease=True)
            if not self.store.kv_txn([same], [put]).succeeded:
                raise coordination.MemberNotJoined(group_id, self._member_id)

        return self._submit(update)

    # -- elections

    def _election(self, group_id: bytes) -> Election:
        election = self._elections.get(group_id)
        if election is None:
            election = self.store.new_election(_text(group_id), ttl=self.leader_timeout)
            self._elections[group_id] = election
        return election

    def get_leader(self, group_id: bytes) -> coordination.CoordinatorResult[bytes]:
        """The member id the leader of ``group_id`` proclaimed.

        Returns:
            A result whose ``get()`` returns the leader's member id, or ``None`` without one.

        Raises:
            tooz.ToozError: The store failed (``ToozConnectionError``: it is unreachable).
        """
        group_id = _binary(group_id)

        def leader() -> bytes:
            kv = self.store.new_election(_text(group_id)).leader()
            return cast(bytes, None) if kv is None else kv.value

        return self._submit(leader)

    def run_elect_coordinator(self) -> None:
        """Campaign, without waiting, in every group with ``watch_elected_as_leader``
        callbacks; run them when elected.

        Raises:
            tooz.ToozError: The store failed.
        """
        for group_id, hooks in list(self._hooks_elected_leader.items()):
            with _translated():
                election = self._election(group_id)
                if election.is_leader and not election.lost.is_set():
                    continue
                if election.lost.is_set():
                    election.resign()
                leader = election.leader()
                if leader is not None and leader.value != self._member_id:
                    continue
                try:
                    election.campaign(self._member_id, timeout=0)
                except LockTimeoutError:
                    continue
            hooks.run(coordination.LeaderElected(group_id, self._member_id))

    def stand_down_group_leader(self, group_id: bytes) -> bool:
        """Resign the leadership of ``group_id``.

        Returns:
            Whether this coordinator led the group.

        Raises:
            tooz.ToozError: The store failed.
        """
        election = self._elections.get(_binary(group_id))
        if election is None or not election.is_leader:
            return False
        with _translated():
            election.resign()
        return True

    def run_watchers(self, timeout: float | None = None) -> list[Any]:
        """Run the join and leave callbacks of the changes since the last call, then the
        election (``run_elect_coordinator``).

        Returns:
            What the join and leave callbacks returned.

        Raises:
            tooz.ToozError: The store failed.
        """
        result = super().run_watchers(timeout=timeout)
        self.run_elect_coordinator()
        return result


def _capabilities(kv: KeyValue) -> coordination.Capabilities | None:
    return cast("coordination.Capabilities | None", utils.loads(kv.value)) if kv.value else None
