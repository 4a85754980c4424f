"""Plugin discovery through the ``kvstore`` entry-point group, as a third party uses it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kvstore
from kvstore.errors import BackendNotFoundError, ConfigurationError
from kvstore_memory import MemoryStore

THIRD_PARTY_BACKEND = '''
from kvstore.hookspecs import hookimpl
from kvstore_memory import MemoryStore

class FakeStore(MemoryStore):
    """A third-party backend: a MemoryStore under another name."""

@hookimpl
def kvstore_open(url, scheme):
    if scheme != "fake":
        return None
    return FakeStore()
'''

SCRIPT = '''
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
'''


def _install_fake_distribution(site: Path) -> None:
    (site / "fakebackend.py").write_text(THIRD_PARTY_BACKEND)
    dist_info = site / "fakebackend-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakebackend\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[kvstore]\nfake = fakebackend\nbroken = no_such_module_anywhere\n"
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
    assert kvstore.open("MEMORY://?max_txn_ops=4").max_txn_ops == 4  # type: ignore[attr-defined]


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(BackendNotFoundError) as info:
        kvstore.open("nosuch://user:canary-password@host")
    assert info.value.scheme == "nosuch"
    assert "memory" in info.value.known
    assert "memory" in str(info.value)
    assert "canary-password" not in str(info.value)


@pytest.mark.parametrize("url", ["", "no-scheme", "memory:/x", 42, "memory://host", "memory://?x=1"])
def test_malformed_urls_raise_configuration_errors(url: object) -> None:
    with pytest.raises(ConfigurationError):
        kvstore.open(url)  # type: ignore[arg-type]
