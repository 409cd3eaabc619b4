"""Sortable columns in a real browser: click a header, read the order, the URL keeps it,
a filter keeps it, the keyboard works."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from app.models import Role

ROWS = "#users-rows tr > td:first-child > a[href^='/people/']"


def _names(page) -> list[str]:
    return page.locator(ROWS).all_inner_texts()


def test_admin_sorts_users_by_clicking_headers(page, live_server, log_in, make_user, make_org,
                                               admin_user, screenshot, page_errors):
    north, aotea = make_org("North Ltd"), make_org("Aotea Ltd")
    make_user(Role.STAFF, north, name="Carol Zeta", email="a-carol@example.test")
    make_user(Role.STAFF, aotea, name="Bob Young", email="z-bob@example.test")
    make_user(Role.MANAGER, None, name="Anne Xu", email="m-anne@example.test")
    log_in(admin_user.email)
    page.get_by_role("link", name="Users").first.click()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    seen = len(page_errors)  # from here on: the users page and its swaps
    assert _names(page) == ["Ada Admin", "Anne Xu", "Bob Young", "Carol Zeta"]
    name_header = page.get_by_role("columnheader", name="Name")
    expect(name_header).to_have_attribute("aria-sort", "ascending")

    email = page.get_by_role("columnheader", name="Email")
    email.get_by_role("link").click()
    expect(email).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"sort=email&dir=asc"))
    expect(page.get_by_role("columnheader", name="Name")).not_to_have_attribute("aria-sort",
                                                                                  re.compile("."))
    assert _names(page) == ["Carol Zeta", "Ada Admin", "Anne Xu", "Bob Young"]

    # Again: the other way round; from the keyboard this time.
    page.get_by_role("columnheader", name="Email").get_by_role("link").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("columnheader", name="Email")).to_have_attribute("aria-sort",
                                                                             "descending")
    # The focus stays on the header (the link was replaced by one with its id).
    expect(page.get_by_role("columnheader", name="Email").get_by_role("link")).to_be_focused()
    expect(page).to_have_url(re.compile(r"sort=email&dir=desc"))
    assert _names(page) == ["Bob Young", "Anne Xu", "Ada Admin", "Carol Zeta"]
    screenshot("users-by-email-desc")

    # A filter keeps the sort (the form carries it) and the URL says both.
    with page.expect_response(lambda r: "role=staff" in r.url):
        page.locator("#user-filters").get_by_label("Role").select_option("staff")
    expect(page).to_have_url(re.compile(r"role=staff"))
    expect(page).to_have_url(re.compile(r"sort=email&dir=desc"))
    expect(page.locator(ROWS)).to_have_count(2)
    assert _names(page) == ["Bob Young", "Carol Zeta"]

    # Organization: Aotea before North; the shared URL opens sorted the same way.
    page.get_by_role("columnheader", name="Organization").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=organization&dir=asc"))
    assert _names(page) == ["Bob Young", "Carol Zeta"]
    page.reload()
    expect(page.get_by_role("columnheader", name="Organization")).to_have_attribute(
        "aria-sort", "ascending")
    assert _names(page) == ["Bob Young", "Carol Zeta"]
    assert not page_errors[seen:], page_errors[seen:]
