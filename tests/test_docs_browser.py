"""The built documentation site renders in a real headless Chromium (SPEC 24).

The site is built with ``mkdocs build --strict`` into a temporary directory and served by a
``http.server`` thread on 127.0.0.1 (Material's search runs in a web worker, which
``file://`` pages may not start). Chromium is Debian's, launched through Playwright as the
UI's browser tests do (``tests/ui_helpers.launch_chromium``: never ``playwright
install``). Each test checks the headings its page must show (the home page and its
navigation, a reference page with its Returns: / Raises: tables, the backends' capability
matrix, a migration guide) and saves a screenshot to ``test-artifacts/docs/`` (gitignored:
the test run's artifacts, to look at).
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_helpers import ROOT, build_site
from playwright.sync_api import expect, sync_playwright
from ui_helpers import UI_TIMEOUT_MS, launch_chromium

# One xdist group with the other module that builds the site (test_docs_reference.py,
# test_docs_browser.py): their tests run on one worker, which builds the site once, instead
# of one build (most of a minute on a loaded machine) on every worker they land on.
pytestmark = pytest.mark.xdist_group("docs-site")

ARTIFACTS = ROOT / "test-artifacts" / "docs"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    site = build_site(tmp_path_factory.mktemp("site"))
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def test_the_home_page_shows_its_title_and_navigation(page: Any, site_url: str) -> None:
    page.goto(site_url)
    expect(page.locator("article h1")).to_contain_text("kvstore")
    expect(page.locator("article h2").first).to_contain_text("Packages")
    navigation = page.locator("nav.md-nav--primary")
    for title in ("Getting started", "The store API", "Operations", "API reference"):
        expect(navigation.get_by_text(title, exact=True).first).to_be_attached()
    assert screenshot(page, "home").stat().st_size > 10_000


def test_a_reference_page_shows_the_rendered_api(page: Any, site_url: str) -> None:
    page.goto(site_url + "reference/kvstore.errors/")
    expect(page.locator("article h1")).to_contain_text("kvstore.errors")
    # mkdocstrings' headings: the module, then each error class with its anchor
    expect(page.locator('[id="kvstore.errors"]')).to_be_attached()
    heading = page.locator('h3[id="kvstore.errors.KeyNotFoundError"]')
    expect(heading).to_contain_text("KeyNotFoundError")
    expect(page.locator("article")).to_contain_text("KVStoreError")
    assert screenshot(page, "reference-errors").stat().st_size > 10_000


def test_a_guide_links_into_the_reference(page: Any, site_url: str) -> None:
    page.goto(site_url + "store-api/")
    expect(page.locator("article h1")).to_contain_text("The store API")
    page.locator("article").get_by_role("link", name="KVStore", exact=True).first.click()
    expect(page).to_have_url(site_url + "reference/kvstore.protocol/#kvstore.protocol.KVStore")
    expect(page.locator('h3[id="kvstore.protocol.KVStore"]')).to_contain_text("KVStore")
    # each method's docstring renders its Returns: and Raises: sections as tables
    method = page.locator('[id="kvstore.protocol.KVStore.get"]')
    expect(method).to_contain_text("get")
    sections = page.locator(".doc-contents").filter(has=page.get_by_text("Returns:", exact=True))
    expect(sections.first).to_contain_text("Raises:")
    expect(sections.first).to_contain_text("KeyNotFoundError")
    assert screenshot(page, "reference-kvstore-protocol").stat().st_size > 10_000


def test_the_backends_page_shows_the_capability_matrix(page: Any, site_url: str) -> None:
    page.goto(site_url + "backends/")
    expect(page.locator("article h1")).to_contain_text("Backends")
    expect(page.locator('article h2[id="capability-matrix"]')).to_contain_text("Capability matrix")
    matrix = page.locator("article table").filter(has_text="what it enables")
    for column in ("etcd", "memory", "SQLite, PostgreSQL"):
        expect(matrix.locator("th").filter(has_text=column).first).to_be_visible()
    assert screenshot(page, "backends-capability-matrix").stat().st_size > 10_000


def test_a_migration_guide_shows_the_calls_side_by_side(page: Any, site_url: str) -> None:
    page.goto(site_url + "migration/python-etcd3/")
    expect(page.locator("article h1")).to_contain_text("From python-etcd3")
    headings = page.locator("article h2")
    for title in ("Calls", "What changes in behaviour"):
        expect(headings.filter(has_text=title).first).to_be_visible()
    expect(page.locator("article table").first).to_be_visible()
    assert screenshot(page, "migration-python-etcd3").stat().st_size > 10_000
