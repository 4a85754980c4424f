"""``kvstore ui`` in a real headless Chromium, on a MemoryStore seeded by the demo.

One browser and one server per module; each test opens a fresh page with the token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from ui_helpers import UI_TIMEOUT_MS, RunningUI, launch_chromium, screenshot

from kvstore.cli._sync.demo import seeded
from kvstore.recipes import QUEUE_NAMESPACE
from kvstore_memory import AsyncMemoryStore, MemoryStore

# One xdist group: every test of the module on one pytest-xdist worker, so that its module
# fixtures (Chromium, the demo's data, two UI servers) are set up once, not once per worker.
pytestmark = pytest.mark.xdist_group("ui-browser")

SCRIPT_KEY = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def data() -> Iterator[MemoryStore]:
    store = MemoryStore()
    with seeded(store):
        store.put(SCRIPT_KEY, b"<img src=x onerror=alert(2)>")
        yield store
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def ui(data: MemoryStore) -> Iterator[RunningUI]:
    with RunningUI(lambda: AsyncMemoryStore(data)) as running:
        yield running


@pytest.fixture(scope="module")
def writable_ui(data: MemoryStore) -> Iterator[RunningUI]:
    with RunningUI(lambda: AsyncMemoryStore(data), write=True) as running:
        yield running


def _page(browser: Any, running: RunningUI) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(running.url)
    expect(page.get_by_test_id("tree")).to_contain_text("config/")
    yield page, dialogs
    context.close()


@pytest.fixture
def page(browser: Any, ui: RunningUI) -> Iterator[tuple[Any, list[str]]]:
    yield from _page(browser, ui)


def test_the_token_leaves_the_address_bar_and_the_tree_shows_the_seeded_keys(
    page: tuple[Any, list[str]], ui: RunningUI
) -> None:
    view, _ = page
    assert "token=" not in view.url
    tree = view.get_by_test_id("tree")
    for directory in ("accounts/", "config/", "jobs/", "__kvstore/"):
        expect(tree).to_contain_text(directory)
    expect(view.get_by_test_id("mode")).to_have_text("read-only")
    view.get_by_test_id("tree-dir").filter(has_text="config/").click()
    view.get_by_test_id("tree-dir").filter(has_text="db/").click()
    view.get_by_test_id("tree-key").filter(has_text="host").click()
    expect(view.get_by_test_id("value")).to_have_text("db.internal")
    expect(view.get_by_test_id("key-meta")).to_contain_text("version")
    expect(view.locator("#edit-tools")).to_be_hidden()
    screenshot(view, "keys")


def test_json_hex_history_and_an_encrypted_value(page: tuple[Any, list[str]]) -> None:
    view, _ = page
    view.get_by_test_id("prefix-input").fill("config/")
    view.get_by_test_id("prefix-input").press("Enter")
    view.get_by_test_id("tree-key").filter(has_text="service.json").click()
    expect(view.get_by_test_id("value")).to_contain_text('"replicas": 3')
    view.get_by_test_id("prefix-input").fill("blobs/")
    view.get_by_test_id("prefix-input").press("Enter")
    view.get_by_test_id("tree-key").filter(has_text="logo.bin").click()
    expect(view.get_by_test_id("value")).to_contain_text("00000000  00 07 0e")
    view.get_by_test_id("prefix-input").fill("accounts/")
    view.get_by_test_id("prefix-input").press("Enter")
    view.get_by_test_id("tree-key").filter(has_text="alice").click()
    expect(view.get_by_test_id("history-row")).to_have_count(3)
    expect(view.get_by_test_id("history")).to_contain_text("100")
    view.get_by_test_id("prefix-input").fill("secrets/")
    view.get_by_test_id("prefix-input").press("Enter")
    view.get_by_test_id("tree-key").filter(has_text="api-token").click()
    expect(view.get_by_test_id("value-note")).to_contain_text("encrypted (key id 7)")


def test_a_put_appears_live(page: tuple[Any, list[str]], data: MemoryStore) -> None:
    view, _ = page
    view.locator("#tabs button[data-tab=live]").click()
    expect(view.get_by_test_id("live-state")).to_have_attribute("data-state", "open")
    revision = data.put("jobs/4", b"queued live")
    row = view.get_by_test_id("event").filter(has_text="jobs/4")
    expect(row).to_contain_text("queued live")
    expect(row).to_contain_text(str(revision))
    screenshot(view, "live")


def test_a_lock_holder_appears_and_disappears(
    page: tuple[Any, list[str]], data: MemoryStore
) -> None:
    view, _ = page
    view.locator("#tabs button[data-tab=locks]").click()
    expect(view.get_by_test_id("lock-name").filter(has_text="reports/nightly")).to_be_visible()
    expect(view.get_by_test_id("leader-value")).to_have_text("worker-1")
    with data.new_lock("billing", ttl=10) as lock:
        row = view.get_by_test_id("lock").filter(has_text="billing")
        expect(row.get_by_test_id("fencing-token")).to_have_text(str(lock.fencing_token))
        screenshot(view, "locks")
    expect(view.get_by_test_id("lock").filter(has_text="billing")).to_have_count(0)


def test_the_coordination_tab_shows_the_recipes_and_an_etcd_layout_lock(
    page: tuple[Any, list[str]], data: MemoryStore
) -> None:
    view, _ = page
    with contextlib.ExitStack() as stack:
        pool = [data.new_semaphore("pool", 2) for _ in range(2)]
        for holder in pool:
            assert holder.acquire(timeout=5)
            stack.callback(holder.close)
        stack.enter_context(data.new_rwlock("settings").read_lock())
        stack.enter_context(data.new_party("workers", "alice"))
        emails = data.new_queue("emails")
        for number in range(3):
            emails.put(f"mail {number}".encode())
        stack.callback(data.delete_prefix, QUEUE_NAMESPACE)
        deploy = stack.enter_context(data.new_lock("deploy", layout="etcd"))
        view.locator("#tabs button[data-tab=locks]").click()

        def row(kind: str, name: str) -> Any:
            return view.locator(f"[data-testid=recipe][data-kind={kind}]").filter(has_text=name)

        expect(row("semaphore", "pool").get_by_test_id("recipe-state")).to_have_text("2 of 2 held")
        expect(row("semaphore", "pool").get_by_test_id("recipe-holder")).to_have_count(2)
        expect(row("rwlock", "settings").get_by_test_id("recipe-state")).to_have_text(
            "read-locked by 1 reader"
        )
        expect(row("party", "workers").get_by_test_id("recipe-holder")).to_contain_text("alice")
        expect(row("queue", "emails").get_by_test_id("recipe-state")).to_have_text("3 items")
        view.get_by_test_id("etcd-lock-name").fill("deploy")
        view.get_by_test_id("etcd-lock-go").click()
        shown = view.get_by_test_id("etcd-lock-row")
        expect(shown.get_by_test_id("holder-key")).to_have_text(deploy.key)
        expect(shown.get_by_test_id("fencing-token")).to_have_text(str(deploy.fencing_token))
        screenshot(view, "coordination")
    expect(view.get_by_test_id("etcd-lock-empty")).to_contain_text('no key under "deploy/"')
    expect(view.locator("[data-testid=recipe][data-kind=semaphore]")).to_have_count(0)


def test_leases_count_down_and_cluster_shows_the_member(page: tuple[Any, list[str]]) -> None:
    view, _ = page
    view.locator("#tabs button[data-tab=leases]").click()
    lease = view.get_by_test_id("lease").filter(has_text="sessions/alice")
    ttl = lease.locator("td.ttl")
    first = ttl.inner_text()
    expect(ttl).not_to_have_text(first)  # the TTL counts down in the page
    screenshot(view, "leases")
    view.locator("#tabs button[data-tab=cluster]").click()
    expect(view.get_by_test_id("member")).to_contain_text("memory")
    expect(view.get_by_test_id("no-alarms")).to_be_visible()
    screenshot(view, "cluster")


def test_a_key_with_html_is_shown_as_text_and_never_runs(page: tuple[Any, list[str]]) -> None:
    view, dialogs = page
    # its "/" makes "<script>alert(1)</" a directory of the tree, holding "script>"
    folder = view.get_by_test_id("tree-dir").filter(has_text="<script>alert(1)</")
    expect(folder).to_have_text("<script>alert(1)</")
    folder.click()
    expect(view.get_by_test_id("crumbs")).to_contain_text("<script>alert(1)<")
    view.get_by_test_id("tree-key").filter(has_text="script>").click()
    expect(view.get_by_test_id("key-name")).to_have_text(SCRIPT_KEY)
    expect(view.get_by_test_id("value")).to_have_text("<img src=x onerror=alert(2)>")
    assert view.locator("main img").count() == 0
    assert view.locator("script").count() == 1  # the page's own app.js
    view.wait_for_timeout(200)
    assert dialogs == []


def test_with_write_a_value_is_edited(
    browser: Any, writable_ui: RunningUI, data: MemoryStore
) -> None:
    for view, dialogs in _page(browser, writable_ui):
        expect(view.get_by_test_id("mode")).to_have_text("read-write")
        view.get_by_test_id("prefix-input").fill("jobs/")
        view.get_by_test_id("prefix-input").press("Enter")
        view.get_by_test_id("tree-key").filter(has_text="3").click()
        expect(view.get_by_test_id("value")).to_have_text("queued")
        view.get_by_test_id("edit-value").fill("running on worker-2")
        view.get_by_test_id("edit-save").click()
        expect(view.get_by_test_id("value")).to_have_text("running on worker-2")
        assert data.get("jobs/3") == b"running on worker-2"
        expect(view.get_by_test_id("history-row")).to_have_count(2)
        view.get_by_test_id("new-key").fill("jobs/tmp/a")
        view.get_by_test_id("new-value").fill("x")
        view.get_by_test_id("new-key-save").click()
        expect(view.get_by_test_id("key-name")).to_have_text("jobs/tmp/a")
        view.get_by_test_id("delete-prefix").fill("jobs/tmp/")
        view.get_by_test_id("delete-prefix-confirm").fill("jobs/tmp")
        view.get_by_test_id("delete-prefix-go").click()
        expect(view.get_by_test_id("error")).to_contain_text("confirm")
        assert data.exists("jobs/tmp/a")
        view.get_by_test_id("delete-prefix-confirm").fill("jobs/tmp/")
        view.get_by_test_id("delete-prefix-go").click()
        expect(view.get_by_test_id("tree-count")).to_contain_text("deleted 1 key(s)")
        assert not data.exists("jobs/tmp/a")
        screenshot(view, "edit")
        assert dialogs == []
