"""The header's global search in a real browser (issue 14): an admin types part of a name
and picks a hit from the dropdown, by mouse and by keyboard; Enter opens the results
page; an org admin's dropdown never shows another organization's people; at phone width
the search stays in the header and its hits fit the screen; breadcrumbs lead back from a certificate."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.browser.conftest import axe_check

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


@pytest.fixture
def people(make_org, make_user, make_track, issue):
    acme, other = make_org("Acme Roofing"), make_org("Other Roofing")
    ours = make_user(Role.STAFF, acme, name="Mereana Tautahi", email="mereana@acme.test")
    theirs = make_user(Role.STAFF, other, name="Mereana Outsider", email="mereana@other.test")
    track = make_track("Membrane Roofing", exam=False)
    return {"acme": acme, "ours": ours, "theirs": theirs, "track": track,
            "cert": issue(ours, track=track),
            "admin": make_user(Role.ADMIN, name="Ada Admin"),
            "org_admin": make_user(Role.ORG_ADMIN, acme, name="Olive Orgadmin")}


def _search_box(page):
    return page.get_by_role("search").get_by_role("searchbox", name="Search").first


def test_an_admin_types_a_name_and_clicks_a_hit_then_uses_the_keyboard(
        page, live_server, log_in, people, screenshot):
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(people["admin"].email)
    box = _search_box(page)
    box.press_sequentially("merea", delay=30)
    hits = page.locator("#global-search-hits")
    expect(hits.get_by_role("link", name=re.compile("Mereana Tautahi"))).to_be_visible()
    expect(hits.get_by_role("link", name=re.compile("Mereana Outsider"))).to_be_visible()
    expect(box).to_be_focused()  # typing is never interrupted by the dropdown
    expect(page.locator("#global-search-status")).to_have_text(
        "2 results for merea. Arrow down to choose one.")
    axe_check(page, "the search dropdown open")
    screenshot("dropdown-1280")
    hits.get_by_role("link", name=re.compile("Mereana Tautahi")).click()
    expect(page).to_have_url(re.compile(rf"/people/{people['ours'].id}$"))
    expect(page.get_by_role("heading", name=re.compile("Mereana Tautahi"))).to_be_visible()

    # Keyboard: ArrowDown into the hits, Escape back to the field, Enter for every result.
    box = _search_box(page)
    box.press_sequentially(people["cert"].number.lower(), delay=10)
    hit = hits.get_by_role("link", name=re.compile(people["cert"].number))
    expect(hit).to_be_visible()
    box.press("ArrowDown")
    expect(hit).to_be_focused()
    page.keyboard.press("Escape")
    expect(box).to_be_focused()
    expect(hits).to_be_hidden()
    box.press("ArrowDown")
    expect(hit).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{people['cert'].id}$"))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.locator('[aria-current="page"]')).to_have_text(people["cert"].number)
    crumbs.get_by_role("link", name="Certificates").click()
    expect(page).to_have_url(re.compile(r"/admin/certificates$"))

    box = _search_box(page)
    box.fill("roofing")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=roofing"))
    results = page.locator("#search-results")
    expect(results.get_by_role("heading", name=re.compile("Tracks"))).to_be_visible()
    results.get_by_role("link", name=re.compile("Membrane Roofing")).click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{people['track'].id}$"))
    screenshot("after-track-hit-1280")


def test_an_org_admin_finds_only_their_own_people_and_the_search_fits_a_phone(
        page, live_server, log_in, people, screenshot):
    page.set_viewport_size(PHONE)
    log_in(people["org_admin"].email)
    box = _search_box(page)
    box.press_sequentially("mereana", delay=30)
    hits = page.locator("#global-search-hits")
    expect(hits.get_by_role("link", name=re.compile("Mereana Tautahi"))).to_be_visible()
    expect(hits).not_to_contain_text("Outsider")
    expect(hits).not_to_contain_text("other.test")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"), "the page overflows"
    screenshot("dropdown-390")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=mereana"))
    expect(page.locator("#search-results")).not_to_contain_text("Outsider")
    axe_check(page, "the results page at 390 px")
    screenshot("results-390")


def test_breadcrumbs_lead_back_up_from_a_quiz(
        page, live_server, log_in, people, make_track, screenshot):
    """Track > course > quiz: each step a link but the page itself (aria-current)."""
    track = make_track("Flashing Details")  # with an exam course
    exam = next(c for c in track.courses if c.has_exam)
    log_in(people["admin"].email)
    _search_box(page).press_sequentially("flashing", delay=20)
    page.locator("#global-search-hits").get_by_role(
        "link", name=re.compile("Track.*Flashing Details")).click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{track.id}$"))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.locator('[aria-current="page"]')).to_have_text("Flashing Details")
    page.locator(f"tr#course-{exam.id}").get_by_role("button", name="Quiz").click()
    expect(page).to_have_url(re.compile(rf"/admin/courses/{exam.id}/quiz$"))
    expect(crumbs.get_by_role("listitem")).to_have_text(
        ["Tracks", "Flashing Details", exam.title, "Quiz"])
    expect(crumbs.locator('[aria-current="page"]')).to_have_text("Quiz")
    screenshot("quiz-breadcrumbs")
    crumbs.get_by_role("link", name="Flashing Details").click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{track.id}$"))
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Tracks").click()
    expect(page).to_have_url(re.compile(r"/admin/tracks$"))
