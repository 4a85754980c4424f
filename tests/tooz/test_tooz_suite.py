"""tooz's own functional tests (``tooz.tests.test_coordination``, written by tooz's authors)
against the kvstore driver, on etcd and on PostgreSQL (SPEC 25).

Each run is a subprocess: ``python -m pytest --pyargs tooz.tests.test_coordination`` with
``TOOZ_TEST_URL`` set, as tooz's own CI runs it against its drivers, outside this
project's pytest configuration (its own empty ini, no xdist). It passes when no test fails
or errors, at least ``PASS_FLOOR`` pass (what tooz's own ``file://`` driver passes on this
machine), and every skipped test is one ``docs/tooz.md`` lists with why (``SKIPPED``).

The driver is found through the ``tooz.backends`` entry points of the installed project
(``pip install -e ".[dev]"``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tooz_suite"), pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]

PASS_FLOOR = 67
"""Tests that tooz's own ``file://`` driver passes (67 passed, 16 skipped, tooz 9.1)."""

SKIPPED = {
    "test_watch_join_group_disappear": (
        "tooz runs it only for its own etcd3gw, memcached and redis driver classes "
        "(an isinstance check)"
    ),
}
"""The tests tooz skips for this driver, and why (docs/tooz.md lists them)."""

RUN_TIMEOUT = 540.0
"""Upper bound for one run of tooz's suite; reaching it fails the test."""


def run_tooz_suite(url: str, tmp_path: Path) -> dict[str, str]:
    """Run tooz's coordination tests against ``url``; each test's outcome by name."""
    names = {ep.name for ep in entry_points(group="tooz.backends")}
    scheme = url.partition("://")[0]
    assert scheme in names, (
        f"no {scheme} in the tooz.backends entry points: install the project "
        '(pip install -e ".[dev]") so that tooz finds the driver'
    )
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    report = tmp_path / "tooz.xml"
    env = dict(os.environ)
    env["TOOZ_TEST_URL"] = url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    for variable in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(variable, None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            str(ini),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-q",
            "-rfEs",
            f"--junitxml={report}",
            "--pyargs",
            "tooz.tests.test_coordination",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    output = completed.stdout[-6000:] + completed.stderr[-3000:]
    assert report.exists(), f"tooz's suite wrote no report:\n{output}"
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[name] = "failed"
        elif case.find("skipped") is not None:
            outcomes[name] = "skipped"
        else:
            outcomes[name] = "passed"
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    assert failed == [], f"tooz tests failed on the driver: {failed}\n{output}"
    assert completed.returncode == 0, output
    return outcomes


def check_outcomes(outcomes: dict[str, str]) -> None:
    passed = [name for name, outcome in outcomes.items() if outcome == "passed"]
    skipped = sorted(name for name, outcome in outcomes.items() if outcome == "skipped")
    assert len(passed) >= PASS_FLOOR, f"only {len(passed)} of tooz's tests passed: {outcomes}"
    assert [name for name in skipped if name not in SKIPPED] == []


def test_tooz_suite_on_etcd(tooz_etcd_url: str, tmp_path: Path) -> None:
    check_outcomes(run_tooz_suite(tooz_etcd_url, tmp_path))


def test_tooz_suite_on_postgresql(tooz_postgres_url: str, tmp_path: Path) -> None:
    check_outcomes(run_tooz_suite(tooz_postgres_url, tmp_path))
