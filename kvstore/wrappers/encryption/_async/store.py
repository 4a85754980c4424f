"""``AsyncEncryptedStore``: a wrapper store that encrypts every value with AES-256-GCM.

It is a ``AsyncValueMappingStore``: it supplies ``encode`` (seal) and ``decode`` (open) and the
base maps every primitive that carries values, so every convenience of ``AsyncBaseStore``
goes through them. See the ``kvstore.wrappers.encryption`` package docstring for the format.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from kvstore._async.base import AsyncBaseStore
from kvstore.errors import (
    ConfigurationError,
    DecryptionError,
    InvalidArgumentError,
    KeyNotFoundError,
    ValueTooLargeError,
)
from kvstore.keys import REQUEST_OVERHEAD_BYTES, check_key, is_int
from kvstore.txn import ModRevision, Put, Txn
from kvstore.types import (
    KeyValue,
    TxnResult,
)
from kvstore.wrappers._async.mapping import AsyncValueMappingStore
from kvstore.wrappers.encryption.envelope import (
    OVERHEAD_BYTES,
    has_magic,
    open_envelope,
    read_header,
    seal,
)
from kvstore.wrappers.encryption.keyring import Keyring
from kvstore.wrappers.encryption.report import EnvelopeInfo, ReencryptReport

__all__ = ["AsyncEncryptedStore", "EnvelopeInfo", "ReencryptReport"]

logger = logging.getLogger("kvstore.wrappers.encryption")

ProgressCallback = Callable[[int, int], object]

_DEFAULT_BATCH = 64


class AsyncEncryptedStore(AsyncValueMappingStore):
    """A store whose values are encrypted with AES-256-GCM before they reach ``inner``.

    Gets, ranges, revision reads, transactions (puts encrypted, get responses and
    ``prev_kv`` decrypted) and watch events (``kv`` and ``prev_kv``) are all covered.
    Keys, revisions, leases and counts are not encrypted. Reads sorted by value
    (``SortTarget.VALUE``) are refused: the server would sort ciphertexts.

    Args:
        inner: The store to wrap.
        keyring: The keys; a bare 32-byte key is taken as ``Keyring.single(key)``.
        allow_plaintext: Return values without the ``kve`` magic as they are (for
            migrating a store that held plaintext); values with the magic that fail to
            decrypt still raise.

    Raises:
        ConfigurationError: ``keyring`` is missing or not a ``Keyring`` / 32-byte key,
            or ``inner`` is not a store.

    Attributes:
        value_overhead: Bytes the envelope adds to each value (37).
    """

    value_overhead: int = OVERHEAD_BYTES
    value_hint = "stored values are random ciphertexts"
    size_hint = f"values are encrypted: the envelope adds {OVERHEAD_BYTES} bytes to each"

    def __init__(
        self, inner: AsyncBaseStore, keyring: Keyring | bytes, *, allow_plaintext: bool = False
    ) -> None:
        super().__init__(inner)
        self.keyring = keyring  # the setter checks it and converts a bare key
        self.allow_plaintext = bool(allow_plaintext)

    @property
    def keyring(self) -> Keyring:
        """The keys; assign a new ``Keyring`` to rotate without reopening the store.

        Raises:
            ConfigurationError: On assignment of something that is not a ``Keyring`` or
                a 32-byte key.
        """
        return self._keyring

    @keyring.setter
    def keyring(self, keyring: Keyring | bytes) -> None:
        if isinstance(keyring, (bytes, bytearray)):
            keyring = Keyring.single(bytes(keyring))
        if not isinstance(keyring, Keyring):
            raise ConfigurationError(
                "AsyncEncryptedStore: encryption needs a Keyring or a 32-byte key, not "
                f"{type(keyring).__name__} (there is no plaintext fallback)"
            )
        self._keyring = keyring

    def __repr__(self) -> str:
        return (
            f"AsyncEncryptedStore({self.inner!r}, keyring={self._keyring!r}, "
            f"allow_plaintext={self.allow_plaintext})"
        )

    # ------------------------------------------------------------------ values

    def _seal(self, key: str, plaintext: bytes) -> bytes:
        keyring = self._keyring
        return seal(keyring.primary_cipher(), keyring.primary, key, plaintext)

    def _open(self, key: str, value: bytes, operation: str) -> bytes:
        if not has_magic(value):
            if self.allow_plaintext:
                return value
            raise DecryptionError(
                f"{operation}: the value of key {key!r} is not encrypted (no 'kve' envelope); "
                "plaintext is refused unless allow_plaintext=True",
                key=key,
                operation=operation,
            )
        return open_envelope(self._keyring.cipher, key, value, operation=operation)

    def _check_size(self, key: str, plaintext: bytes, operation: str) -> None:
        """Refuse a put whose envelope is over the limit, saying the envelope is why."""
        key_bytes = len(key.encode())
        size = key_bytes + len(plaintext) + OVERHEAD_BYTES
        limit = self.max_request_bytes - REQUEST_OVERHEAD_BYTES
        if size > limit:
            raise ValueTooLargeError(
                f"{operation}: key {key!r} with a {len(plaintext)}-byte value is {size} "
                f"bytes once encrypted (the envelope adds {OVERHEAD_BYTES} bytes), over the "
                f"request limit of {limit} bytes; at most "
                f"{max(limit - key_bytes - OVERHEAD_BYTES, 0)} bytes fit at this key",
                key=key,
                operation=operation,
            )

    # ------------------------------------------------------------------ the mapping

    def encode(self, key: str, value: bytes) -> bytes:
        return self._seal(key, value)

    def decode(self, key: str, stored: bytes, operation: str) -> bytes:
        """Decrypt ``stored``.

        Returns:
            The plaintext value (or ``stored`` itself, a plaintext value, with ``allow_plaintext``).

        Raises:
            DecryptionError: The value is plaintext (without ``allow_plaintext``), was
                encrypted for another key, or is corrupt.
        """
        return self._open(key, stored, operation)

    def encode_put(self, put: Put, operation: str) -> Put:
        self._check_size(put.key, put.value, operation)
        return attrs.evolve(put, value=self._seal(put.key, put.value))

    # ------------------------------------------------------------------ rotation

    async def inspect(self, key: str) -> EnvelopeInfo:
        """Which key encrypted the value at ``key`` (reads the header; decrypts nothing).

        Returns:
            An ``EnvelopeInfo``: the id of the key that encrypted the value (``None``: plaintext),
            the keyring's primary id, and the key's mod revision.

        Raises:
            KeyNotFoundError: The key does not exist.
            DecryptionError: The value has the magic but a truncated or unknown header,
                or is plaintext and ``allow_plaintext`` is not set.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        self._check_open("inspect")
        check_key(key, operation="inspect")
        result = await self.inner.kv_range(key)
        if not result.kvs:
            raise KeyNotFoundError(f"inspect: key {key!r} not found", key=key, operation="inspect")
        return self._inspect_kv(result.kvs[0], "inspect")

    def _inspect_kv(self, kv: KeyValue, operation: str) -> EnvelopeInfo:
        primary = self._keyring.primary
        if not has_magic(kv.value) and self.allow_plaintext:
            return EnvelopeInfo(kv.key, None, primary, kv.mod_revision)
        header = read_header(kv.key, kv.value, operation=operation)
        return EnvelopeInfo(kv.key, header.key_id, primary, kv.mod_revision)

    async def is_stale(self, key: str) -> bool:
        """Whether the value at ``key`` is not encrypted with the primary key.

        Returns:
            ``True`` if the value was encrypted with another key than the primary, or is plaintext;
            ``False`` if the primary encrypted it.

        Raises:
            KeyNotFoundError: The key does not exist.
            DecryptionError: The value has the magic but a truncated or unknown header,
                or is plaintext and ``allow_plaintext`` is not set.
            InvalidKeyError: ``key`` is not a valid key.
            StoreClosedError: The store was closed.
            BackendError: The backend failed the call (``UnavailableError``: no endpoint answered;
                ``OperationTimeoutError``: no answer within the request timeout).
        """
        return (await self.inspect(key)).stale

    async def reencrypt(
        self,
        prefix: str,
        *,
        progress: ProgressCallback | None = None,
        batch_size: int = _DEFAULT_BATCH,
    ) -> ReencryptReport:
        """Rewrite every value under ``prefix`` not encrypted with the primary key.

        Values are read raw from ``inner`` (to learn their key ids), decrypted, and
        written back encrypted with the primary key, each write guarded by the value's
        mod revision (``ModRevision(key) == kv.mod_revision``), so a value changed
        meanwhile is never overwritten: it is reported in ``skipped``. Leases are kept.
        Up to ``batch_size`` guarded writes share one transaction (as nested txns, each
        with its own guard). With ``allow_plaintext=True`` plaintext values are encrypted
        too: that is the migration path. Values that cannot be decrypted are reported in
        ``failed`` and left alone.

        Args:
            prefix: The keys to rewrite (``""``: every key).
            progress: Called as ``progress(done, total)`` after each batch, and once with
                ``done=0`` before the first; ``total`` is the key count at the start
                (raised if more keys appear). An exception from it stops the rewrite.
            batch_size: Most rewrites per transaction (1: a transaction per key).

        Returns:
            A ``ReencryptReport``.

        Raises:
            InvalidArgumentError: ``batch_size`` is not a positive int.
            InvalidKeyError: ``prefix`` is not a ``str``.
            StoreClosedError: The store was closed.
            BackendError: The backend failed a call (values rewritten before stay so).
        """
        self._check_open("reencrypt")
        if not is_int(batch_size, minimum=1):
            raise InvalidArgumentError(
                f"reencrypt: batch_size must be a positive int, not {batch_size!r}",
                operation="reencrypt",
            )
        start, end = self._prefix_bounds(prefix, "reencrypt")
        run = _Reencryption(self, min(batch_size, self.max_txn_ops), progress)
        run.total = (await self.inner.kv_range(start, end, count_only=True)).count
        run.report_progress()
        while True:
            page = await self.inner.kv_range(start, end, limit=self.range_page_size)
            for kv in page.kvs:
                await run.examine(kv)
            await run.flush()
            if not page.more or not page.kvs:
                break
            start = page.kvs[-1].key + "\0"
        report = run.report()
        logger.debug(
            "reencrypt %r: %d examined, %d rewritten with key id %d, %d current, "
            "%d skipped, %d failed",
            prefix,
            report.examined,
            report.rewritten,
            report.key_id,
            report.current,
            len(report.skipped),
            len(report.failed),
        )
        return report


class _Reencryption:
    """The state of one ``reencrypt`` run: counts, the pending batch, progress."""

    def __init__(
        self, store: AsyncEncryptedStore, batch_size: int, progress: ProgressCallback | None
    ) -> None:
        self.store = store
        self.keyring = store.keyring  # one keyring for the whole run, even if rotated meanwhile
        self.batch_size = batch_size
        self.progress = progress
        self.request_limit = store.max_request_bytes - REQUEST_OVERHEAD_BYTES
        # half the request limit leaves room for the framing of up to max_txn_ops ops
        self.batch_bytes = self.request_limit // 2
        self.total = 0
        self.done = 0
        self.rewritten = 0
        self.current = 0
        self.skipped: list[str] = []
        self.failed: list[str] = []
        self.revision = 0
        self.pending: list[tuple[KeyValue, bytes]] = []
        self.pending_bytes = 0

    def report_progress(self) -> None:
        self.total = max(self.total, self.done)
        if self.progress is not None:
            self.progress(self.done, self.total)

    async def examine(self, kv: KeyValue) -> None:
        primary = self.keyring.primary
        try:
            if (
                has_magic(kv.value)
                and read_header(kv.key, kv.value, operation="reencrypt").key_id == primary
            ):
                self.current += 1
                self.done += 1
                return
            plaintext = self.store._open(kv.key, kv.value, "reencrypt")
        except DecryptionError:
            self.failed.append(kv.key)
            self.done += 1
            return
        sealed = seal(self.keyring.primary_cipher(), primary, kv.key, plaintext)
        if len(kv.key.encode()) + len(sealed) > self.request_limit:
            self.failed.append(kv.key)  # a plaintext value too large to gain an envelope
            self.done += 1
            return
        size = 2 * len(kv.key.encode()) + len(sealed)
        if self.pending and (
            len(self.pending) >= self.batch_size or self.pending_bytes + size > self.batch_bytes
        ):
            await self.flush()
        self.pending.append((kv, sealed))
        self.pending_bytes += size

    async def flush(self) -> None:
        if not self.pending:
            self.report_progress()
            return
        batch, self.pending, self.pending_bytes = self.pending, [], 0
        guarded = [
            (
                [ModRevision(kv.key) == kv.mod_revision],
                [Put(kv.key, sealed, lease=kv.lease or None)],
            )
            for kv, sealed in batch
        ]
        inner = self.store.inner
        if len(guarded) == 1:
            compares, puts = guarded[0]
            result = await inner.kv_txn(compares, puts, [])
            outcomes = [result.succeeded]
        else:
            result = await inner.kv_txn(
                [], [Txn(compares, puts, []) for compares, puts in guarded], []
            )
            outcomes = [
                isinstance(response, TxnResult) and response.succeeded
                for response in result.responses
            ]
        for (kv, _), written in zip(batch, outcomes, strict=True):
            if written:
                self.rewritten += 1
            else:
                self.skipped.append(kv.key)
        if any(outcomes):
            self.revision = result.revision
        self.done += len(batch)
        self.report_progress()

    def report(self) -> ReencryptReport:
        return ReencryptReport(
            key_id=self.keyring.primary,
            examined=self.done,
            rewritten=self.rewritten,
            current=self.current,
            skipped=tuple(self.skipped),
            failed=tuple(self.failed),
            revision=self.revision,
        )
