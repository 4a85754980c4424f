"""``kvstore ui`` on a real etcd, in headless Chromium: the tree, a live change, a lock holder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright
from ui_helpers import UI_TIMEOUT_MS, RunningUI, launch_chromium, screenshot

import kvstore
from kvstore_etcd import EtcdStore

pytestmark = pytest.mark.etcd


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def test_tree_live_change_and_lock_holder_on_etcd(
    browser: Any, etcd_store: EtcdStore, etcd_endpoints: list[str]
) -> None:
    etcd_store.bulk_put({"config/db/host": b"db.internal", "config/db/port": b"5432"})
    url = "etcd://" + ",".join(etcd_endpoints)
    with RunningUI(lambda: kvstore.open_async(url), url=url) as ui:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        try:
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(ui.url)
            page.get_by_test_id("tree-dir").filter(has_text="config/").click()
            page.get_by_test_id("tree-dir").filter(has_text="db/").click()
            page.get_by_test_id("tree-key").filter(has_text="port").click()
            expect(page.get_by_test_id("value")).to_have_text("5432")
            page.locator("#tabs button[data-tab=live]").click()
            expect(page.get_by_test_id("live-state")).to_have_attribute("data-state", "open")
            etcd_store.put("config/db/port", b"6432")
            expect(page.get_by_test_id("event").filter(has_text="config/db/port")).to_contain_text(
                "6432"
            )
            page.locator("#tabs button[data-tab=locks]").click()
            with etcd_store.new_lock("nightly", ttl=10) as lock:
                row = page.get_by_test_id("lock").filter(has_text="nightly")
                expect(row.get_by_test_id("fencing-token")).to_have_text(str(lock.fencing_token))
                screenshot(page, "etcd-locks")
            expect(page.get_by_test_id("lock").filter(has_text="nightly")).to_have_count(0)
            page.locator("#tabs button[data-tab=cluster]").click()
            expect(page.get_by_test_id("member")).to_have_count(1)
            screenshot(page, "etcd-cluster")
        finally:
            context.close()
