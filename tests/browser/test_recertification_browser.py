"""Journeys of superseded certificates and re-certification, in a real browser:
Implementation manager 4 (publish a major version from the track page, see the holders
needing re-certification), Platform admin 4's re-issue step (open a certificate, re-issue,
see the old one Superseded in the list and detail, follow its link to the new one), and
Employer 1 at phone width (read each verify page in plain words: VALID, EXPIRED, REVOKED,
SUPERSEDED, RE-CERTIFICATION REQUIRED, NOT FOUND)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    Role,
    User,
)
from app.services import certificates as certs
from app.services import training
from app.services.context import Actor
from app.services.dates import today


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


def _accept_dialogs(page) -> list[str]:
    seen: list[str] = []

    def accept(dialog):
        seen.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return seen


def _bump(app, track) -> None:
    with app.app_context():
        training.bump_version(db.session.get(CertificationTrack, track.id), Actor.system(),
                              major=True)
        db.session.commit()


def test_manager_publishes_a_major_version_and_sees_who_must_recertify(
        app, page, live_server, log_in, make_user, make_track, issue, screenshot, page_errors):
    manager = make_user(Role.MANAGER, name="Mana Manager")
    track = make_track("Working at Heights", exam=False)
    holders = [make_user(name="Aroha Ngata"), make_user(name="Björn Ødegård")]
    held = [issue(holder, track=track) for holder in holders]
    log_in(manager.email)

    page.goto(f"{live_server}/admin/tracks")
    # The grace period: edit the track's row, type it, save; a bad value is refused in place.
    row = page.locator(f"#track-{track.id}")
    row.get_by_role("button", name="Edit").click()
    grace = row.get_by_label("Re-certification grace (days)")
    grace.fill("-5")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("From 0 to 3650 days.")
    screenshot("grace-refused")
    grace.fill("0")
    row.get_by_role("button", name="Save").click()
    expect(row.get_by_role("button", name="Edit")).to_be_visible()
    page.get_by_role("link", name="Working at Heights").first.click()
    expect(page.get_by_role("heading", name=re.compile("Working at Heights"))).to_contain_text(
        "v1.0")
    expect(page.locator("#recertification")).to_have_count(0)
    screenshot("track-before")

    dialogs = _accept_dialogs(page)
    page.get_by_role("button", name="New major version").click()
    header = page.locator("#track-header")
    expect(header.get_by_role("heading", level=1)).to_contain_text("v2.0")
    expect(header.get_by_role("status")).to_have_text("Version 2.0: 2 holder(s) must re-certify.")
    assert dialogs and "back to re-certify" in dialogs[0]
    table = page.locator("#recertification")
    expect(table.get_by_role("heading")).to_have_text("Holders of an earlier version")
    for holder, certificate in zip(holders, held, strict=True):
        row = table.locator(f"#recertify-{certificate.id}")
        expect(row).to_contain_text(holder.name)
        expect(row).to_contain_text(certificate.number)
        expect(row).to_contain_text("1.0")
        expect(row).to_contain_text("Re-certification required")
    screenshot("track-after-major")

    # A second click on the stale page is refused in place; the version stays 2.0.
    # (The header was swapped: its buttons now carry 2.0; a minor version stays certified.)
    page.get_by_role("button", name="New minor version").click()
    expect(header.get_by_role("heading", level=1)).to_contain_text("v2.1")
    expect(page.locator("#recertification")).to_contain_text("Re-certification required")
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).version == "2.1"
    assert page_errors == []


def test_admin_reissues_and_follows_the_superseded_link(app, page, live_server, log_in,
                                                        make_user, make_track, issue,
                                                        screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    holder = make_user(name="Mere Tahi")
    old = issue(holder, track=make_track("Scaffold Inspection", exam=False))
    log_in(admin.email)

    page.goto(f"{live_server}/admin/certificates?status=issued")
    row = page.locator("tr", has_text=old.number)
    row.get_by_role("button", name="View").click()
    detail = page.locator("#certificate-detail")
    expect(detail.locator("header")).to_contain_text(old.number)
    dialogs = _accept_dialogs(page)
    detail.get_by_role("button", name="Re-issue with current details").click()
    # The answer shows the replacement.
    expect(detail.locator("header")).not_to_contain_text(old.number)
    expect(detail.locator("header")).to_contain_text("Active")
    assert dialogs and "superseded" in dialogs[0]
    with app.app_context():
        new = db.session.scalar(db.select(Certificate).where(Certificate.supersedes_id == old.id))
        assert new is not None and new.status == CertificateStatus.ISSUED
        new_number = new.number
    expect(detail.locator("header")).to_contain_text(new_number)
    expect(detail.locator("#replaces")).to_have_text(old.number)
    # The address follows the replacement (keeping the tab): a reload shows it again.
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{new.id}\?status=issued$"))
    page.reload()
    expect(detail.locator("header")).to_contain_text(new_number)
    screenshot("reissued")

    page.get_by_role("navigation", name="Certificate status").get_by_role(
        "link", name="Revoked").click()
    old_row = page.locator("tr", has_text=old.number)
    expect(old_row).to_contain_text("Superseded")
    old_row.get_by_role("button", name="View").click()
    expect(detail.locator("header")).to_contain_text(old.number)
    expect(detail.locator("header")).to_contain_text("Superseded")
    expect(detail.get_by_role("button", name="Reinstate")).to_have_count(0)
    superseded_by = detail.locator("#superseded-by")
    expect(superseded_by).to_contain_text(f"replaced by {new_number}")
    screenshot("old-superseded")
    superseded_by.get_by_role("link", name=new_number).click()
    expect(detail.locator("header")).to_contain_text(new_number)
    expect(detail.locator("header")).to_contain_text("Active")
    expect(page).to_have_url(re.compile(rf"/admin/certificates/{new.id}"))
    screenshot("followed-to-new")
    assert page_errors == []


def test_employer_reads_each_verify_answer_in_plain_words(app, page, live_server, make_user,
                                                         make_track, issue, screenshot,
                                                         page_errors):
    page.set_viewport_size({"width": 390, "height": 844})  # a phone scanning the QR
    app.config["PUBLIC_BASE_URL"] = live_server
    track = make_track("Roof Safety", exam=False)
    valid = issue(make_user(name="Valid Holder"), track=track)
    revoked = issue(make_user(name="Revoked Holder"), track=track)
    superseded = issue(make_user(name="Superseded Holder"), track=track)
    older_track = make_track("Heights", exam=False)
    recert = issue(make_user(name="Old Version Holder"), track=older_track)
    yearly = make_track("Ladder Use", exam=False, validity_months=12)
    with app.app_context():
        expired = certs.issue_certificate(  # issued 400 days ago, valid for a year
            Actor.system(), recipient=db.session.get(User, make_user(name="Expired Holder").id),
            type_=CertificateType.COMPLETION, track=db.session.get(CertificationTrack, yearly.id),
            issued_on=today() - timedelta(days=400))
        ended_on, expired_id = expired.expires_at, expired.verification_id
        certs.revoke(db.session.get(Certificate, revoked.id), Actor.system(),
                     "Issued in error", "issued_in_error")
        successor = certs.reissue(db.session.get(Certificate, superseded.id), Actor.system())
        successor_number = successor.number
        db.session.commit()
    _bump(app, older_track)

    def check(certificate, label):
        verification_id = getattr(certificate, "verification_id", certificate)
        page.goto(f"{live_server}/verify/{verification_id}")
        status = page.locator(".verify-status")
        screenshot(label)
        return status

    expect(check(valid, "valid")).to_contain_text("Valid certificate")
    expect(page.locator(".verify-details")).to_contain_text(valid.number)

    status = check(expired_id, "expired")
    expect(status).to_contain_text("Expired")
    expect(status).to_contain_text(f"its validity ended on {ended_on.day} "
                                   f"{ended_on:%B %Y}")

    status = check(revoked, "revoked")
    expect(status).to_contain_text("Revoked")
    expect(status).to_contain_text("It is no longer valid.")
    expect(page.locator(".verify-details")).to_contain_text("Issued in error")

    status = check(superseded, "superseded")
    expect(status).to_contain_text(f"Superseded by {successor_number} (valid)")
    expect(status).not_to_contain_text("Revoked")
    page.get_by_role("link", name=f"check certificate {successor_number}").click()
    expect(page.locator(".verify-status")).to_contain_text("Valid certificate")
    expect(page.locator(".verify-details")).to_contain_text(successor_number)
    screenshot("superseded-followed")

    status = check(recert, "recertification-required")
    expect(status).to_contain_text("Re-certification required")
    expect(status).to_contain_text("covers version 1.0 of Heights, which is now at version 2.0")
    expect(status).to_contain_text("not valid for the current version")
    expect(page.locator(".verify-details")).to_contain_text("Current version")

    page.goto(f"{live_server}/verify/{'x' * 32}")
    expect(page.locator(".verify-status")).to_contain_text("Not found")
    expect(page.get_by_role("heading", level=1)).to_have_text("No certificate found")
    screenshot("not-found")
    assert page_errors == []


def test_holder_sees_recertification_on_my_page_and_restarts_the_track(
        app, page, live_server, log_in, make_user, make_track, issue, screenshot, page_errors):
    page.set_viewport_size({"width": 390, "height": 844})  # [phone]
    holder = make_user(name="Tama Rangi")
    track = make_track("Hazard Awareness", exam=False)
    old = issue(holder, track=track)
    _bump(app, track)
    log_in(holder.email)
    page.goto(f"{live_server}/me")
    row = page.locator(f"#my-certificate-{old.id}")
    expect(row).to_contain_text("Re-certification required")
    expect(row).to_contain_text("covers version 1.0; Hazard Awareness is now at version 2.0")
    screenshot("my-page")
    row.get_by_role("button", name="Re-certify: take version 2.0").click()
    expect(page).to_have_url(re.compile(rf"/learn/tracks/{track.id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hazard Awareness")
    screenshot("track-to-restart")
    assert page_errors == []
