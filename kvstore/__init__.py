"""kvstore: one typed key-value interface, with etcd v3 as the primary backend.

Applications type against ``KVStore``; production wires an ``EtcdStore``
(``kvstore_etcd``), unit tests a ``MemoryStore`` (``kvstore_memory``), and
``kvstore.open(url)`` builds either from a URL. The asyncio API is the same interface as
coroutines: ``AsyncKVStore``, ``kvstore.open_async(url)``, ``AsyncEtcdStore``,
``AsyncMemoryStore`` and an ``Async`` twin of every wrapper and recipe. Wrapper stores
(``NamespacedStore``, ``EncryptedStore``, ``CompressedStore``) are complete stores
themselves, built on the wrapper bases ``KeyMappingStore`` and ``ValueMappingStore``.
"""

from __future__ import annotations

from kvstore import txn
from kvstore._async.base import AsyncBaseStore, AsyncWrapperStore
from kvstore._async.compression import AsyncCompressedStore
from kvstore._async.lease import AsyncKeepAlive, AsyncLease
from kvstore._async.mirror import AsyncMirror, AsyncMirrorChanges
from kvstore._async.namespace import AsyncNamespacedStore
from kvstore._async.protocol import AsyncKVStore
from kvstore._async.watch import AsyncWatch
from kvstore._async.wrappers import AsyncKeyMappingStore, AsyncValueMappingStore
from kvstore.base import BaseStore, WrapperStore
from kvstore.compression import CompressedStore
from kvstore.encryption import (
    AsyncEncryptedStore,
    EncryptedStore,
    EnvelopeInfo,
    Keyring,
    ReencryptReport,
)
from kvstore.errors import (
    AuthenticationError,
    BackendError,
    BackendNotFoundError,
    CompactedError,
    CompressionError,
    ConfigurationError,
    DecryptionError,
    DuplicateKeyError,
    EncryptionError,
    IndeterminateError,
    InvalidArgumentError,
    InvalidKeyError,
    KeyExistsError,
    KeyNotFoundError,
    KVStoreError,
    LeaseError,
    LeaseExpiredError,
    LeaseNotFoundError,
    LockError,
    LockLostError,
    LockNotHeldError,
    LockTimeoutError,
    OperationTimeoutError,
    PermissionDeniedError,
    PluginLoadError,
    STMConflictError,
    StoreClosedError,
    TransactionError,
    TransactionTooLargeError,
    UnavailableError,
    UnsupportedCompareError,
    UnsupportedOperationError,
    ValueTooLargeError,
)
from kvstore.hookspecs import hookimpl
from kvstore.lease import KeepAlive, Lease
from kvstore.mirror import Mirror, MirrorChanges
from kvstore.namespace import NamespacedStore
from kvstore.plugins import backends, open_async
from kvstore.plugins import open_store as open  # noqa: A004 - the documented name
from kvstore.protocol import KVStore
from kvstore.recipes import (
    STM,
    AsyncElection,
    AsyncLeaderObserver,
    AsyncLock,
    AsyncSession,
    AsyncSTM,
    Election,
    LeaderObserver,
    Lock,
    Session,
)
from kvstore.txn import (
    AsyncTransactionBuilder,
    Compare,
    CreateRevision,
    Delete,
    Get,
    LeaseId,
    ModRevision,
    Put,
    TransactionBuilder,
    Txn,
    Value,
    Version,
)
from kvstore.types import (
    AlarmInfo,
    Capability,
    DeleteResult,
    EventType,
    HashInfo,
    KeyValue,
    LeaseGrant,
    LeaseInfo,
    MemberInfo,
    MirrorChange,
    PutResult,
    RangeResult,
    SortOrder,
    SortTarget,
    StatusInfo,
    TxnResult,
    WatchEvent,
)
from kvstore.watch import Watch, WatchRequest
from kvstore.wrappers import KeyMappingStore, ValueMappingStore

__version__ = "0.1.0"

__all__ = [
    "AlarmInfo",
    "AsyncBaseStore",
    "AsyncCompressedStore",
    "AsyncElection",
    "AsyncEncryptedStore",
    "AsyncKVStore",
    "AsyncKeepAlive",
    "AsyncKeyMappingStore",
    "AsyncLeaderObserver",
    "AsyncLease",
    "AsyncLock",
    "AsyncSTM",
    "AsyncNamespacedStore",
    "AsyncSession",
    "AsyncTransactionBuilder",
    "AsyncValueMappingStore",
    "AsyncMirror",
    "AsyncMirrorChanges",
    "AsyncWatch",
    "AsyncWrapperStore",
    "AuthenticationError",
    "BackendError",
    "BackendNotFoundError",
    "BaseStore",
    "Capability",
    "CompactedError",
    "Compare",
    "CompressedStore",
    "CompressionError",
    "ConfigurationError",
    "CreateRevision",
    "DecryptionError",
    "Delete",
    "DeleteResult",
    "DuplicateKeyError",
    "EncryptedStore",
    "Election",
    "EncryptionError",
    "EnvelopeInfo",
    "EventType",
    "Get",
    "HashInfo",
    "IndeterminateError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "KVStore",
    "KVStoreError",
    "KeepAlive",
    "KeyMappingStore",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "Keyring",
    "LeaderObserver",
    "Lease",
    "LeaseError",
    "LeaseExpiredError",
    "LeaseGrant",
    "LeaseId",
    "LeaseInfo",
    "LeaseNotFoundError",
    "Lock",
    "LockError",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "MemberInfo",
    "Mirror",
    "MirrorChange",
    "MirrorChanges",
    "ModRevision",
    "NamespacedStore",
    "OperationTimeoutError",
    "PermissionDeniedError",
    "PluginLoadError",
    "STM",
    "STMConflictError",
    "Put",
    "PutResult",
    "RangeResult",
    "ReencryptReport",
    "Session",
    "SortOrder",
    "SortTarget",
    "StatusInfo",
    "StoreClosedError",
    "TransactionBuilder",
    "TransactionError",
    "TransactionTooLargeError",
    "Txn",
    "TxnResult",
    "UnavailableError",
    "UnsupportedCompareError",
    "UnsupportedOperationError",
    "Value",
    "ValueMappingStore",
    "ValueTooLargeError",
    "Version",
    "Watch",
    "WatchEvent",
    "WatchRequest",
    "WrapperStore",
    "__version__",
    "backends",
    "hookimpl",
    "open",
    "open_async",
    "txn",
]
