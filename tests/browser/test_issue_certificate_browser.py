"""The admin's Issue Certificate journey as a person does it (JOURNEYS.md, Platform admin 4):
open the modal, type part of a name, pick the person from the results, choose the course
and type, issue; the certificate appears under Issued. A double-click issues once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateStatus, Role


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


def test_admin_finds_the_recipient_by_typing_and_issues(app, page, live_server, log_in,
                                                        make_user, make_track, screenshot,
                                                        page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    recipient = make_user(Role.STAFF, name="Wiremu Tānekaha")
    make_user(Role.STAFF, name="Wendy Other")
    track = make_track("Scaffold Safety")
    course = track.courses[0]
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates")
    page.get_by_role("button", name="Issue Certificate").click()
    dialog = page.locator("#issue-dialog")
    expect(dialog).to_be_visible()

    search = dialog.get_by_label("Search recipients")
    search.fill("Wiremu")  # part of the name, then the results
    results = dialog.locator("#recipient-results")
    expect(results).to_contain_text("Wiremu Tānekaha")
    expect(results).not_to_contain_text("Wendy Other")
    search.fill("W")  # a second search still has somewhere to show its results
    expect(results).to_contain_text("Wendy Other")
    search.fill("tānekaha")  # case and macrons as typed; wait for this search's answer
    expect(results).not_to_contain_text("Wendy Other")
    expect(results.get_by_text("Wiremu Tānekaha")).to_be_visible()
    results.get_by_label(re.compile("Wiremu Tānekaha")).check()
    dialog.locator('select[name="course_id"]').select_option(
        label=f"Scaffold Safety — {course.title}")
    dialog.get_by_label("Type").select_option(label="Mastery")
    screenshot("modal-filled")
    dialog.get_by_role("button", name="Issue").dblclick()

    expect(page.get_by_text("Certificate issued")).to_be_visible()
    with app.app_context():
        issued = db.session.scalars(select(Certificate).where(
            Certificate.recipient_id == recipient.id)).all()
    assert len(issued) == 1 and issued[0].status == CertificateStatus.ISSUED
    assert issued[0].course_id == course.id and issued[0].type.value == "MASTERY"

    page.get_by_role("button", name="Close").click()
    expect(page.locator("#issue-dialog")).to_be_hidden()
    page.locator("nav.tabs").get_by_role("link", name="Issued").click()
    row = page.locator(f"tr#certificate-{issued[0].id}")
    expect(row).to_contain_text("Wiremu Tānekaha")
    expect(row).to_contain_text(issued[0].number)
    screenshot("issued-tab")
    assert not page_errors, page_errors
