# Generated from kvstore/cli/_async/demo.py by scripts/unasync.py;
# do not edit: edit the source and run `python scripts/unasync.py`.
"""``kvstore demo``: the seed's sample application, one short section per feature.

CRUD, prefix operations, watches, locks, leases, transactions and encryption (with key
rotation), each checked as it runs, so the demo doubles as a smoke test of a store.
Every key lives under a fresh namespace (``NamespacedStore``) that is deleted at the end,
so the demo is safe against an existing etcd.

With no URL it starts a throwaway local etcd from the installed binary and removes it
afterwards; ``memory://`` runs it on the in-memory fake::

    kvstore demo                          # throwaway local etcd
    kvstore demo --url memory://          # the in-memory fake
    ETCD_ENDPOINTS=host:2379 kvstore demo # an existing etcd
    kvstore demo --async                  # the same sections on the asyncio API

The sections are written once, on the asyncio API (``kvstore/cli/_async/demo.py``); the
sync demo (``kvstore/cli/_sync/demo.py``) is generated from it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

import kvstore
from kvstore._concurrency import Done, sleep
from kvstore._sync.base import BaseStore
from kvstore.cli._demo import DemoError, throwaway_etcd
from kvstore.cli.urls import redact_url
from kvstore.errors import KeyNotFoundError, KVStoreError
from kvstore.txn import Get, ModRevision, Put, Value, Version
from kvstore.types import EventType
from kvstore.wrappers._sync.namespace import NamespacedStore
from kvstore.wrappers.encryption.keyring import Keyring

__all__ = ["SAMPLE_CONFIG", "SAMPLE_SECRET_KEY_ID", "DemoError", "main", "run", "seeded"]

SAMPLE_CONFIG: dict[str, bytes] = {
    "config/db/host": b"db.internal",
    "config/db/port": b"5432",
    "config/cache/ttl": b"300",
    "config/feature/dark-mode": b"on",
}
"""The configuration keys the demo writes (and ``seeded`` leaves in a store)."""


class _Demo:
    """Prints the walkthrough and checks each step."""

    def __init__(self, store: BaseStore, out: TextIO) -> None:
        self.store = store
        self.out = out

    def say(self, text: str) -> None:
        self.out.write(f"  {text}\n")
        self.out.flush()

    def show(self, call: str, result: str) -> None:
        self.out.write(f"  {call:<36} -> {result}\n")
        self.out.flush()

    def heading(self, number: int, title: str) -> None:
        self.out.write(f"\n{number}. {title}\n")
        self.out.flush()

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoError(f"demo: expected {what}")

    # ------------------------------------------------------------------ sections

    def crud(self) -> None:
        store = self.store
        revision = store.put("greeting", b"hello")
        self.show("put greeting = b'hello'", f"revision {revision}")
        self.expect(store.get("greeting") == b"hello", "get to return what put wrote")
        self.show("get greeting", f"{store.get('greeting')!r}")
        store.put("greeting", b"hello again")
        kv = store.get_kv("greeting")
        assert kv is not None
        self.expect(kv.version == 2, "version 2 after two puts")
        self.show(
            "put greeting again; get_kv greeting",
            f"version {kv.version}, created at {kv.create_revision}, modified at {kv.mod_revision}",
        )
        old = store.get_with_revision("greeting", revision)
        self.expect(old == b"hello", "the value at the first revision")
        self.show(f"get_with_revision(greeting, {revision})", f"{old!r} (history)")
        created = store.put_if_not_exists("greeting", b"ignored")
        self.expect(not created, "put_if_not_exists to refuse an existing key")
        self.show("put_if_not_exists greeting", f"{created}")
        swapped = store.compare_and_swap("greeting", b"hello again", b"bonjour")
        self.expect(swapped and store.get("greeting") == b"bonjour", "compare_and_swap")
        self.show("compare_and_swap(b'hello again', b'bonjour')", f"{swapped}")
        store.move_key("greeting", "salutation")
        self.expect(not store.exists("greeting"), "move_key to remove the source")
        self.show("move_key(greeting, salutation)", f"salutation = {store.get('salutation')!r}")
        self.show("delete salutation", f"{store.delete('salutation')} key(s)")
        try:
            store.get("salutation")
        except KeyNotFoundError as exc:
            self.show("get salutation", f"KeyNotFoundError: {exc}")
        else:
            raise DemoError("demo: expected KeyNotFoundError for a deleted key")

    def prefixes(self) -> None:
        store = self.store
        config = dict(SAMPLE_CONFIG)
        store.bulk_put(config)
        self.show(f"bulk_put {len(config)} keys under config/", "one atomic transaction")
        keys = store.list("config/")
        self.expect(keys == sorted(config), "list to return every key in order")
        self.show("list config/", f"{keys}")
        self.show("count config/db/", f"{store.count('config/db/')}")
        self.show("get_multiple config/db/", f"{store.get_multiple('config/db/')}")
        first = store.get_keys_with_prefix("config/", 2)
        self.show("get_keys_with_prefix config/, 2", f"{first}")
        matching = store.get_keys_by_pattern("config/", "db")
        self.show("get_keys_by_pattern config/, 'db'", f"{matching}")
        in_range = store.get_range("config/cache/", "config/db/")
        self.show("get_range [config/cache/, config/db/)", f"{in_range}")
        deleted = store.delete_prefix("config/")
        self.expect(deleted == len(config) and store.count("config/") == 0, "delete_prefix")
        self.show("delete_prefix config/", f"{deleted} key(s)")

    def watch(self) -> None:
        store = self.store
        start = store.put("jobs/warmup", b"start")
        with store.watch_prefix("jobs/", prev_kv=True) as watch:
            store.put("jobs/1", b"queued")
            store.put("jobs/1", b"running")
            store.delete("jobs/1")
            for _ in range(3):
                event = watch.next_event(timeout=10)
                if event is None:
                    raise DemoError("demo: expected a watch event within 10 s")
                was = f" (was {event.prev_kv.value!r})" if event.prev_kv is not None else ""
                value = f" = {event.kv.value!r}" if event.type is EventType.PUT else ""
                self.show(
                    f"event at revision {event.revision}",
                    f"{event.type.value} {event.kv.key}{value}{was}",
                )
        with store.watch_prefix("jobs/", start_revision=start) as replay:
            first = replay.next_event(timeout=10)
        self.expect(first is not None and first.revision == start, "a replayed event")
        assert first is not None
        self.show(
            f"watch_prefix jobs/ from revision {start}",
            f"replays history: {first.type.value} {first.kv.key}",
        )
        store.delete_prefix("jobs/")

    def locking(self) -> None:
        store = self.store
        lock = store.new_lock("locks/report", ttl=10)
        rival = store.new_lock("locks/report", ttl=10)
        try:
            with lock:
                token = lock.fencing_token
                self.show("lock locks/report acquired", f"fencing token {token}")
                got = rival.try_lock()
                self.expect(not got, "a second Lock object to be excluded")
                self.show("another Lock try_lock (held)", f"{got}")
                fenced = (
                    store.transaction()
                    .if_(lock.guard())
                    .then(Put("reports/daily", b"written by the lock holder"))
                    .commit()
                )
                self.expect(fenced.succeeded, "a fenced write by the holder to succeed")
                self.show("fenced write guarded by the lock", f"succeeded={fenced.succeeded}")
            self.say("lock released (leaving the with block)")
            got = rival.try_lock()
            self.expect(got, "the rival to get the free lock")
            rival_token = rival.fencing_token
            self.expect(rival_token > token, "fencing tokens to increase")
            self.show("the other Lock try_lock (free)", f"{got}, token {rival_token}")
            rival.unlock()
        finally:
            lock.close()
            rival.close()
        store.delete_prefix("reports/")

    def leases(self) -> None:
        store = self.store
        with store.lease(30) as lease:
            self.show("lease(30)", f"{lease!r}")
            store.put_with_lease("sessions/alice", b"online", lease)
            self.show("put_with_lease; lease.keys()", f"{lease.keys()}")
            self.show("lease.remaining_ttl()", f"{lease.remaining_ttl()} s")
            keepalive = store.keep_alive(lease)
            self.say("keep_alive(lease) renews it every TTL/3 in the background")
            keepalive.stop()
        self.expect(not store.exists("sessions/alice"), "revoking to delete the lease's keys")
        self.show("leave the with block: lease revoked", "sessions/alice is gone")
        short = store.lease(2)
        store.put_with_lease("sessions/bob", b"online", short)
        self.say("lease(2) with sessions/bob, not kept alive: waiting for it to expire ...")
        deadline = time.monotonic() + 10
        while store.exists("sessions/bob") and time.monotonic() < deadline:
            sleep(0.2)
        self.expect(not store.exists("sessions/bob"), "the key to go when its lease expires")
        self.show("... lease expired", "sessions/bob is gone")

    def transactions(self) -> None:
        store = self.store
        store.bulk_put({"accounts/alice": b"100", "accounts/bob": b"20"})
        alice = store.get_kv("accounts/alice")
        bob = store.get_kv("accounts/bob")
        assert alice is not None and bob is not None
        transfer = (
            store.transaction()
            .if_(
                ModRevision("accounts/alice") == alice.mod_revision,
                ModRevision("accounts/bob") == bob.mod_revision,
            )
            .then(Put("accounts/alice", b"70"), Put("accounts/bob", b"50"))
            .else_(Get("accounts/alice"))
            .commit()
        )
        self.expect(transfer.succeeded, "the transfer to commit")
        self.say(
            f"transfer 30 alice->bob if unchanged  -> succeeded={transfer.succeeded} "
            f"at revision {transfer.revision} (both writes, one revision)"
        )
        stale = (
            store.transaction()
            .if_(Value("accounts/alice") == b"100")
            .then(Put("accounts/alice", b"0"))
            .else_(Get("accounts/alice"))
            .commit()
        )
        self.expect(not stale.succeeded, "a compare on a stale value to fail")
        current = stale.responses[0]
        shown = current.kvs[0].value if isinstance(current, kvstore.RangeResult) else b"?"
        self.show("if alice == b'100' (stale) ... else get", f"succeeded=False, alice={shown!r}")
        created = (
            store.transaction()
            .if_(Version("accounts/carol") == 0)
            .then(Put("accounts/carol", b"0"))
            .commit()
        )
        self.show("create carol if absent (Version == 0)", f"succeeded={created.succeeded}")
        store.delete_prefix("accounts/")

    def encryption(self) -> None:
        from kvstore.wrappers.encryption import EncryptedStore, Keyring

        plain = self.store
        old_key, new_key = Keyring.generate_key(), Keyring.generate_key()
        keyring = Keyring({1: old_key}, primary=1)
        secret_store = EncryptedStore(plain, keyring)
        secret_store.put("secrets/api-token", b"s3cr3t")
        raw = plain.get("secrets/api-token")
        self.expect(b"s3cr3t" not in raw, "the stored value to be ciphertext")
        self.show(
            "EncryptedStore put secrets/api-token", f"stored: {raw[:8]!r}... ({len(raw)} bytes)"
        )
        self.show("EncryptedStore get", f"{secret_store.get('secrets/api-token')!r}")
        self.show("repr(keyring) (never shows key bytes)", f"{keyring!r}")
        rotated = EncryptedStore(plain, Keyring({1: old_key, 2: new_key}, primary=2))
        self.expect(rotated.get("secrets/api-token") == b"s3cr3t", "old values to decrypt")
        self.say("rotation: key 2 is primary; values under key 1 still decrypt")
        report = rotated.reencrypt("secrets/")
        self.expect(report.rewritten == 1, "reencrypt to rewrite the one stale value")
        count = report.rewritten
        self.show("reencrypt('secrets/')", f"rewrote {count} value(s) with key 2")
        only_new = EncryptedStore(plain, Keyring({2: new_key}, primary=2))
        self.expect(only_new.get("secrets/api-token") == b"s3cr3t", "key 1 to be retirable")
        self.say("key 1 retired: a store with only key 2 reads the value")
        plain.delete_prefix("secrets/")


_SECTIONS: tuple[tuple[str, Callable[[_Demo], Done]], ...] = (
    ("CRUD: put, get, history, compare-and-swap, move, delete", _Demo.crud),
    ("Prefix operations: bulk put, list, count, ranges, delete prefix", _Demo.prefixes),
    ("Watch: a live stream of changes, and replay from a revision", _Demo.watch),
    ("Locking: mutual exclusion with fencing tokens", _Demo.locking),
    ("Leases: keys that live as long as their owner", _Demo.leases),
    ("Transactions: compare, then act, atomically", _Demo.transactions),
    ("Encryption: AES-256-GCM values, key rotation, re-encryption", _Demo.encryption),
)


def run(url: str | None = None, *, out: TextIO | None = None) -> int:
    """Run the demo on ``url``, or on a throwaway local etcd when ``url`` is ``None``.

    Args:
        url: The store URL (``memory://``, ``etcd://host:port`` ...).
        out: Where the walkthrough is written (default stdout).

    Returns:
        0 when every section ran as documented.

    Raises:
        DemoError: A step misbehaved, or the local etcd could not be started.
        KVStoreError: The store failed a call (for example ``UnavailableError``).
    """
    stream = out if out is not None else sys.stdout
    with contextlib.ExitStack() as stack:
        if url is None:
            url = stack.enter_context(throwaway_etcd(stream))
        base = stack.enter_context(kvstore.open(url))
        namespace = f"kvstore-demo-{secrets.token_hex(4)}/"
        store = NamespacedStore(base, namespace)
        stream.write(f"kvstore demo on {redact_url(url)}, every key under {namespace!r}\n")
        demo = _Demo(store, stream)
        try:
            for number, (title, section) in enumerate(_SECTIONS, start=1):
                demo.heading(number, title)
                section(demo)
        finally:
            with contextlib.suppress(KVStoreError):
                base.delete_prefix(namespace)
        stream.write("\nDone: every section ran as documented.\n")
    return 0


SAMPLE_SECRET_KEY_ID = 7
"""The key id of the random key ``seeded`` encrypts its secret with when given no keys."""


@contextlib.contextmanager
def seeded(store: BaseStore, *, keyring: Keyring | None = None) -> Iterator[None]:
    """Fill ``store`` with the demo's sample data, and hold a lock and lead an election
    while the block runs (``kvstore ui --demo`` shows it).

    Written: ``SAMPLE_CONFIG``, a JSON document (``config/service.json``), accounts with a
    history of several versions (``accounts/alice``, ``accounts/bob``), jobs, a binary value
    (``blobs/logo.bin``), ``sessions/alice`` on a 300 s lease kept alive, and
    ``secrets/api-token`` encrypted with ``keyring``'s primary key (or with a random key of
    id ``SAMPLE_SECRET_KEY_ID``, which nothing else holds). Held until the block ends: the
    lock ``reports/nightly`` and the leadership of the election ``scheduler``
    (value ``b"worker-1"``); the lease is revoked then, the keys stay.

    Args:
        store: The store to fill (the keys are written at the top level).
        keyring: The keys to encrypt the sample secret with.

    Raises:
        KVStoreError: The store failed a call.
    """
    from kvstore.wrappers.encryption import EncryptedStore

    store.bulk_put(SAMPLE_CONFIG)
    service = {"name": "billing", "replicas": 3, "endpoints": ["10.0.0.7:8080", "10.0.0.8:8080"]}
    store.put("config/service.json", json.dumps(service).encode())
    for balance in (b"100", b"70", b"55"):
        store.put("accounts/alice", balance)
    store.put("accounts/bob", b"20")
    for number, state in ((1, b"done"), (2, b"running"), (3, b"queued")):
        store.put(f"jobs/{number}", state)
    store.put("blobs/logo.bin", bytes(range(0, 256, 7)) + b"\x00\xff")
    secret_keys = keyring or Keyring.single(Keyring.generate_key(), key_id=SAMPLE_SECRET_KEY_ID)
    EncryptedStore(store, secret_keys).put("secrets/api-token", b"s3cr3t")
    lease = store.lease(300)
    try:
        store.put("sessions/alice", b"online", lease=lease)
        keepalive = store.keep_alive(lease)
        lock = store.new_lock("reports/nightly", ttl=30)
        election = store.new_election("scheduler", ttl=30)
        try:
            lock.lock(timeout=10)
            election.campaign(b"worker-1", timeout=10)
            yield
        finally:
            election.close()
            lock.close()
            keepalive.stop()
    finally:
        lease.revoke()


def main(argv: list[str] | None = None) -> int:
    """``python -m kvstore.cli._sync.demo [URL]``: the walkthrough, as ``kvstore demo [--url URL]``
    (``kvstore demo --async`` runs the asyncio one).

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0, or 1 after one ``kvstore demo: error: ...`` line on stderr.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return run(args[0] if args else None)
    except (DemoError, KVStoreError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(f"kvstore demo: error: {ascii(reason)[1:-1]}\n")  # escaped, one line
        return 1


if __name__ == "__main__":
    sys.exit(main())
