"""The third-party backend example (``examples/plugin_backend``) is found through its entry
point, exactly as if it were pip-installed, and works through ``kvstore.open`` and the CLI.

Installing it would be slow and change the environment, so each test writes the
``.dist-info`` that ``pip install`` would write (metadata + ``entry_points.txt`` taken from
the example's ``pyproject.toml``) into ``tmp_path`` and runs a subprocess with that
directory and the example's source on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin_backend"


def entry_points_from_pyproject(pyproject: Path) -> dict[str, str]:
    """The ``[project.entry-points.kvstore]`` table of a pyproject.toml (name -> module)."""
    section = re.search(
        r"^\[project\.entry-points\.kvstore\]\n(.*?)(?=^\[|\Z)",
        pyproject.read_text(encoding="utf-8"),
        re.MULTILINE | re.DOTALL,
    )
    assert section is not None, "the example declares no kvstore entry point"
    return dict(re.findall(r'^(\w+)\s*=\s*"([^"]+)"', section.group(1), re.MULTILINE))


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    """An environment in which the example is 'installed' (dist-info on ``PYTHONPATH``)."""
    dist_info = tmp_path / "kvstore_dictstore-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: kvstore-dictstore\nVersion: 0.1.0\n", encoding="utf-8"
    )
    points = entry_points_from_pyproject(EXAMPLE / "pyproject.toml")
    (dist_info / "entry_points.txt").write_text(
        "[kvstore]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()),
        encoding="utf-8",
    )
    paths = [str(tmp_path), str(EXAMPLE), os.environ.get("PYTHONPATH", "")]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KVSTORE_")}
    environment["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    return environment


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_example_declares_the_dictstore_scheme() -> None:
    assert entry_points_from_pyproject(EXAMPLE / "pyproject.toml") == {
        "dictstore": "kvstore_dictstore.plugin"
    }


def test_kvstore_open_finds_the_installed_plugin(installed: dict[str, str]) -> None:
    code = (
        "import sys, kvstore\n"
        "print(kvstore.backends())\n"
        "assert 'kvstore_dictstore' not in sys.modules  # listed without importing it\n"
        "with kvstore.open('dictstore://') as store:\n"
        "    print(type(store).__name__, store.put('k', b'v'), store.get('k'))\n"
    )
    result = run_python(code, installed)
    assert result.returncode == 0, result.stderr
    backends, opened = result.stdout.splitlines()
    assert "dictstore" in backends and "memory" in backends
    assert opened == "DictStore 2 b'v'"


def test_without_the_dist_info_the_scheme_is_unknown() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVSTORE_")}
    code = (
        "import kvstore\n"
        "try:\n"
        "    kvstore.open('dictstore://')\n"
        "except kvstore.BackendNotFoundError as error:\n"
        "    print(error.scheme)\n"
    )
    result = run_python(code, env)
    assert result.stdout.strip() == "dictstore", result.stderr


def test_the_cli_demo_runs_on_the_plugin(installed: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kvstore.cli", "demo", "--url", "dictstore://"],
        capture_output=True,
        text=True,
        env=installed,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Done: every section ran as documented." in result.stdout


def test_a_malformed_plugin_url_is_one_clear_line(installed: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "kvstore.cli", "--url", "dictstore://host/path", "ls"],
        capture_output=True,
        text=True,
        env=installed,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("kvstore ls: error: open: dictstore:// URLs take no host")
    assert len(result.stderr.strip().splitlines()) == 1
