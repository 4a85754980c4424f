"""The SQL stores beside etcd and beside their raw drivers: put, get and txn latency and
throughput, client CPU per call, cross-process watch delivery, and a SQLite file's size
under constant overwrites with ``auto_compact``.

Run ``python benchmarks/bench_sql.py`` (``--quick`` for a smoke run). It starts a
throwaway etcd (``etcd_target.py``, or ``--endpoint host:port``) and a throwaway
PostgreSQL (``kvstore_sql.launcher.PostgresServer``, as the tests'; or
``--postgres-url postgresql://...``).
``bench_sql(endpoints)`` returns the figures for ``run.py``'s ``RESULTS.md``.

Method:

- **Per-call latency.** Each store and its raw baseline run sequential single-key calls
  (100-byte values, 100 keys) in blocks of 100, the blocks of the clients alternating
  (and which goes first), so load from other processes hits them alike; every call is
  timed; the figures are p50 / p99 over every call, ops/s = 1 / mean, and client CPU per
  call (``time.process_time`` of the process over the block: the driver's and kvstore's
  Python, not the database server's; for SQLite that includes SQLite itself, which runs
  in the process).
- **Raw baselines: the least the operation needs** on the same database with the same
  durability: a put is one-row ``INSERT`` + ``COMMIT`` into a two-column table; a get is
  one primary-key ``SELECT`` (autocommit); a txn (the store's: a compare of the key's
  version, then a put) is a compare-and-swap in one transaction: ``SELECT`` the row,
  ``UPDATE`` it, ``COMMIT`` (no target; the driver's ordinary way, one statement per
  call). The SQLite files of both are in WAL mode with
  ``synchronous=FULL`` (the store's default); the PostgreSQL server is the launcher's
  (its ``fsync=off`` applies to both).
- **Floors: the store's own SQL without kvstore.** The statements a put and a get of
  the store run (``kvstore_sql._statements``, on a schema the store created, so the same
  tables and indexes, with parameters bound as the store binds them), through the raw
  driver in the fewest round trips: a put's lock, counter read, row read, the three row
  writes and ``COMMIT`` in one multi-statement query on PostgreSQL (where the store needs
  two round trips: the floor is below what it can reach) and one ``BEGIN IMMEDIATE`` ...
  ``COMMIT`` on SQLite; a get's one statement. ``floor / raw`` is what etcd's data model
  costs on the database (a log row, a current row and the revision counter per write,
  where the raw insert writes one row); ``store / floor`` is kvstore's own share (its
  Python, the driver's per-statement work, round trips beyond the floor's).
- **Watch delivery across processes.** A writer process puts 300 keys, one every 10 ms,
  and reports when each put was acknowledged (wall clock; the same machine); a watch in
  this process records when each event arrived; the latency is arrival - acknowledgement,
  by revision. SQLite's watchers poll ``PRAGMA data_version``; PostgreSQL's are woken by
  LISTEN/NOTIFY.
- **File size.** 100,000 puts (``--quick``: 20,000) overwriting 1,000 keys of 100 bytes,
  ``auto_compact=1000``, ``synchronous=normal`` (to finish in reasonable time; the sizes
  do not depend on it): the database file and its WAL at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from etcd_target import etcd_target

__all__ = ["bench_sql", "main"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_BLOCK = 100
_VALUE = b"v" * 100
_KEYS = [f"bench/sql/{index:03d}" for index in range(100)]


# ---------------------------------------------------------------------------- per-call timing


class _Client:
    """One client's calls of one operation, timed call by call."""

    def __init__(self, name: str, call: Callable[[int], object]) -> None:
        self.name = name
        self.call = call
        self.latencies: list[float] = []
        self.cpu = 0.0
        self.calls = 0

    def block(self, start: int) -> None:
        call, latencies = self.call, self.latencies
        cpu = time.process_time()
        for index in range(start, start + _BLOCK):
            begun = time.perf_counter()
            call(index)
            latencies.append(time.perf_counter() - begun)
        self.cpu += time.process_time() - cpu
        self.calls += _BLOCK

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "p50_us": ordered[len(ordered) // 2] * 1e6,
            "p99_us": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
            "per_s": len(ordered) / sum(ordered),
            "cpu_us": self.cpu / self.calls * 1e6,
        }


def _compare(clients: list[_Client], blocks: int) -> dict[str, dict[str, float]]:
    for client in clients:  # warm up: connections, statement caches, pages
        client.block(blocks * _BLOCK)  # indices the timed blocks never use (_changed)
        client.latencies.clear()
        client.cpu, client.calls = 0.0, 0
    for round_index in range(blocks):
        order = clients if round_index % 2 == 0 else list(reversed(clients))
        for client in order:
            client.block(round_index * _BLOCK)
    return {client.name: client.figures() for client in clients}


# ---------------------------------------------------------------------------- raw drivers


Call = Callable[[int], object]


def _changed(index: int) -> bytes:
    """A 100-byte value that differs from the one written before it."""
    return index.to_bytes(8, "big") + _VALUE[8:]


def _raw_sqlite(path: Path) -> tuple[Call, Call, Call, Any]:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE kv (key BLOB PRIMARY KEY, value BLOB) WITHOUT ROWID")
    connection.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, key BLOB, value BLOB)")
    for key in _KEYS:
        connection.execute("INSERT INTO kv VALUES (?, ?)", (key.encode(), _VALUE))
    encoded = [key.encode() for key in _KEYS]

    def insert(index: int) -> object:
        connection.execute("BEGIN")
        connection.execute(
            "INSERT INTO log (key, value) VALUES (?, ?)", (encoded[index % 100], _VALUE)
        )
        connection.execute("COMMIT")
        return None

    def select(index: int) -> object:
        return connection.execute(
            "SELECT value FROM kv WHERE key = ?", (encoded[index % 100],)
        ).fetchone()

    def swap(index: int) -> object:
        key = encoded[index % 100]
        connection.execute("BEGIN IMMEDIATE")
        found = connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if found is not None:  # a new value: SQLite skips writing an unchanged row
            connection.execute("UPDATE kv SET value = ? WHERE key = ?", (_changed(index), key))
        connection.execute("COMMIT")
        return found

    return insert, select, swap, connection


def _raw_postgres(url: str) -> tuple[Call, Call, Call, Any]:
    import psycopg

    connection = psycopg.connect(url, autocommit=True)
    connection.execute("CREATE SCHEMA IF NOT EXISTS bench_raw")
    connection.execute("DROP TABLE IF EXISTS bench_raw.kv, bench_raw.log")
    connection.execute("CREATE TABLE bench_raw.kv (key bytea PRIMARY KEY, value bytea)")
    connection.execute(
        "CREATE TABLE bench_raw.log (id bigserial PRIMARY KEY, key bytea, value bytea)"
    )
    encoded = [key.encode() for key in _KEYS]
    for key in encoded:
        connection.execute("INSERT INTO bench_raw.kv VALUES (%s, %s)", (key, _VALUE))
    insert_connection = psycopg.connect(url)

    def insert(index: int) -> object:
        insert_connection.execute(
            "INSERT INTO bench_raw.log (key, value) VALUES (%s, %s)",
            (encoded[index % 100], _VALUE),
        )
        insert_connection.commit()
        return None

    def select(index: int) -> object:
        return connection.execute(
            "SELECT value FROM bench_raw.kv WHERE key = %s", (encoded[index % 100],)
        ).fetchone()

    def swap(index: int) -> object:
        key = encoded[index % 100]
        found = insert_connection.execute(
            "SELECT value FROM bench_raw.kv WHERE key = %s FOR UPDATE", (key,)
        ).fetchone()
        if found is not None:
            insert_connection.execute(
                "UPDATE bench_raw.kv SET value = %s WHERE key = %s", (_changed(index), key)
            )
        insert_connection.commit()
        return found

    class _Both:
        def close(self) -> None:
            insert_connection.close()
            connection.close()

    return insert, select, swap, _Both()


# ---------------------------------------------------------------------------- floors


Statements = list[tuple[str, tuple[object, ...]]]


def _floor_calls(
    execute_put: Callable[[Statements], object], read: Callable[[bytes], object], start: int
) -> tuple[Callable[[int], object], Callable[[int], object]]:
    """A put and a get made of the store's statements (see the module's docstring);
    ``execute_put`` runs one put's statements (``?`` placeholders, and their parameters)."""
    import kvstore_sql._statements as sql

    revision = [start]
    encoded = [f"bench/floor/{index:03d}".encode() for index in range(100)]

    def put(index: int) -> object:
        revision[0] += 1
        at, key = revision[0], encoded[index % 100]
        return execute_put(
            [
                (sql.META, ()),
                (sql.CURRENT_KEY, (key,)),
                (sql.UPDATE_CURRENT, (at, 2, 0, _VALUE, key)),
                (sql.INSERT_LOG, (at, 0, key, 1, 2, 0, _VALUE, 0)),
                (sql.SET_REVISION, (at,)),
            ]
        )

    def get(index: int) -> object:
        return read(encoded[index % 100])

    return put, get


def _floor_sqlite(path: Path) -> tuple[Callable[[int], object], Callable[[int], object], Any]:
    from kvstore.txn import Get
    from kvstore_sql import SQLiteStore
    from kvstore_sql._statements import PLAIN_GET

    with SQLiteStore(path) as store:
        for index in range(100):
            store.put(f"bench/floor/{index:03d}", _VALUE)
        start = store.kv_range(Get("bench/floor/000")).revision
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA synchronous=FULL")

    def execute_put(statements: Statements) -> object:
        # as the store: bound parameters (its statements stay in sqlite3's cache)
        connection.execute("BEGIN IMMEDIATE")
        for statement, parameters in statements:
            connection.execute(statement, parameters).fetchall()
        connection.execute("COMMIT")
        return None

    def read(key: bytes) -> object:
        return connection.execute(PLAIN_GET, (key,)).fetchone()

    return (*_floor_calls(execute_put, read, start), connection)


def _floor_postgres(
    url: str, schema: str
) -> tuple[Callable[[int], object], Callable[[int], object], Any]:
    import psycopg

    from kvstore.txn import Get
    from kvstore_sql import PostgresStore
    from kvstore_sql._statements import PLAIN_GET

    with PostgresStore(url, schema=schema) as store:
        for index in range(100):
            store.put(f"bench/floor/{index:03d}", _VALUE)
        start = store.kv_range(Get("bench/floor/000")).revision
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(
        psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
    )
    cursor = psycopg.ClientCursor(connection)
    get_statement = PLAIN_GET.replace("?", "%s")

    def execute_put(statements: Statements) -> object:
        # as the store: parameters bound on the client (ClientCursor), the lock and the
        # NOTIFY as its (one advisory lock key, one channel); but in one round trip
        query = "; ".join(statement.replace("?", "%s") for statement, _ in statements)
        parameters = [value for _, args in statements for value in args]
        cursor.execute(
            f"BEGIN; SELECT pg_advisory_xact_lock(1); {query} "
            "RETURNING pg_notify('bench_floor', 'x'); COMMIT",
            parameters,
        )
        return None

    def read(key: bytes) -> object:
        return connection.execute(get_statement, (key,)).fetchone()

    return (*_floor_calls(execute_put, read, start), connection)


# ---------------------------------------------------------------------------- the stores


def _store_calls(store: Any) -> dict[str, Callable[[int], object]]:
    from kvstore.txn import Put, Version

    for key in _KEYS:
        store.put(key, _VALUE)

    def txn(index: int) -> object:
        key = _KEYS[index % 100]
        return store.kv_txn([Version(key) > 0], [Put(key, _VALUE)], [])

    return {
        "put": lambda index: store.put(_KEYS[index % 100], _VALUE),
        "get": lambda index: store.get(_KEYS[index % 100]),
        "txn": txn,
    }


def _operations(
    stores: dict[str, Any],
    raws: dict[str, tuple[Call, Call, Call]],
    blocks: int,
    floors: dict[str, tuple[Call, Call]] | None = None,
) -> dict[str, Any]:
    """Every store's put/get/txn, beside the raw driver of its database (and the floor
    of its own statements for put and get, if given).

    ``raws``: each database's raw insert, select and compare-and-swap."""
    calls = {label: _store_calls(store) for label, store in stores.items()}
    floors = floors or {}
    figures: dict[str, Any] = {}
    for index, operation in enumerate(("put", "get", "txn")):
        clients = [_Client(label, calls[label][operation]) for label in stores]
        clients += [_Client(f"raw_{database}", raw[index]) for database, raw in raws.items()]
        if operation != "txn":
            clients += [
                _Client(f"floor_{database}", floor[index]) for database, floor in floors.items()
            ]
        figures[operation] = _compare(clients, blocks)
    for database in raws:
        for operation, raw in (("put", "insert"), ("get", "select"), ("txn", "swap")):
            store = figures[operation][database]["p50_us"]
            baseline = figures[operation][f"raw_{database}"]["p50_us"]
            figures[f"{database}_{operation}_vs_raw_{raw}"] = store / baseline
            if database in floors and operation != "txn":
                floor = figures[operation][f"floor_{database}"]["p50_us"]
                figures[f"{database}_{operation}_floor_vs_raw_{raw}"] = floor / baseline
                figures[f"{database}_{operation}_vs_floor"] = store / floor
    return figures


# ---------------------------------------------------------------------------- watch delivery

_WRITER = """
import json, sys, time
import kvstore
store = kvstore.open(sys.argv[1])
count, gap = int(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
acked = []
for index in range(count):
    revision = store.put(f"bench/watch/{index % 10}", b"x")
    acked.append((revision, time.time()))
    time.sleep(gap)
store.close()
print(json.dumps(acked), flush=True)
"""


def _watch_delivery(url: str, store: Any, count: int) -> dict[str, float]:
    """Put-acknowledged (writer process) to event-received (here) latency, p50 / p99."""
    arrived: dict[int, float] = {}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(count), "0.01"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])},
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline().strip() == "ready"
        with store.watch_prefix("bench/watch/") as stream:
            writer.stdin.write("go\n")
            writer.stdin.flush()
            while len(arrived) < count:
                event = stream.next_event(30)
                if event is None:
                    raise RuntimeError(f"no watch event for 30 s ({len(arrived)} seen)")
                arrived[event.kv.mod_revision] = time.time()
        acked = dict(json.loads(writer.stdout.readline()))
    finally:
        writer.kill()
        writer.wait()
    delays = sorted(max(0.0, arrived[int(rev)] - at) for rev, at in acked.items())
    return {
        "events": float(len(delays)),
        "p50_ms": delays[len(delays) // 2] * 1e3,
        "p99_ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1e3,
    }


# ---------------------------------------------------------------------------- file size


def _file_size(directory: Path, writes: int) -> dict[str, float]:
    from kvstore_sql import SQLiteStore

    path = directory / "size.db"
    started = time.perf_counter()
    with SQLiteStore(path, auto_compact=1000, synchronous="normal") as store:
        for index in range(writes):
            store.put(f"size/{index % 1000:04d}", _VALUE)
        status = store.status()
    wal = Path(f"{path}-wal")
    return {
        "overwrites": float(writes),
        "keys": 1000.0,
        "live_bytes": 1000.0 * (len("size/0000") + len(_VALUE)),
        "file_bytes": float(path.stat().st_size),
        "wal_bytes": float(wal.stat().st_size if wal.exists() else 0),
        "status_db_size": float(status.db_size),
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------------------- the run


@contextmanager
def _postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from kvstore_sql.launcher import PostgresServer

    with PostgresServer() as server:
        yield server.url


def bench_sql(
    endpoints: list[str], quick: bool = False, postgres_url: str | None = None
) -> dict[str, Any]:
    """SQLiteStore and PostgresStore beside EtcdStore on ``endpoints`` and beside their
    raw drivers; watch delivery across processes; SQLite's size under overwrites.

    Returns:
        ``put`` / ``get`` / ``txn`` (each client's ``p50_us``, ``p99_us``, ``per_s``,
        ``cpu_us``), the ratios ``<db>_put_vs_raw_insert``, ``<db>_get_vs_raw_select`` and
        ``<db>_txn_vs_raw_swap`` (p50 over p50; the floors' beside them), ``watch``
        (each database's ``p50_ms`` / ``p99_ms``) and ``size``.
    """
    from kvstore_etcd import EtcdConfig, EtcdStore
    from kvstore_sql import PostgresStore, SQLiteStore

    blocks = 10 if quick else 40
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="kvstore-bench-sql-") as scratch,
        _postgres(postgres_url) as pg_url,
    ):
        directory = Path(scratch)
        schema = f"bench_{os.getpid()}"
        sqlite_url = f"sqlite:///{directory / 'store.db'}"
        pg_store_url = f"{pg_url}?schema={schema}"
        stores = {
            "etcd": EtcdStore(EtcdConfig(endpoints=endpoints, request_timeout=5.0)),
            "sqlite": SQLiteStore(directory / "store.db"),
            "postgresql": PostgresStore(pg_url, schema=schema),
        }
        raw_sqlite = _raw_sqlite(directory / "raw.db")
        raw_postgres = _raw_postgres(pg_url)
        floor_sqlite = _floor_sqlite(directory / "floor.db")
        floor_postgres = _floor_postgres(pg_url, f"{schema}_floor")
        try:
            results.update(
                _operations(
                    stores,
                    {"sqlite": raw_sqlite[:3], "postgresql": raw_postgres[:3]},
                    blocks,
                    {"sqlite": floor_sqlite[:2], "postgresql": floor_postgres[:2]},
                )
            )
            count = 100 if quick else 300
            results["watch"] = {
                "sqlite": _watch_delivery(sqlite_url, stores["sqlite"], count),
                "postgresql": _watch_delivery(pg_store_url, stores["postgresql"], count),
                "etcd": _watch_delivery(f"etcd://{','.join(endpoints)}", stores["etcd"], count),
            }
        finally:
            for store in stores.values():
                store.close()
            for opened in (raw_sqlite, raw_postgres, floor_sqlite, floor_postgres):
                opened[-1].close()
        results["size"] = _file_size(directory, 20_000 if quick else 100_000)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run ``bench_sql`` and print its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoint", help="host:port of an etcd to use (default: start one)")
    parser.add_argument("--postgres-url", help="a PostgreSQL to use (default: start one)")
    parser.add_argument("--quick", action="store_true", help="short measurements")
    args = parser.parse_args(argv)
    with etcd_target([args.endpoint] if args.endpoint else []) as target:
        figures = bench_sql(target.endpoints, quick=args.quick, postgres_url=args.postgres_url)
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
