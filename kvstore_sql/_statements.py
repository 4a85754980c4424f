"""Every statement of the SQL backend, in portable SQL with ``?`` placeholders.

The engine runs them through its dialect (``Dialect.sql`` gives the driver's placeholders).
A range of keys is one of three conditions (``range_condition``): one key, every key
from a start (etcd's ``range_end="\\0"``), or ``[start, end)``; keys are compared as
bytes, the order of their UTF-8 encodings, which is etcd's key order.
"""

from __future__ import annotations

from kvstore.keys import ALL_KEYS

__all__ = [
    "COUNT_CURRENT",
    "COUNT_PAST",
    "CURRENT",
    "CURRENT_KEY",
    "DELETE_CURRENT",
    "DELETE_LEASE",
    "EVENTS",
    "INSERT_CURRENT",
    "INSERT_LEASE",
    "INSERT_LOG",
    "KEY_EXISTS",
    "LEASED_KEYS",
    "LEASES",
    "LEASE_EXISTS",
    "LEASE_STATE",
    "LOG_BATCH_END",
    "META",
    "PAST",
    "PLAIN_GET",
    "PURGE",
    "RENEW_LEASE",
    "SET_COMPACT_REVISION",
    "SET_REVISION",
    "UPDATE_CURRENT",
    "DUE_LEASES",
    "range_condition",
]

META = (
    "SELECT revision, compact_revision, (SELECT min(expires_at) FROM kv_lease) "
    "FROM kv_meta WHERE id = 1"
)
"""The store revision, the compact revision and the earliest lease expiry, in one row."""

PLAIN_GET = (
    "SELECT m.revision, m.compact_revision, (SELECT min(expires_at) FROM kv_lease), "
    "c.key, c.create_revision, c.mod_revision, c.version, c.lease, c.value "
    "FROM kv_meta m LEFT JOIN kv_current c ON c.key = ? WHERE m.id = 1"
)
"""``META`` and one key's current row (or NULLs), in one statement: ``get``'s read."""

SET_REVISION = "UPDATE kv_meta SET revision = ? WHERE id = 1"
SET_COMPACT_REVISION = "UPDATE kv_meta SET compact_revision = ? WHERE id = 1"


def range_condition(key: str, range_end: str | None) -> tuple[str, list[bytes]]:
    """The ``WHERE`` condition on the ``key`` column for a request's range, with its
    parameters (``range_end`` ``None``: the one key; ``"\\0"``: every key from ``key``)."""
    start = key.encode()
    if range_end is None:
        return "key = ?", [start]
    if range_end == ALL_KEYS:
        return "key >= ?", [start]
    return "key >= ? AND key < ?", [start, range_end.encode()]


CURRENT = "SELECT key, create_revision, mod_revision, version, lease, {value} FROM kv_current"
"""The current key-values; ``{value}`` is ``value`` or ``NULL`` (keys only), then a range
condition, ``ORDER BY key`` and maybe a ``LIMIT`` follow."""

CURRENT_KEY = CURRENT.format(value="value") + " WHERE key = ?"
"""One key's current key-value (no row: it does not exist)."""

COUNT_CURRENT = "SELECT count(*) FROM kv_current WHERE {condition}"

_LATEST = (
    "FROM kv_log l JOIN ("
    "SELECT key, max(revision) AS revision FROM kv_log "
    "WHERE {condition} AND revision <= ? GROUP BY key"
    ") m ON l.key = m.key AND l.revision = m.revision WHERE l.tombstone = 0"
)
"""Each key's latest write at or before a revision, if it was not a delete."""

PAST = (
    "SELECT l.key, l.create_revision, l.revision, l.version, l.lease, {value} "
    + _LATEST
    + " ORDER BY l.key"
)
"""The key-values of a range as of a revision (``{value}``: ``l.value`` or ``NULL``)."""

COUNT_PAST = "SELECT count(*) " + _LATEST

KEY_EXISTS = "SELECT 1 FROM kv_current WHERE key = ?"
INSERT_CURRENT = (
    "INSERT INTO kv_current (key, create_revision, mod_revision, version, lease, value) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
UPDATE_CURRENT = (
    "UPDATE kv_current SET mod_revision = ?, version = ?, lease = ?, value = ? WHERE key = ?"
)
DELETE_CURRENT = "DELETE FROM kv_current WHERE {condition}"
INSERT_LOG = (
    "INSERT INTO kv_log "
    "(revision, sub, key, create_revision, version, lease, value, tombstone) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

EVENTS = (
    "SELECT l.revision, l.key, l.create_revision, l.version, l.lease, l.value, l.tombstone, "
    "p.create_revision, p.revision, p.version, p.lease, p.value, p.tombstone "
    "FROM kv_log l LEFT JOIN kv_log p ON p.key = l.key AND p.revision = ("
    "SELECT max(q.revision) FROM kv_log q WHERE q.key = l.key AND q.revision < l.revision"
    ") WHERE l.revision >= ? AND l.revision <= ? ORDER BY l.revision, l.sub"
)
"""The writes of a span of revisions in commit order, each with the write before it to
the same key (a watch's ``prev_kv``)."""

LOG_BATCH_END = (
    "SELECT revision, sub FROM kv_log WHERE (revision, sub) > (?, ?) AND revision <= ? "
    "ORDER BY revision, sub LIMIT 1 OFFSET ?"
)
"""Where a batch of history rows at or below a compact revision ends."""

PURGE = (
    "DELETE FROM kv_log WHERE (revision, sub) > (?, ?) AND (revision, sub) <= (?, ?) "
    "AND revision <= ? AND (tombstone <> 0 OR EXISTS ("
    "SELECT 1 FROM kv_log newer WHERE newer.key = kv_log.key "
    "AND newer.revision > kv_log.revision AND newer.revision <= ?))"
)
"""Compaction at a revision, on one batch of rows: drop every write that a later write at
or below the compact revision replaced, and the deletes at or below it (what etcd keeps:
each key's state as of the compact revision, if it exists then)."""

LEASE_EXISTS = "SELECT 1 FROM kv_lease WHERE id = ?"
LEASE_STATE = "SELECT ttl, expires_at FROM kv_lease WHERE id = ?"
LEASES = "SELECT id FROM kv_lease ORDER BY id"
INSERT_LEASE = "INSERT INTO kv_lease (id, ttl, expires_at) VALUES (?, ?, ?)"
RENEW_LEASE = "UPDATE kv_lease SET expires_at = ? WHERE id = ?"
DELETE_LEASE = "DELETE FROM kv_lease WHERE id = ?"
DUE_LEASES = "SELECT id FROM kv_lease WHERE expires_at <= ? ORDER BY expires_at, id"
LEASED_KEYS = "SELECT key FROM kv_current WHERE lease = ? ORDER BY key"
