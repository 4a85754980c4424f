"""``kvstore ui --url sqlite:///...`` / ``postgresql://...`` over plain HTTP: the page's
API serves the database that other processes write (this test's process), live."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from ui_helpers import http

from kvstore.base import BaseStore


@pytest.fixture
def ui(database_url: str, database_store: BaseStore) -> Iterator[tuple[str, str]]:
    """``kvstore ui --url URL`` in a process of its own: (base URL, token)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kvstore", "ui", "--url", database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = ""
        for _ in range(5):
            line = process.stdout.readline().strip()
            if line.startswith("http://"):
                break
        assert "/?token=" in line, (line, process.stderr.read() if process.poll() else "")
        base, _, token = line.partition("/?token=")
        yield base, token
    finally:
        process.terminate()
        process.wait(15)


def _json(ui: tuple[str, str], path: str) -> object:
    base, token = ui
    separator = "&" if "?" in path else "?"
    status, _, body = http(f"{base}{path}{separator}token={token}")
    assert status == 200, body
    return json.loads(body)


def test_the_page_serves_another_processs_writes(
    ui: tuple[str, str], database_store: BaseStore
) -> None:
    first = database_store.put("config/a", b"1")
    database_store.put("config/a", b"2")
    lease = database_store.lease_grant(60)
    database_store.put("session/x", b"here", lease=lease.id)
    tree = _json(ui, "/api/tree")
    assert isinstance(tree, dict)
    assert {"config/", "session/"} <= {entry["key"] for entry in tree["entries"]}
    shown = _json(ui, "/api/key?key=config/a")
    assert isinstance(shown, dict)
    assert base64.b64decode(shown["value"]) == b"2"
    history = _json(ui, "/api/history?key=config/a")
    assert isinstance(history, dict)
    assert [version["version"] for version in history["versions"]] == [2, 1]
    assert history["versions"][-1]["mod_revision"] == first
    leases = json.dumps(_json(ui, "/api/leases"))
    assert format(lease.id, "x") in leases or str(lease.id) in leases
    assert isinstance(_json(ui, "/api/info"), dict)
    assert isinstance(_json(ui, "/api/cluster"), dict)


def test_the_live_stream_shows_another_processs_write(
    ui: tuple[str, str], database_store: BaseStore
) -> None:
    base, token = ui
    start = database_store.put("live/seed", b"0") + 1
    request = urllib.request.Request(f"{base}/api/watch?prefix=live/&from={start}&token={token}")
    with urllib.request.urlopen(request, timeout=30) as stream:
        assert stream.readline().startswith(b"retry:")
        revision = database_store.put("live/k", b"v")
        lines = []
        while not any(line.startswith(b"data:") for line in lines):
            line = stream.readline()
            if line.startswith((b"event:", b"id:", b"data:")):
                lines.append(line.strip())
    assert lines[0] == b"event: change"
    assert lines[1] == f"id: {revision}".encode()
    event = json.loads(lines[2].removeprefix(b"data: "))
    assert event["key"] == "live/k"
