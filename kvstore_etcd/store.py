"""``EtcdStore``: the etcd v3 backend, on etcd's generated gRPC stubs.

The primitives (``kv_range``, ``kv_put`` ... one gRPC call each) are ``EtcdBase``'s,
generated from the asyncio source ``kvstore_etcd/_async/_base.py`` (shared with
``AsyncEtcdStore``); every call goes through ``Caller`` (``kvstore_etcd._sync._calls``, also
generated), which holds the failover, retry and auth rules. What is the sync store's
own is here: its watches and keep-alives on one stream each, run by a thread of its own
(``kvstore_etcd._loop``), the python3-etcd3
client of ``get_client``, and closing.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Sequence
from typing import Any

from kvstore.errors import KVStoreError, StoreClosedError
from kvstore.watch import Watch, WatchRequest
from kvstore_etcd._coalesce import SyncReadCoalescer
from kvstore_etcd._errors import map_errors
from kvstore_etcd._loop import StreamLoop
from kvstore_etcd._metadata import Metadata
from kvstore_etcd._sync._base import EtcdBase
from kvstore_etcd._watch import EtcdWatch
from kvstore_etcd._watch_cursor import watch_cursor
from kvstore_etcd.config import EtcdConfig

__all__ = ["EtcdStore"]

_STREAM_SLACK_SECONDS = 5.0
"""How much longer than the request timeout a call handed to the stream thread may take."""


class EtcdStore(EtcdBase):
    """A ``KVStore`` on an etcd v3 cluster.

    Args:
        config: Endpoints, timeouts, credentials, TLS (default ``EtcdConfig()``:
            ``localhost:2379``). Connecting is lazy: the first call connects.

    Raises:
        ConfigurationError: A TLS or password file cannot be read, or a password variable
            is unset.
    """

    def __init__(self, config: EtcdConfig | None = None) -> None:
        super().__init__(config)
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._watches: weakref.WeakSet[Watch] = weakref.WeakSet()
        self._watches_lock = threading.Lock()
        self._streams: StreamLoop | None = None
        if self.config.coalesce_reads:
            self._coalescer = SyncReadCoalescer(self._caller, self.max_txn_ops)

    @property
    def _metadata_cache(self) -> Metadata:
        """The auth token metadata in use (tests check that it is renewed)."""
        return self._caller.metadata_cache

    # ------------------------------------------------------------------ watches

    def streams(self) -> StreamLoop:
        """The thread that runs the store's shared watch and keep-alive streams (started
        on first use).

        Returns:
            The store's ``StreamLoop`` (a thread running an event loop for its shared streams).

        Raises:
            StoreClosedError: The store was closed.
        """
        with self._watches_lock:
            self._check_open("watch")
            if self._streams is None:
                self._streams = StreamLoop(self.config, self)
            return self._streams

    def do_watch(self, request: WatchRequest) -> Watch:
        self._check_open("watch")
        watch = EtcdWatch(self, watch_cursor(request))
        with self._watches_lock:
            self._watches.add(watch)
        try:
            if self._closed:
                raise StoreClosedError(
                    f"watch: the store was closed before the watch on {request.key!r} was created",
                    key=request.key,
                    operation="watch",
                )
            watch.start()
        except BaseException:
            watch.cancel()
            raise
        return watch

    def lease_keepalive_many(self, lease_ids: Sequence[int]) -> list[int | KVStoreError]:
        """Renew leases on the store's one LeaseKeepAlive stream (``BaseStore``'s contract:
        a TTL or an error for each, in order).

        Returns:
            For each lease, in order, its new TTL or the ``KVStoreError`` its renewal met
            (``LeaseNotFoundError`` for a lease etcd no longer knows; ``StoreClosedError`` or
            ``UnavailableError`` for each when the stream cannot run); it raises nothing itself.
        """
        try:
            streams = self.streams()
            return streams.run(
                streams.store.lease_keepalive_many(lease_ids),
                timeout=self.config.request_timeout + _STREAM_SLACK_SECONDS,
            )
        except KVStoreError as exc:
            return [exc] * len(lease_ids)

    def lease_keepalive_idle(self) -> None:
        """Close the LeaseKeepAlive stream until the next keep-alive (``BaseStore``)."""
        with self._watches_lock:
            streams = self._streams
        if streams is not None and not self._closed:
            with contextlib.suppress(KVStoreError):
                streams.run(streams.store.lease_keepalive_idle(), timeout=_STREAM_SLACK_SECONDS)

    # ------------------------------------------------------------------ lifecycle

    def get_client(self) -> Any:
        """The python3-etcd3 client (``etcd3.MultiEndpointEtcd3Client``) for these endpoints.

        It is created on first use, shares this store's configuration (endpoints, TLS,
        credentials, timeout) and is closed with the store. Its exceptions are etcd3's own.

        Returns:
            The ``etcd3.MultiEndpointEtcd3Client``, the same object on every call (calls on it
            bypass kvstore's retries and error translation).

        Raises:
            StoreClosedError: The store was closed.
            AuthenticationError: The credentials were refused.
            BackendError: The client could not be created.
        """
        self._check_open("get_client")
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import etcd3

        endpoints = []
        for address in self.config.endpoints:
            host, _, port = address.rpartition(":")
            secure = self.config.uses_tls
            credentials = None
            if secure:
                credentials = self._pool.credentials_for(address)
            endpoints.append(
                etcd3.Endpoint(
                    host.strip("[]"),
                    int(port),
                    secure=secure,
                    creds=credentials,
                    time_retry=1.0,
                    opts=self._pool.channel_options(address),
                )
            )
        with map_errors("get_client"):
            return etcd3.MultiEndpointEtcd3Client(
                endpoints=endpoints,
                timeout=self._timeout,
                user=self._username or None,
                password=self._password if self._username else None,
                failover=True,
            )

    def forget_watch(self, watch: Watch) -> None:
        """Stop tracking a cancelled watch."""
        with self._watches_lock:
            self._watches.discard(watch)

    def close(self) -> None:
        """Close the store: cancel watches, stop keep-alives, close the channels.

        Idempotent; later calls raise ``StoreClosedError``.
        """
        if self._closed:
            return
        self._caller.closed = True
        super().close()
        with self._watches_lock:
            watches = list(self._watches)
            self._watches.clear()
        for watch in watches:
            watch.cancel()
        with self._watches_lock:
            streams, self._streams = self._streams, None
        if streams is not None:
            streams.close()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            # Closing the foreign client must not make close() fail.
            with contextlib.suppress(Exception):
                client.close()
        self._close_calls()
