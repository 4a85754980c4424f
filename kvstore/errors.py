"""The kvstore error tree: every error a store raises derives from ``KVStoreError``.

::

    KVStoreError
    ├── KeyNotFoundError            (also KeyError)
    ├── KeyExistsError
    ├── CompactedError              (.compact_revision)
    ├── InvalidArgumentError        (also ValueError)
    │   ├── InvalidKeyError
    │   └── ValueTooLargeError
    ├── LeaseError
    │   ├── LeaseNotFoundError
    │   └── LeaseExpiredError
    ├── LockError
    │   ├── LockNotHeldError
    │   ├── LockLostError
    │   └── LockTimeoutError        (also TimeoutError)
    ├── TransactionError
    │   ├── TransactionTooLargeError
    │   ├── DuplicateKeyError
    │   ├── UnsupportedCompareError
    │   └── STMConflictError        (.attempts)
    ├── UnsupportedOperationError
    ├── EncryptionError
    │   └── DecryptionError
    ├── CompressionError
    ├── BackendError
    │   ├── UnavailableError
    │   ├── OperationTimeoutError   (also TimeoutError)
    │   ├── IndeterminateError
    │   ├── AuthenticationError
    │   └── PermissionDeniedError
    ├── ConfigurationError
    ├── StoreClosedError
    ├── BackendNotFoundError
    └── PluginLoadError

Every error carries the ``key`` and ``operation`` it concerns (either may be ``None``),
keeps its cause (``raise ... from exc``) and pickles. Messages name keys and operations,
never a password, token or encryption key.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BackendError",
    "BackendNotFoundError",
    "CompactedError",
    "CompressionError",
    "ConfigurationError",
    "DecryptionError",
    "DuplicateKeyError",
    "EncryptionError",
    "IndeterminateError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "KVStoreError",
    "KeyExistsError",
    "KeyNotFoundError",
    "LeaseError",
    "LeaseExpiredError",
    "LeaseNotFoundError",
    "LockError",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "PluginLoadError",
    "STMConflictError",
    "StoreClosedError",
    "TransactionError",
    "TransactionTooLargeError",
    "UnavailableError",
    "UnsupportedCompareError",
    "UnsupportedOperationError",
    "ValueTooLargeError",
]


class KVStoreError(Exception):
    """Root of every error raised by kvstore and its backends.

    Args:
        message: A human-readable description; never contains a secret.
        key: The key the failed call was about, if any.
        operation: The name of the failed call (``"get"``, ``"txn"``, ...), if known.
    """

    def __init__(
        self, message: str, *, key: str | None = None, operation: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.operation = operation

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[KVStoreError], message: str, state: dict[str, Any]) -> KVStoreError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class KeyNotFoundError(KVStoreError, KeyError):
    """The key does not exist (also a ``KeyError``, so ``except KeyError`` works)."""

    def __str__(self) -> str:  # KeyError.__str__ would quote the message
        return self.message


class KeyExistsError(KVStoreError):
    """The key exists and the call asked not to overwrite it."""


class CompactedError(KVStoreError):
    """The requested revision was compacted away.

    Attributes:
        compact_revision: The store's compact revision: the oldest revision still readable.
    """

    def __init__(
        self,
        message: str,
        *,
        compact_revision: int,
        key: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message, key=key, operation=operation)
        self.compact_revision = compact_revision


class InvalidArgumentError(KVStoreError, ValueError):
    """An argument was rejected before anything was stored (also a ``ValueError``)."""


class InvalidKeyError(InvalidArgumentError):
    """The key is not a non-empty ``str``."""


class ValueTooLargeError(InvalidArgumentError):
    """The request (key plus value) is over the store's request size limit."""


class LeaseError(KVStoreError):
    """Base class of lease errors."""


class LeaseNotFoundError(LeaseError):
    """The lease id is unknown to the store (never granted, revoked or expired)."""


class LeaseExpiredError(LeaseError):
    """The lease expired while it was being kept alive."""


class LockError(KVStoreError):
    """Base class of the errors of every coordination recipe (``kvstore.recipes``).

    Raised by locks, elections, readers-writer locks, semaphores, barriers and double
    barriers, queues' ``get`` and parties: an object used in a way its state forbids
    (already held, closed, a double barrier already full), and the subclasses below.
    """


class LockNotHeldError(LockError):
    """The call needs a hold (a lock, a leadership, a read or write hold, a semaphore's
    hold, a double barrier's membership) and it is not held."""


class LockLostError(LockError):
    """The session lease behind a hold or a wait expired (a lock, a leadership, a read or
    write hold, a semaphore, a double barrier, a party membership): someone else may hold
    it now."""


class LockTimeoutError(LockError, TimeoutError):
    """A recipe's wait reached its timeout: whatever the wait was for did not come in time.

    The waits of every recipe raise it: ``lock``, ``campaign``, the ``with`` block of a
    read or write lock made with a ``timeout``, a double barrier's ``enter`` and
    ``leave``, and a queue's ``get``. The ``acquire(timeout)`` of read and write locks and
    semaphores returns ``False`` instead, as a barrier's ``wait`` does; a party's ``join``
    does not wait. A waiter that times out leaves no key behind.
    """


class TransactionError(KVStoreError):
    """A transaction was rejected before it was applied."""


class TransactionTooLargeError(TransactionError):
    """A transaction has more operations than the store's ``max_txn_ops``."""


class DuplicateKeyError(TransactionError):
    """A transaction writes the same key twice (two puts, or a put inside a delete range)."""


class UnsupportedCompareError(TransactionError):
    """The store cannot evaluate this compare (for example a value compare on ciphertext)."""


class STMConflictError(TransactionError):
    """A software transaction (``store.stm``) kept conflicting and was given up.

    Every attempt found keys it had read (or, under ``"serializable_snapshot"``, keys it
    wrote) changed by another writer before it could commit; after the allowed retries
    nothing of it was applied.

    Attributes:
        attempts: How many times ``apply`` ran.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        key: str | None = None,
        operation: str | None = "stm",
    ) -> None:
        super().__init__(message, key=key, operation=operation)
        self.attempts = attempts


class UnsupportedOperationError(KVStoreError):
    """The backend does not have the capability this call needs."""


class EncryptionError(KVStoreError):
    """Base class of encryption errors."""


class DecryptionError(EncryptionError):
    """A stored value could not be decrypted and authenticated for its key."""


class CompressionError(KVStoreError):
    """A value with ``CompressedStore``'s header cannot be decompressed."""


class BackendError(KVStoreError):
    """The backend (server, network, credentials) failed the call."""


class UnavailableError(BackendError):
    """No endpoint of the backend could be reached; nothing was written."""


class OperationTimeoutError(BackendError, TimeoutError):
    """A read or idempotent call did not finish within the request timeout."""


class IndeterminateError(BackendError):
    """A write may or may not have been applied: its outcome cannot be known.

    It is never retried blindly: read the key to learn the outcome.
    """


class AuthenticationError(BackendError):
    """The credentials were refused."""


class PermissionDeniedError(BackendError):
    """The authenticated user may not perform this call on this key."""


class ConfigurationError(KVStoreError):
    """A configuration value is missing or invalid."""


class StoreClosedError(KVStoreError):
    """The store was closed; it cannot be used any more."""


class BackendNotFoundError(KVStoreError):
    """No installed backend handles the URL scheme.

    Attributes:
        scheme: The scheme that was asked for.
        known: The schemes that are installed.
    """

    def __init__(
        self, message: str, *, scheme: str, known: tuple[str, ...], operation: str = "open"
    ) -> None:
        super().__init__(message, operation=operation)
        self.scheme = scheme
        self.known = known


class PluginLoadError(KVStoreError):
    """A backend plugin failed to import or register.

    Attributes:
        plugin: The entry-point name of the broken plugin.
    """

    def __init__(self, message: str, *, plugin: str, operation: str = "open") -> None:
        super().__init__(message, operation=operation)
        self.plugin = plugin
