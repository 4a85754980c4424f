"""The ``sqlite://`` plugin: its hooks, its entry point, and ``kvstore.open`` through it.

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
from kvstore_sql import AsyncSQLiteStore, SQLiteStore, plugin

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
    assert 'sqlite = "kvstore_sql.plugin"' in entry_points


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
