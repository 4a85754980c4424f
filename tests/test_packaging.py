"""What the installed distribution declares: entry points, the console script, type marks."""

from __future__ import annotations

import importlib.metadata
import importlib.resources

import pytest

import kvstore


def _entry_points(group: str) -> dict[str, str]:
    return {point.name: point.value for point in importlib.metadata.entry_points(group=group)}


def test_every_scheme_a_plugin_serves_has_an_entry_point() -> None:
    backends = _entry_points("kvstore")
    assert backends["memory"] == "kvstore_memory.plugin"
    assert backends["etcd"] == backends["etcds"] == "kvstore_etcd.plugin"
    assert {"etcd", "etcds", "memory"} <= set(kvstore.backends())


def test_the_pytest_plugin_and_the_console_script_are_declared() -> None:
    assert _entry_points("pytest11")["kvstore_etcd"] == "kvstore_etcd.pytest_plugin"
    assert _entry_points("console_scripts")["kvstore"] == "kvstore.cli:main"


@pytest.mark.parametrize("package", ["kvstore", "kvstore_etcd", "kvstore_memory", "kvstore_sql"])
def test_packages_are_marked_typed(package: str) -> None:
    assert importlib.resources.files(package).joinpath("py.typed").is_file()


def test_one_plugin_module_serves_two_schemes_in_one_process() -> None:
    plain = kvstore.open("etcd://127.0.0.1:1?request_timeout=0.5")
    secure = kvstore.open("etcds://127.0.0.1:1?request_timeout=0.5")
    try:
        assert type(plain) is type(secure)
    finally:
        plain.close()
        secure.close()
