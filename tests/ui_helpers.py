"""What the ``kvstore ui`` tests share (``tests/ui/``, ``tests/etcd/test_ui_etcd.py``).

``RunningUI`` serves ``kvstore.ui.create_app`` with uvicorn on a free port, in a thread
with its own event loop, over an asyncio store made in that loop. ``launch_chromium``
starts Debian's headless Chromium through Playwright (never ``playwright install``: there
is no browser download here); a missing Chromium fails the test, it never skips.
Screenshots go to ``test-artifacts/ui/`` (gitignored).
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvstore import AsyncBaseStore
from kvstore.ui import UIServer, create_app, new_token

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
START_TIMEOUT = 15.0
UI_TIMEOUT_MS = 10_000
"""How long a page waits for what a test expects to appear (a failure, not a timing check)."""


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright; fails when it is not installed."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium "
            "(.ci/run installs it)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def screenshot(page: Any, name: str) -> Path:
    """Save the page's screenshot as ``test-artifacts/ui/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


class RunningUI:
    """The UI over a store, served in a thread of its own; a context manager.

    Args:
        make_store: Makes the asyncio store, called in the server's event loop (an
            ``AsyncEtcdStore`` must be made in the loop that uses it); closed at the end.
        app_options: Passed to ``create_app`` (``write=True``, ``keyring=...``).

    Attributes:
        token: The token; ``url`` the tokened URL, ``base`` the URL without it.
    """

    def __init__(self, make_store: Callable[[], AsyncBaseStore], **app_options: Any) -> None:
        self._make_store = make_store
        self._options = app_options
        self.token = new_token()
        self._server: UIServer | None = None
        self._failure: BaseException | None = None
        self._bound = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kvstore-ui-test", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported by __enter__ / __exit__
            self._failure = exc
            self._bound.set()

    async def _main(self) -> None:
        store = self._make_store()
        try:
            app = create_app(store, token=self.token, **self._options)
            self._server = UIServer(app, token=self.token)
            self._bound.set()
            await self._server.serve()
        finally:
            await store.aclose()

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.port

    def __enter__(self) -> RunningUI:
        self._thread.start()
        self._bound.wait(START_TIMEOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while self._failure is None and not (self._server and self._server.started):
            if time.monotonic() > deadline:
                raise RuntimeError("the UI server did not start")
            time.sleep(0.02)
        if self._failure is not None:
            raise RuntimeError("the UI server failed") from self._failure
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.stop()
        self._thread.join(START_TIMEOUT)
        assert not self._thread.is_alive(), "the UI server did not stop"
        if self._failure is not None:
            raise RuntimeError("the UI server failed") from self._failure


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (no cookies kept, no redirect followed): status, headers, body."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            found = {k.lower(): v for k, v in response.headers.items()}
            return response.status, found, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
