"""The pages' stylesheets and scripts, in a real browser, with the production static
set-up (hashed names trusted for STATIC_RECHECK_SECONDS, links drawn by static_url):
each kind of person walks to the screens that link assets of their own (the dashboards'
charts, the lists' selection bar) through the menu, and every asset the page asked for
arrives, every stylesheet it links is applied, and its scripts run."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from app import seed
from tests.browser.conftest import log_in_page, open_main_menu

# Every <link rel=stylesheet> has rules the browser parsed, and every <script src> is on
# the page (a 404 would leave a sheet without rules; the responses are checked too).
ASSETS = """() => ({
  sheets: [...document.querySelectorAll('link[rel=stylesheet]')].map(
      l => [l.getAttribute('href'), l.sheet ? l.sheet.cssRules.length : 0]),
  scripts: [...document.querySelectorAll('script[src]')].map(s => s.getAttribute('src')),
  htmx: typeof window.htmx,
})"""


@pytest.fixture
def production_statics(app: Flask) -> None:
    """Production's interval (APP_ENV=test checks on every link, as development does)."""
    app.extensions["static_assets"].recheck = 2.0


@pytest.fixture
def static_responses(page: Any) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []
    page.on("response", lambda r: seen.append((r.url, r.status)) if "/static/" in r.url else None)
    return seen


def _assets_arrived(page: Any, seen: list[tuple[str, int]], *, expect_sheet: str) -> None:
    expect(page.locator("main#content")).to_be_visible()
    page.wait_for_load_state("load")
    state = page.evaluate(ASSETS)
    hrefs = [href for href, _ in state["sheets"]]
    assert any(expect_sheet in href for href in hrefs), hrefs
    empty = [href for href, rules in state["sheets"] if rules == 0]
    assert not empty, f"stylesheets not applied: {empty}"
    assert state["htmx"] == "object", "htmx did not run"
    failed = [(url, status) for url, status in seen if status >= 400]
    assert not failed, failed
    # Each link is a content-hashed name (static_url), not a plain one.
    assert all(".min." in h or h.count(".") >= 2 for h in hrefs + state["scripts"]), hrefs


def _menu(page: Any, group: str, item: str) -> None:
    open_main_menu(page)
    page.get_by_role("navigation", name="Main").get_by_text(group, exact=True).click()
    page.get_by_role("link", name=item, exact=True).click()


def test_admin_screens_load_their_charts_and_selection_assets(
        page: Any, live_server: str, demo: dict[str, Any], production_statics: None,
        static_responses: list[tuple[str, int]], screenshot: Any) -> None:
    log_in_page(page, live_server, "admin@demo.test", seed.DEMO_PASSWORD)

    _menu(page, "Manage", "Dashboard")
    _assets_arrived(page, static_responses, expect_sheet="css/charts.")
    screenshot("admin-dashboard")

    # The certificate list: the selection bar's stylesheet and script. Ticking the page's
    # box selects its rows (js/selection.js) and the bar says so.
    _menu(page, "Manage", "Certificates")
    page.get_by_role("link", name="Issued").first.click()
    expect(page).to_have_url(f"{live_server}/admin/certificates?status=issued")
    _assets_arrived(page, static_responses, expect_sheet="css/selection.")
    count = page.locator("#bulk-count")
    expect(count).to_have_text("No certificates selected.")
    page.get_by_label("Select every certificate on this page").check()
    expect(count).to_contain_text("selected.")
    expect(count).not_to_have_text("No certificates selected.")
    screenshot("certificates-selected")

    # A micro-credential's holders: the same selection assets on another screen.
    _menu(page, "Manage", "Micro-credentials")
    page.get_by_role("row").filter(has_text="Working at Heights").get_by_role(
        "button", name="Staff").click()
    expect(page.get_by_role("heading", name="Working at Heights", level=1)).to_be_visible()
    _assets_arrived(page, static_responses, expect_sheet="css/selection.")
    screenshot("holders")


def test_manager_and_staff_dashboards_load_their_charts(
        page: Any, live_server: str, demo: dict[str, Any], production_statics: None,
        static_responses: list[tuple[str, int]], screenshot: Any, new_page: Any) -> None:
    log_in_page(page, live_server, "manager@demo.test", seed.DEMO_PASSWORD)
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", name="Training dashboard")).to_be_visible()
    _assets_arrived(page, static_responses, expect_sheet="css/charts.")
    screenshot("manager-dashboard")

    staff = new_page()
    seen: list[tuple[str, int]] = []
    staff.on("response", lambda r: seen.append((r.url, r.status)) if "/static/" in r.url else None)
    log_in_page(staff, live_server, "zoe@demo.test", seed.DEMO_PASSWORD)
    open_main_menu(staff)
    staff.get_by_role("link", name="My page", exact=True).click()
    _assets_arrived(staff, seen, expect_sheet="css/charts.")
    screenshot("staff-me", on=staff)


def test_org_admin_dashboard_loads_its_charts(
        page: Any, live_server: str, demo: dict[str, Any], production_statics: None,
        static_responses: list[tuple[str, int]], screenshot: Any) -> None:
    log_in_page(page, live_server, "orgadmin@demo.test", seed.DEMO_PASSWORD)
    page.locator("nav.org-tabs").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(f"{live_server}/org/dashboard")
    _assets_arrived(page, static_responses, expect_sheet="css/charts.")
    screenshot("org-dashboard")
