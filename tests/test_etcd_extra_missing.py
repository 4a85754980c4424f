"""Without the ``[etcd]`` extra (no grpc, etcd3, protobuf), everything that needs it says so.

The real check is CI's bare-install step (``tests/bare_install/``, run in a virtualenv
with ``pip install .`` and no extras); these tests simulate the missing client in this
environment, by making ``import grpc`` fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kvstore
from kvstore.errors import PluginLoadError
from kvstore_etcd import EtcdConfig, new_client, pytest_plugin

ROOT = Path(__file__).resolve().parent.parent
EXTRA = 'pip install "kvstore[etcd]"'


@pytest.fixture
def no_grpc(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import grpc`` fails from now on, as if grpcio were not installed."""
    monkeypatch.setitem(sys.modules, "grpc", None)


@pytest.mark.usefixtures("no_grpc")
@pytest.mark.parametrize("url", ["etcd://localhost:2379", "etcds://localhost:2379"])
def test_open_names_the_extra_to_install(url: str) -> None:
    with pytest.raises(PluginLoadError) as info:
        kvstore.open(url)
    assert EXTRA in str(info.value)
    assert info.value.plugin == url.partition(":")[0]


@pytest.mark.usefixtures("no_grpc")
def test_a_malformed_url_is_still_a_configuration_error_first() -> None:
    with pytest.raises(kvstore.ConfigurationError):
        kvstore.open("etcd://localhost:2379?no_such_option=1")


@pytest.mark.usefixtures("no_grpc")
def test_new_client_names_the_extra_when_the_client_is_missing() -> None:
    with pytest.raises(PluginLoadError, match=r'pip install "kvstore\[etcd\]"'):
        new_client(EtcdConfig())


@pytest.mark.usefixtures("no_grpc")
def test_the_etcd_fixtures_fail_naming_both_extras() -> None:
    with pytest.raises(pytest.fail.Exception) as info:
        pytest_plugin._require_client()
    assert EXTRA in str(info.value)
    assert 'pip install "kvstore[server]"' in str(info.value)


def test_the_package_and_its_plugins_import_without_the_client() -> None:
    script = textwrap.dedent(
        """
        import importlib.abc
        import sys

        class NoClient(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("grpc", "etcd3"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None

        sys.meta_path.insert(0, NoClient())

        import kvstore
        import kvstore_etcd
        import kvstore_etcd.launcher
        import kvstore_etcd.plugin
        import kvstore_etcd.pytest_plugin
        from kvstore.errors import PluginLoadError

        assert "grpc" not in sys.modules and "kvstore_etcd.store" not in sys.modules
        try:
            kvstore.open("etcd://localhost:2379")
        except PluginLoadError as exc:
            print("open:", exc)
        try:
            from kvstore_etcd import EtcdStore
        except ImportError as exc:
            print("EtcdStore:", exc)
        with kvstore.open("memory://") as store:
            store.put("k", b"v")
            print("memory:", store.get("k"))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 3, completed.stdout
    assert lines[0].startswith("open:") and EXTRA in lines[0]
    assert lines[1].startswith("EtcdStore:") and EXTRA in lines[1]
    assert lines[2] == "memory: b'v'"
