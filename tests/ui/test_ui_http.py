"""``kvstore ui`` over plain HTTP: the token, read-only refusals, bounded reads, the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ui_helpers import RunningUI, http

import kvstore.cli
from kvstore import Keyring
from kvstore.txn import Get
from kvstore.types import RangeResult
from kvstore_memory import AsyncMemoryStore, MemoryStore

# One xdist group: every test of the module on one pytest-xdist worker, so that its module
# fixtures (a store of 100,000 keys, the UI server) are set up once, not once per worker.
pytestmark = pytest.mark.xdist_group("ui-http")

ROOT = Path(__file__).resolve().parent.parent.parent


class CountingStore(AsyncMemoryStore):
    """Records how many key-values each range read returned."""

    returned: list[int]

    async def do_range(self, request: Get) -> RangeResult:
        result = await super().do_range(request)
        self.returned.append(len(result.kvs))
        return result


@pytest.fixture(scope="module")
def data() -> Iterator[MemoryStore]:
    store = MemoryStore()
    store.bulk_put({f"big/{number:06d}": b"x" for number in range(100_000)}, atomic=False)
    store.put("config/a", b"1")
    yield store
    store.close()


@pytest.fixture(scope="module")
def counting(data: MemoryStore) -> CountingStore:
    store = CountingStore(data)
    store.returned = []
    return store


@pytest.fixture(scope="module")
def ui(counting: CountingStore) -> Iterator[RunningUI]:
    with RunningUI(lambda: counting) as running:
        yield running


def _get(ui: RunningUI, path: str) -> tuple[int, dict[str, str], bytes]:
    return http(ui.base + path, headers={"Cookie": f"kvstore-ui-{ui.port}={ui.token}"})


def test_requests_without_the_token_or_with_a_wrong_one_are_refused(ui: RunningUI) -> None:
    for path in ("/", "/api/tree", "/static/app.js", "/api/watch", "/no/such/page"):
        assert http(ui.base + path)[0] == 403
        assert http(ui.base + path + "?token=wrong")[0] == 403
        assert http(ui.base + path, headers={"Cookie": f"kvstore-ui-{ui.port}=wrong"})[0] == 403
    status, headers, _ = http(ui.url)
    assert status == 303 and headers["location"] == "/"
    assert f"kvstore-ui-{ui.port}={ui.token}" in headers["set-cookie"]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=Strict" in headers["set-cookie"]
    status, headers, body = _get(ui, "/")
    assert status == 200 and b"/static/app.js" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert http(ui.base + f"/api/info?token={ui.token}")[0] == 200
    rebound = {"Host": "evil.example", "Cookie": f"kvstore-ui-{ui.port}={ui.token}"}
    assert http(ui.base + "/api/info", headers=rebound)[0] == 403


def test_writes_are_refused_without_write(ui: RunningUI, data: MemoryStore) -> None:
    revision = data.status().revision
    headers = {"Cookie": f"kvstore-ui-{ui.port}={ui.token}", "Content-Type": "application/json"}
    for path, body in (
        ("/api/put", {"key": "config/a", "value": "2"}),
        ("/api/delete", {"key": "config/a"}),
        ("/api/delete-prefix", {"prefix": "big/", "confirm": "big/"}),
    ):
        status, _, answer = http(
            ui.base + path, method="POST", headers=headers, body=json.dumps(body).encode()
        )
        assert status == 403 and b"--write" in answer
    assert _get(ui, "/api/put")[0] == 405
    assert data.status().revision == revision and data.get("config/a") == b"1"


def test_the_tree_of_100000_keys_pages_with_bounded_reads(
    ui: RunningUI, counting: CountingStore
) -> None:
    counting.returned.clear()
    top = json.loads(_get(ui, "/api/tree?prefix=")[2])
    assert [(entry["key"], entry.get("count")) for entry in top["entries"]] == [
        ("big/", 100_000),
        ("config/", 1),
    ]
    pages = []
    start = ""
    for _ in range(3):
        page = json.loads(_get(ui, f"/api/tree?prefix=big/&start={start}")[2])
        pages.append([entry["key"] for entry in page["entries"]])
        start = page["next"]
    assert pages[0][0] == "big/000000" and pages[2][-1] == "big/000299"
    assert sum(len(page) for page in pages) == 300 and page["count"] == 100_000
    assert max(counting.returned) <= 101  # never the whole prefix


def test_history_goes_back_until_the_compact_revision(ui: RunningUI, data: MemoryStore) -> None:
    revisions = [data.put("hist/k", str(number).encode()) for number in range(5)]
    data.compact_revision(revisions[2])
    found = json.loads(_get(ui, "/api/history?key=hist/k")[2])
    assert [version["version"] for version in found["versions"]] == [5, 4, 3]
    assert found["compacted"] == revisions[2]


def test_encrypted_values_are_decrypted_with_the_keys_and_written_encrypted() -> None:
    keyring = Keyring.single(Keyring.generate_key(), key_id=3)
    data = MemoryStore()
    kvstore.EncryptedStore(data, keyring).put("s/secret", b"hunter2")
    with RunningUI(lambda: AsyncMemoryStore(data), keyring=keyring, write=True) as ui:
        shown = json.loads(_get(ui, "/api/key?key=s/secret")[2])
        assert shown["encrypted"] == {"key_id": 3, "decrypted": True}
        assert shown["value"] == "aHVudGVyMg=="  # base64 of hunter2
        headers = {
            "Cookie": f"kvstore-ui-{ui.port}={ui.token}",
            "Content-Type": "application/json",
        }
        body = json.dumps({"key": "s/other", "value": "new"}).encode()
        assert http(ui.base + "/api/put", method="POST", headers=headers, body=body)[0] == 200
        cross = {**headers, "Origin": "http://evil.example"}
        assert http(ui.base + "/api/put", method="POST", headers=cross, body=body)[0] == 403
    assert data.get("s/other").startswith(b"kve")
    assert kvstore.EncryptedStore(data, keyring).get("s/other") == b"new"


def test_kvstore_ui_demo_prints_a_tokened_url(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kvstore", "ui", "--demo"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(2)]
        url = lines[1].strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url, lines
        base, _, token = url.partition("/?token=")
        assert http(base + "/api/tree")[0] == 403
        status, _, body = http(f"{base}/api/tree?token={token}")
        assert status == 200 and b"config/" in json.loads(body)["entries"][3]["key"].encode()
    finally:
        process.terminate()
        process.wait(15)


def test_without_the_ui_extra_the_command_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [name for name in sys.modules if name.startswith("kvstore.ui")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [name for name in sys.modules if name.split(".")[0] in ("starlette", "uvicorn")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "starlette", None)
    # main() sets GRPC_VERBOSITY=NONE in this process when unset, and notes it: keep both
    # from the later tests of the process (as tests/test_cli.py's `seeded` fixture does).
    monkeypatch.setattr(kvstore.cli, "_ADDED_ENV_VARS", set())
    monkeypatch.setenv("GRPC_VERBOSITY", "unchanged")
    assert kvstore.cli.main(["ui", "--demo"]) == 1
    assert 'pip install "kvstore[ui]"' in capsys.readouterr().err


def test_kvstore_imports_without_the_ui_extra() -> None:
    code = "import sys; sys.modules['starlette'] = None; import kvstore, kvstore.cli"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_the_page_assets_are_package_data() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["kvstore"]
    static = sorted((ROOT / "kvstore" / "ui" / "static").iterdir())
    assert static and all(
        any(path.relative_to(ROOT / "kvstore").match(pattern) for pattern in patterns)
        for path in static
    )


def test_an_event_stream_ends_when_its_store_closes() -> None:
    # A cancelled watch answers None at once: the stream must end, not send heartbeats
    # in a loop (it kept a stopping server's thread alive, writing to a closed socket).
    from kvstore.ui.app import create_app

    async def main() -> list[dict[str, object]]:
        store = AsyncMemoryStore()
        app = create_app(store, token="t")
        sent: list[dict[str, object]] = []
        streaming = asyncio.Event()
        requested = False

        async def receive() -> dict[str, object]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client never leaves
            raise AssertionError("unreachable")

        async def send(message: dict[str, object]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                streaming.set()
            await asyncio.sleep(0)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/watch",
            "raw_path": b"/api/watch",
            "root_path": "",
            "query_string": b"prefix=&token=t",
            "headers": [(b"host", b"127.0.0.1:8080")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8080),
        }
        served = asyncio.create_task(app(scope, receive, send))
        await streaming.wait()
        await store.aclose()
        async with asyncio.timeout(30):
            await served
        return sent

    sent = asyncio.run(main())
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert sum(1 for message in sent if message.get("body") == b": idle\n\n") <= 1
