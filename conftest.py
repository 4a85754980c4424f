"""pytest set-up of the whole repository (``tests/`` and ``examples/``).

``pyproject.toml``'s ``addopts`` runs the suite on pytest-xdist workers
(``--numprocesses=N --dist=loadgroup``, the long form of ``-n N``). With xdist switched
off (``pytest -p no:xdist``, to debug one test) or not installed, pytest would not know
those options and every run would stop on a usage error: this conftest then accepts them
and ignores them, so the tests run in one process. ``pytest -n 0`` also runs them in one
process, with xdist loaded.
"""

from __future__ import annotations

import pytest

import kvstore_sql.pytest_plugin


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Accept ``addopts``' xdist options when xdist is blocked or missing (one process)."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist-off", "pytest-xdist is off: its options are ignored")
    # Only the long forms: pytest keeps the lowercase short options (xdist's -n) for itself.
    group.addoption(
        "--numprocesses",
        dest="ignored_numprocesses",  # not xdist's dest: other plugins read that
        default=None,
        metavar="N",
        help="ignored: pytest-xdist is off (-p no:xdist) or not installed, one process runs",
    )
    group.addoption(
        "--dist",
        dest="ignored_dist",
        default=None,
        metavar="MODE",
        help="ignored: pytest-xdist is off (-p no:xdist) or not installed",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    """Say so in the header when the xdist options of ``addopts`` are being ignored."""
    if config.pluginmanager.has_plugin("xdist"):
        return None
    return "xdist: off (-p no:xdist or not installed), the tests run in this one process"


def pytest_configure(config: pytest.Config) -> None:
    """Load the SQL fixtures (``kvstore_sql.pytest_plugin``) when the installed metadata
    predates its ``pytest11`` entry point (an editable install made before it was added)."""
    if not config.pluginmanager.has_plugin("kvstore_sql"):
        config.pluginmanager.register(kvstore_sql.pytest_plugin, "kvstore_sql")
