"""``TracingStore`` and ``AsyncTracingStore``: OpenTelemetry spans and metrics for a store.

A wrapper store (extra ``[otel]``: ``pip install 'kvstore[otel]'``, which brings
``opentelemetry-api`` only; the application picks and sets up the SDK). Each primitive
sent to the inner store is one CLIENT span, named and attributed by OpenTelemetry's
database client semantic conventions:

- span name = ``db.operation.name``: etcd's RPC name (``Range``, ``Put``, ``DeleteRange``,
  ``Txn``, ``Watch``, ``LeaseGrant``, ``LeaseRevoke``, ``LeaseKeepAlive``,
  ``LeaseTimeToLive``, ``LeaseLeases``, ``Compact``, ``Status``, ``MemberList``,
  ``Defragment``, ``Alarm``, ``HashKV``), on every backend;
- ``db.system.name``: ``"etcd"``, ``"memory"``, ``"sqlite"``, ``"postgresql"`` ... (the
  backend's ``system_name`` attribute if it has one, else its class's name; or ``system=``);
- ``server.address`` / ``server.port``: the endpoint the backend uses now, where it has
  one (etcd);
- ``db.response.returned_rows`` for reads, ``db.operation.batch.size`` for transactions
  and batched keep-alives, ``kvstore.txn.succeeded`` for transactions;
- on an error: the span's status is ERROR, ``error.type`` is the kvstore error class
  (``kvstore.errors.KeyNotFoundError`` ...) and ``db.response.status_code`` the backend's
  own code where it has one (etcd: the gRPC status, ``UNAVAILABLE`` ...).

Keys are recorded (``kvstore.key``, ``kvstore.range_end``, and error messages, which name
keys) only with ``record_keys=True``; values never are. The span is current while the
inner store runs the primitive, so the backend's own retries show on it as events, and it
is the parent of nothing else: a watch's span covers its creation, not its events.

Metrics (from the same meter provider): the histogram ``db.client.operation.duration``
(seconds) by ``db.system.name``, ``db.operation.name``, server and, on failure,
``error.type``; and one counter per store event of ``kvstore.plugins.events``:
``kvstore.client.retries``, ``kvstore.client.endpoint_switches``,
``kvstore.client.watch_resumes``, ``kvstore.client.keepalive_losses`` and
``kvstore.client.lock_losses``. Each event is also recorded as a span event
(``kvstore.retry`` ...) on the span current when it happens, or, from a background
(watch streams, keep-alives), on a short INTERNAL span of its own.

Where it sits: ``kvstore.open`` puts it directly on the backend, below the other wrappers,
so each span is one request the backend really gets (one encrypted ``Put``, keys with the
namespace's prefix)::

    NamespacedStore( CompressedStore( EncryptedStore( TracingStore( backend ) ) ) )
"""

from __future__ import annotations

from kvstore.wrappers._async.tracing import AsyncTracingStore
from kvstore.wrappers._sync.tracing import TracingStore
from kvstore.wrappers._tracing import EVENT_COUNTERS, OPERATION_DURATION

__all__ = ["EVENT_COUNTERS", "OPERATION_DURATION", "AsyncTracingStore", "TracingStore"]
