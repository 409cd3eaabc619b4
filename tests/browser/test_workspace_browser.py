"""The certificate workspace in a real browser (issue 14, JOURNEYS admin 4): the list
alone until a certificate is opened; View gives the detail its own address (a reload
keeps it, Back returns to the same filtered list); on a phone the detail replaces the
list; the actions work from the routed detail; breadcrumbs lead back."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.browser.conftest import axe_check, post_by_click

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


@pytest.fixture
def workspace(make_user, make_track, issue):
    """An admin and two issued certificates (Bea's and Cal's) on one track."""
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Roof Safety", exam=False)
    bea = make_user(Role.STAFF, name="Bea Ngata", email="bea.ngata.with.a.long.address@example.org")
    cal = make_user(Role.STAFF, name="Cal Rewi")
    return admin, issue(bea, track=track), issue(cal, track=track)


def _filter_issued_by(page, live_server, text):
    page.goto(f"{live_server}/admin/certificates")
    page.locator("nav.tabs").get_by_role("link", name="Issued").click()
    expect(page).to_have_url(re.compile(r"status=issued"))
    page.get_by_label("Recipient").fill(text)
    expect(page).to_have_url(re.compile(rf"q={text}"))


def test_a_certificate_opens_at_its_own_address_and_back_returns_to_the_filtered_list(
        page, live_server, log_in, workspace, screenshot):
    admin, bea_cert, cal_cert = workspace
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(admin.email)
    _filter_issued_by(page, live_server, "Bea")
    rows = page.locator("#certificates-list tbody tr")
    expect(rows).to_have_count(1)
    # Nothing open: no empty panel beside the list, which takes the whole width.
    expect(page.locator("#detail")).to_be_hidden()
    assert page.locator("#certificates-list").evaluate(
        "l => l.getBoundingClientRect().width > 0.9 * document.querySelector('main').clientWidth")
    screenshot("list-1280")

    page.evaluate("window.__marker = 1")
    rows.first.get_by_role("button", name="View").click()
    detail = page.locator("#certificate-detail")
    expect(detail.get_by_role("heading", name=bea_cert.number)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{bea_cert.id}\?.*q=Bea"))
    assert page.evaluate("window.__marker") == 1, "View reloaded the page"
    expect(detail.get_by_role("heading", name=bea_cert.number)).to_be_focused()
    expect(page.locator("#certificates-list")).to_be_visible()  # beside it on a wide screen
    expect(detail.get_by_role("button", name="View / Download PDF")).to_be_visible()
    # The breadcrumbs and the title follow the detail opened in place.
    expect(page.get_by_role("navigation", name="Breadcrumb").locator(
        '[aria-current="page"]')).to_have_text(bea_cert.number)
    expect(page).to_have_title(re.compile(rf"^{bea_cert.number} · Certificate Management"))
    axe_check(page, "a certificate open beside the list")
    screenshot("detail-1280")

    # A reload keeps it, with breadcrumbs; the actions work from the routed page.
    page.reload()
    expect(detail.get_by_role("heading", name=bea_cert.number)).to_be_visible()
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs.locator('[aria-current="page"]')).to_have_text(bea_cert.number)
    detail.get_by_label("Reason (required)").fill("Issued to the wrong person.")
    page.once("dialog", lambda dialog: dialog.accept())
    response = post_by_click(page, detail.get_by_role("button", name="Revoke"),
                             f"/admin/certificates/{bea_cert.id}/revoke")
    assert response.status == 200
    expect(detail.locator("header")).to_contain_text("Revoked")
    post_by_click(page, detail.get_by_role("button", name="Reinstate"),
                  f"/admin/certificates/{bea_cert.id}/reinstate")
    expect(detail.locator("header")).to_contain_text("Active")
    expect(detail.get_by_role("link", name="← Back to the list")).to_have_attribute(
        "href", re.compile(r"q=Bea"))

    # The breadcrumb returns to the same filtered list, nothing open.
    crumbs.get_by_role("link", name="Certificates").click()
    expect(page).to_have_url(re.compile(r"/admin/certificates\?.*q=Bea"))
    expect(page.get_by_label("Recipient")).to_have_value("Bea")
    expect(rows).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()

    # The browser's Back returns to the detail; Back again to the list as filtered.
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{bea_cert.id}"))
    expect(detail.get_by_role("heading", name=bea_cert.number)).to_be_visible()
    page.go_back()
    expect(page).to_have_url(re.compile(r"/admin/certificates\?.*q=Bea"))
    expect(page.get_by_label("Recipient")).to_have_value("Bea")
    expect(rows).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()


def test_on_a_phone_the_detail_replaces_the_list_and_its_back_link_returns(
        page, live_server, log_in, workspace, screenshot):
    admin, bea_cert, _ = workspace
    page.set_viewport_size(PHONE)
    log_in(admin.email)
    _filter_issued_by(page, live_server, "Bea")
    rows = page.locator("#certificates-list tbody tr")
    expect(rows).to_have_count(1)
    screenshot("list-390")

    rows.first.get_by_role("button", name="View").click()
    detail = page.locator("#certificate-detail")
    expect(detail.get_by_role("heading", name=bea_cert.number)).to_be_in_viewport()
    expect(page.locator("#certificates-list")).to_be_hidden()
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{bea_cert.id}\?"))
    assert page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"), "the detail overflows"
    axe_check(page, "a certificate open on a phone")
    screenshot("detail-390")

    detail.get_by_role("link", name="← Back to the list").click()
    expect(page).to_have_url(re.compile(r"/admin/certificates\?.*q=Bea"))
    expect(rows).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()


def test_the_certificates_history_reads_in_words(page, live_server, log_in, workspace,
                                                 screenshot):
    """JOURNEYS admin 7: from the detail's History, open the reinstatement and read what
    changed in words: the reason it cleared, no ids, no None, no "was: ->"."""
    admin, bea_cert, _ = workspace
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates?status=issued")
    page.locator(f"tr#certificate-{bea_cert.id}").get_by_role("button", name="View").click()
    detail = page.locator("#certificate-detail")
    detail.get_by_label("Reason (required)").fill("Issued to the wrong person.")
    page.once("dialog", lambda dialog: dialog.accept())
    post_by_click(page, detail.get_by_role("button", name="Revoke"),
                  f"/admin/certificates/{bea_cert.id}/revoke")
    post_by_click(page, detail.get_by_role("button", name="Reinstate"),
                  f"/admin/certificates/{bea_cert.id}/reinstate")
    detail.get_by_role("link", name="History").click()
    table = page.locator("#audit-table")
    expect(table).to_contain_text("reinstated")
    for artifact in ("None", "was:", "->", "{"):
        expect(table).not_to_contain_text(artifact)
    table.get_by_role("link", name=re.compile("reinstated certificate")).click()
    changes = page.get_by_role("table", name="What changed")
    reason = changes.get_by_role("row", name=re.compile("^Reason"))
    expect(reason).to_contain_text("Issued to the wrong person.")
    expect(reason).to_contain_text("(none)")
    expect(changes).not_to_contain_text("None")
    screenshot("audit-entry")
