"""The ``sqlite://`` and ``postgresql://`` plugin: its hooks, its entry points, its URLs, and
``kvstore.open`` through it.

The ``kvstore.open`` tests need the ``sqlite`` entry point in the installed metadata
(``pip install -e .`` after ``pyproject.toml`` declared it); until the installation is
refreshed they skip, and ``test_the_entry_point_is_declared`` still checks the
declaration itself.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import kvstore
from kvstore import AsyncNamespacedStore, NamespacedStore
from kvstore.errors import ConfigurationError
from kvstore_sql import AsyncSQLiteStore, PostgresConfig, PostgresStore, SQLiteStore, plugin

ROOT = Path(__file__).resolve().parents[2]


def _installed() -> bool:
    points = importlib.metadata.entry_points(group="kvstore")
    return any(point.name == "sqlite" for point in points)


needs_entry_point = pytest.mark.skipif(
    not _installed(), reason="the sqlite entry point is not installed yet (pip install -e .)"
)


def test_the_entry_point_is_declared() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    entry_points = text.split("[project.entry-points.kvstore]", 1)[1].split("[", 1)[0]
    for scheme in ("sqlite", "postgresql", "postgres"):
        assert f'{scheme} = "kvstore_sql.plugin"' in entry_points


def test_the_hooks_open_sqlite_urls_only(sqlite_url: str) -> None:
    assert plugin.kvstore_open("memory://", "memory") is None
    assert plugin.kvstore_open_async("memory://", "memory") is None
    store = plugin.kvstore_open(sqlite_url, "sqlite")
    assert isinstance(store, SQLiteStore)
    store.close()


async def test_the_async_hook_opens_an_async_store(sqlite_url: str) -> None:
    store = plugin.kvstore_open_async(sqlite_url, "sqlite")
    assert isinstance(store, AsyncSQLiteStore)
    await store.put("k", b"v")
    await store.aclose()


def test_a_malformed_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        plugin.kvstore_open("sqlite://host/x.db", "sqlite")


@needs_entry_point
def test_kvstore_open(sqlite_url: str) -> None:
    assert "sqlite" in kvstore.backends()
    with kvstore.open(sqlite_url + "?synchronous=normal") as store:
        store.put("k", b"v")
    with kvstore.open(sqlite_url + "?namespace=app/") as store:
        assert isinstance(store, NamespacedStore)
        store.put("k", b"in app")
    with kvstore.open(sqlite_url) as store:
        assert store.get_multiple("") == {"app/k": b"in app", "k": b"v"}


@needs_entry_point
async def test_kvstore_open_async(sqlite_url: str) -> None:
    async with kvstore.open_async(sqlite_url + "?namespace=app/") as store:
        assert isinstance(store, AsyncNamespacedStore)
        await store.put("k", b"v")
    with SQLiteStore(sqlite_url.removeprefix("sqlite:///")) as store:
        assert store.get("app/k") == b"v"


# ---------------------------------------------------------------------- PostgreSQL


def test_postgres_urls_keep_libpq_options_and_take_kvstore_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PG_SECRET", "canary-from-env")
    config = PostgresConfig.from_url(
        "postgresql://app@db.example:5433/main?sslmode=require&schema=app_kv"
        "&password_env=PG_SECRET&auto_compact=50"
    )
    assert config.conninfo == "postgresql://app@db.example:5433/main?sslmode=require"
    assert (config.schema, config.password, config.auto_compact) == (
        "app_kv",
        "canary-from-env",
        50,
    )
    secret = tmp_path / "password"
    secret.write_text("canary-from-file\n")
    from_file = PostgresConfig.from_url(f"postgres://app@db/main?password_file={secret}")
    assert from_file.password == "canary-from-file"
    assert from_file.schema == "kvstore"


def test_postgres_passwords_are_never_shown() -> None:
    config = PostgresConfig.from_url("postgresql://app:canary-in-url@db/main")
    assert "canary" not in repr(config) and "canary" not in config.description
    assert config.description == "postgresql://app@db/main (schema kvstore)"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://db/main",
        "postgresql://db/main?schema=bad-name",
        "postgresql://db/main?password_env=KVSTORE_NO_SUCH_VARIABLE",
        "postgresql://db/main?password_file=/no/such/file",
        "postgresql://db/main?auto_compact=-1",
    ],
)
def test_bad_postgres_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        PostgresConfig.from_url(url)


def test_the_hooks_open_postgres_urls(postgres_url: str) -> None:
    for scheme in ("postgresql", "postgres"):
        store = plugin.kvstore_open(postgres_url, scheme)
        assert isinstance(store, PostgresStore)
        store.put("k", scheme.encode())
        store.close()
