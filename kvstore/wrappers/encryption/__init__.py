"""Client-side encryption: ``EncryptedStore`` wraps any store and encrypts every value.

::

    from kvstore import EncryptedStore, Keyring

    store = EncryptedStore(inner, Keyring.from_env("KVSTORE_ENCRYPTION_KEY"))
    store.put("db/password", b"hunter2")   # inner holds an envelope, not the value

What is covered: every value that goes in or comes out, through the five primitives that
carry values (``kv_range``, ``kv_put``, ``kv_delete_range``, ``kv_txn``, ``watch_range``),
so every convenience (``get``, ``get_multiple``, ``get_range``, ``get_with_revision``,
``bulk_put``, ``move_key``, ``compare_and_swap``, ``put_if_not_exists``, locks, watches,
transactions) is encrypted. Keys, revisions, versions, leases and value sizes (plus 37)
are visible to the server. Value compares in transactions (``Value(key) == ...``) raise
``UnsupportedCompareError``: every write gets a fresh nonce, so equal values have
different ciphertexts. ``compare_and_swap`` works: it reads, compares the plaintext here,
then writes guarded by the mod revision.

Envelope, version 1 (integers big-endian)::

    b"kve" | version 0x01 | algorithm 0x01 (AES-256-GCM) | key id (uint32) |
    nonce (12 random bytes) | ciphertext (as long as the value) | tag (16 bytes)

    AAD = the 9 header bytes (magic, version, algorithm, key id) + the key name (UTF-8)

An envelope is 37 bytes longer than the value. The AAD binds each value to its key name
and header: a value copied or moved to another key (behind the store's back), a changed
byte anywhere, a truncated envelope, an unknown version, algorithm or key id all raise
``DecryptionError`` naming the key; nothing is ever returned unauthenticated. ``move_key``
through the store works, because it decrypts and re-encrypts under the new name. The key
name bound is the one this store sees: wrapped inside a ``NamespacedStore`` that is the
name without the namespace prefix, wrapping one it is the name with it.

Keys: exactly 32 bytes each (anything else is a ``ConfigurationError``), in a
``Keyring`` of integer ids with one primary. The primary encrypts writes; every key
decrypts. Random 96-bit nonces are safe up to about 2**32 writes per key: rotate well
before that. ``Keyring.from_file`` / ``from_env`` read hex or base64 key text (never put
key material in a URL). Key material never appears in a ``repr``, error or log message.

Rotation: ``store.keyring = store.keyring.rotate(2, new_key)`` (or reopen with the new
keyring); values written under key 1 keep reading. ``store.reencrypt(prefix,
progress=...)`` then rewrites every value not under the primary, each write guarded by
the value's mod revision so a concurrent update is never overwritten (it is reported as
skipped). ``store.inspect(key)`` / ``is_stale(key)`` tell which key encrypted a value.
When ``reencrypt`` reports nothing skipped or failed, the old key can be dropped
(``keyring.without(1)``).

Migrating a store that holds plaintext: open it with ``allow_plaintext=True`` (values
without the ``kve`` magic are then returned as they are; values with it that fail still
raise), run ``reencrypt("")`` until it reports nothing skipped, then reopen without
``allow_plaintext``. A plaintext value that happens to start with ``b"kve"`` cannot be
read this way: rewrite it through the store first.
"""

from __future__ import annotations

from kvstore.wrappers.encryption._async.store import AsyncEncryptedStore
from kvstore.wrappers.encryption._sync.store import EncryptedStore
from kvstore.wrappers.encryption.envelope import OVERHEAD_BYTES, EnvelopeHeader
from kvstore.wrappers.encryption.keyring import DEFAULT_KEY_ENV, Keyring
from kvstore.wrappers.encryption.report import EnvelopeInfo, ReencryptReport

__all__ = [
    "DEFAULT_KEY_ENV",
    "OVERHEAD_BYTES",
    "AsyncEncryptedStore",
    "EncryptedStore",
    "EnvelopeHeader",
    "EnvelopeInfo",
    "Keyring",
    "ReencryptReport",
]
