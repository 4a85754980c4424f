"""Plugin discovery through the ``kvstore`` entry-point group, as a third party uses it.

Covers both hooks: ``kvstore_open`` (``kvstore.open``) and ``kvstore_local_server``
(``kvstore.plugins.start_local_server``, used by ``kvstore serve`` and ``kvstore demo``).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kvstore
from kvstore.errors import BackendNotFoundError, ConfigurationError, UnsupportedOperationError
from kvstore.plugins.discovery import start_local_server
from kvstore.plugins.hookspecs import LocalServer
from kvstore_memory import MemoryStore

THIRD_PARTY_BACKEND = '''
from kvstore.plugins.hookspecs import LocalServer, hookimpl
from kvstore_memory import MemoryStore

STOPS = []

class FakeStore(MemoryStore):
    """A third-party backend: a MemoryStore under another name."""

@hookimpl
def kvstore_open(url, scheme):
    if scheme not in ("fake", "alias"):
        return None
    return FakeStore()

@hookimpl
def kvstore_local_server(scheme, port):
    if scheme != "fake":
        return None
    return LocalServer(
        f"fake://127.0.0.1:{port or 4242}",
        description="fake 1.0",
        stop=lambda: STOPS.append(scheme),
        is_running=lambda: not STOPS,
    )
'''

SCRIPT = """
import sys
import kvstore
from kvstore.errors import PluginLoadError

print("schemes", kvstore.backends())
print("imported before open", "fakebackend" in sys.modules)
store = kvstore.open("fake://anything")
store.put("k", b"v")
print("opened", type(store).__name__, store.get("k"))
try:
    kvstore.open("broken://")
except PluginLoadError as exc:
    print("broken", exc.plugin)
print("memory still works", type(kvstore.open("memory://")).__name__)
"""


def _install_fake_distribution(site: Path) -> None:
    (site / "fakebackend.py").write_text(THIRD_PARTY_BACKEND)
    dist_info = site / "fakebackend-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakebackend\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[kvstore]\nfake = fakebackend\nalias = fakebackend\nbroken = no_such_module_anywhere\n"
    )


def test_a_third_party_backend_is_found_through_its_entry_point(tmp_path: Path) -> None:
    _install_fake_distribution(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)],
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    schemes = lines[0]
    assert "'fake'" in schemes and "'memory'" in schemes and "'broken'" in schemes
    assert lines[1:] == [
        "imported before open False",
        "opened FakeStore b'v'",
        "broken broken",
        "memory still works MemoryStore",
    ]


def test_memory_scheme_is_registered_through_the_entry_point() -> None:
    assert "memory" in kvstore.backends()
    store = kvstore.open("memory://")
    assert isinstance(store, MemoryStore)
    assert kvstore.open("MEMORY://?max_txn_ops=4").max_txn_ops == 4


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        kvstore.open("nosuch://user:canary-password@host")
    assert info.value.scheme == "nosuch"
    assert "memory" in info.value.known
    assert "memory" in str(info.value)
    assert "canary-password" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["", "no-scheme", "memory:/x", 42, "memory://host", "memory://?x=1"]
)
def test_malformed_urls_raise_configuration_errors(url: object) -> None:
    with pytest.raises(ConfigurationError):
        kvstore.open(url)  # type: ignore[arg-type]


LOCAL_SERVER_SCRIPT = """
import sys
import kvstore
from kvstore.errors import PluginLoadError
from kvstore.plugins.discovery import start_local_server

print("imported before start", "fakebackend" in sys.modules)
with start_local_server("FAKE", port=7) as server:
    print("serving", server.description, server.url, server.is_running)
    # The alias scheme names the module already registered for "fake".
    print("alias opens", type(kvstore.open("alias://")).__name__)
server.stop()
import fakebackend
print("stopped", server.is_running, fakebackend.STOPS)
try:
    start_local_server("broken")
except PluginLoadError as exc:
    print("broken", exc.plugin, str(exc).startswith("local server:"))
"""


def test_a_third_party_local_server_is_found_through_its_entry_point(tmp_path: Path) -> None:
    _install_fake_distribution(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LOCAL_SERVER_SCRIPT)],
        env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "imported before start False",
        "serving fake 1.0 fake://127.0.0.1:7 True",
        "alias opens FakeStore",
        "stopped False ['fake']",
        "broken broken True",
    ]


def test_the_etcd_plugin_starts_a_local_etcd_through_its_entry_point() -> None:
    with start_local_server("etcd") as server:
        assert server.url.startswith("etcd://127.0.0.1:")
        assert server.description.startswith("etcd ")
        assert server.is_running
        with kvstore.open(server.url) as store:
            store.put("served", b"yes")
            assert store.get("served") == b"yes"
        data_dir = server.data_dir
        assert data_dir is not None and Path(data_dir).is_dir()
        if server.description in {"etcd 3.5.0", "etcd 3.5.1", "etcd 3.5.2"}:
            assert server.warning is not None and "3.5.0-3.5.2" in server.warning
    assert not server.is_running
    assert not Path(data_dir).exists()


def test_a_local_server_keeps_a_given_data_dir(tmp_path: Path) -> None:
    with (
        start_local_server("etcd", data_dir=str(tmp_path)) as server,
        kvstore.open(server.url) as store,
    ):
        store.put("kept", b"1")
    assert (tmp_path / "data").is_dir()
    with (
        start_local_server("etcd", data_dir=str(tmp_path)) as server,
        kvstore.open(server.url) as store,
    ):
        assert store.get("kept") == b"1"


def test_a_backend_without_a_local_server_says_so() -> None:
    with pytest.raises(UnsupportedOperationError, match="'memory' cannot start"):
        start_local_server("memory")


def test_a_local_server_for_an_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        start_local_server("nosuch")
    assert info.value.scheme == "nosuch"
    assert "etcd" in info.value.known and "memory" in info.value.known


def test_a_local_server_without_its_binary_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVSTORE_ETCD_BIN", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="KVSTORE_ETCD_BIN"):
        start_local_server("etcd")


def test_local_server_stops_once() -> None:
    stops: list[int] = []
    server = LocalServer(
        "x://h:1", description="x 1", stop=lambda: stops.append(1), is_running=lambda: True
    )
    assert server.is_running
    assert "x 1" in repr(server) and "running" in repr(server)
    with server:
        pass
    server.stop()
    assert stops == [1]
    assert not server.is_running
    assert "stopped" in repr(server)
