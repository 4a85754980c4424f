"""An application's tests after ``pip install kvstore`` without extras: MemoryStore only.

CI runs this directory in a virtualenv that has ``kvstore`` (installed from the source
tree, not editable, no extras) and ``pytest``, and nothing else: no grpc, no etcd3, no
etcd binary. That every pytest run loads the ``kvstore_etcd`` plugin there without
failing is the first thing checked (the whole run would not start otherwise); the etcd
parts must then say which extra to install. The project's own ``pytest`` run does not
collect this directory (``tests/conftest.py`` ignores it): there the extra is installed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kvstore
from kvstore.errors import ConfigurationError, PluginLoadError
from kvstore_memory import ManualClock, MemoryStore

EXTRA = 'pip install "kvstore[etcd]"'


def test_this_is_a_bare_install() -> None:
    assert importlib.util.find_spec("grpc") is None, "run this in a venv without kvstore[etcd]"
    assert importlib.util.find_spec("etcd3") is None
    assert "site-packages" in Path(kvstore.__file__).parts, kvstore.__file__


def test_the_kvstore_etcd_pytest_plugin_is_loaded(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("kvstore_etcd")


def test_memory_store_with_a_manual_clock() -> None:
    clock = ManualClock()
    with MemoryStore(clock=clock) as store:
        lease = store.lease_grant(10)
        store.put("jobs/1", b"claimed", lease=lease.id)
        assert store.get("jobs/1") == b"claimed"
        clock.advance(11)
        assert store.get_kv("jobs/1") is None


def test_open_memory() -> None:
    with kvstore.open("memory://") as store:
        store.put("config/a", b"1")
        assert store.get("config/a") == b"1"
        assert "memory" in kvstore.backends()


def test_open_etcd_names_the_extra_to_install() -> None:
    with pytest.raises(PluginLoadError) as info:
        kvstore.open("etcd://localhost:2379")
    assert EXTRA in str(info.value)


def test_tracing_without_opentelemetry_names_the_extra_to_install() -> None:
    assert importlib.util.find_spec("opentelemetry") is None
    with pytest.raises(ConfigurationError, match=r"kvstore\[otel\]"):
        kvstore.open("memory://?trace=1")
    with pytest.raises(ConfigurationError, match=r"kvstore\[otel\]"):
        importlib.import_module("kvstore.wrappers.tracing")


def test_an_etcd_fixture_fails_and_names_the_extra(tmp_path: Path) -> None:
    (tmp_path / "test_uses_etcd.py").write_text(
        textwrap.dedent(
            """
            def test_needs_etcd(etcd_store):
                etcd_store.put("k", b"v")
            """
        )
    )
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "1 error" in completed.stdout and "skipped" not in completed.stdout
    assert EXTRA in completed.stdout
