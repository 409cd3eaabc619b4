"""The admin dashboard's "Micro-credentials expiring" figure in a real browser (issue
14): click the 31-60 days band, land on the awarded list showing exactly those rows;
search and sort it in place with the band kept; no critical or serious axe-core
violation and nothing wider than the screen at 1280 and 390 px."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.models import CredentialStatus, Role
from app.services import dates
from tests.browser.conftest import axe_check

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def awards(make_user, org, make_definition, make_credential):
    """Aroha and Ben's credentials expire in 45 and 50 days, Cy's in 10, Dee's in 75."""
    today = dates.today()
    height = make_definition("Working at Height")
    roofing = make_definition("Reroofing Practice")
    for name, definition, days in (("Aroha Fortyfive", height, 45), ("Ben Fifty", roofing, 50),
                                   ("Cy Ten", height, 10), ("Dee Seventyfive", height, 75)):
        make_credential(definition, make_user(Role.STAFF, org, name=name),
                        CredentialStatus.AWARDED, expiry_date=today + timedelta(days=days))


def _rows(page):
    return page.locator("#awarded tbody tr[id^=awarded-]")


def test_admin_follows_the_expiring_figure_to_its_rows(page, log_in, make_user, awards,
                                                       screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    page.set_viewport_size(DESKTOP)
    log_in(admin.email)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    chart = page.locator("#chart-credentials-expiring")
    expect(chart).to_contain_text("Micro-credentials expiring")
    band = chart.get_by_role("link", name=re.compile("31–60 days"))
    expect(band).to_contain_text("2 credentials")
    expect(chart.get_by_role("link", name=re.compile("0–30 days"))).to_contain_text("1 credential")

    band.click()
    expect(page).to_have_url(re.compile(r"/admin/micro-credentials/awarded\?expires_from="))
    expect(_rows(page)).to_have_count(2)  # the figure's 2
    expect(_rows(page).nth(0)).to_contain_text("Aroha Fortyfive")  # soonest first
    expect(_rows(page).nth(1)).to_contain_text("Ben Fifty")
    expect(page.locator("#awarded")).not_to_contain_text("Cy Ten")
    expect(page.locator("#awarded")).not_to_contain_text("Dee Seventyfive")
    expect(page.locator("#awarded-count")).to_contain_text("2 valid credentials expiring from")

    for name, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"the awarded list is {width}px wide at {name}"
        axe_check(page, f"awarded list at {name}")
        screenshot(f"awarded-list-{name}")
    page.set_viewport_size(DESKTOP)

    # Searching swaps the table in place and keeps the band (and the URL says so).
    page.evaluate("window.__sameDocument = true")
    page.locator("#awarded-q").fill("ben")
    expect(_rows(page)).to_have_count(1)
    expect(_rows(page).nth(0)).to_contain_text("Ben Fifty")
    expect(page).to_have_url(re.compile(r"q=ben"))
    expect(page).to_have_url(re.compile(r"expires_from="))
    page.locator("#awarded-q").fill("")
    expect(_rows(page)).to_have_count(2)
    # Sorting by name, Z-A after the second click, still within the band.
    page.locator("#awarded").get_by_role("link", name="Staff member").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Staff member")
    page.locator("#awarded").get_by_role("link", name="Staff member").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Staff member")
    expect(_rows(page).nth(0)).to_contain_text("Ben Fifty")
    expect(_rows(page)).to_have_count(2)
    assert page.evaluate("window.__sameDocument") is True
    screenshot("awarded-list-sorted")
    assert not page_errors, page_errors
