"""Certificates in a real browser: an admin approves a learner's pending completion
certificate, moves between the tabs, downloads the PDF; an anonymous visitor checks it on
the public verify page through revocation and reinstatement."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificationTrack, Role, User
from app.services import training
from app.services.context import Actor
from tests.browser.conftest import post_by_click

RECIPIENT = "Ngāti Pōneke Tester"
TRACK = "Roof Safety Fundamentals"
REASON = "Shared the exam answers with the rest of the crew."
A4_LANDSCAPE = (841.89, 595.28)  # points


@pytest.fixture
def app(make_app, tmp_path):
    # PDFs go to the test's own directory, not the session's shared storage.
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))




def _complete_track(app, learner: User, track: CertificationTrack) -> None:
    """The learner enrols and completes every course through the services, which
    requests a pending COMPLETION certificate."""
    with app.app_context():
        user = db.session.get(User, learner.id)
        track = db.session.get(CertificationTrack, track.id)
        actor = Actor(user=user)
        enrolment = training.enrol(user, track, actor)
        for course in track.courses:
            training.complete_course(training.progress_for(enrolment, course), actor)
        db.session.commit()


def _certificate(app, recipient_id: int) -> Certificate:
    with app.app_context():
        certificate = db.session.scalar(
            select(Certificate).where(Certificate.recipient_id == recipient_id))
        assert certificate is not None
        db.session.expunge(certificate)
        return certificate


def test_admin_approves_a_certificate_and_the_public_verify_page_follows_revoke_and_reinstate(
        app, page, new_page, live_server, log_in, make_user, make_track, screenshot,
        page_errors):
    # The PDF prints PUBLIC_BASE_URL/verify/<id>: point it at this server.
    app.config["PUBLIC_BASE_URL"] = live_server
    admin = make_user(Role.ADMIN, name="Ada Admin")
    learner = make_user(Role.STAFF, name=RECIPIENT)
    track = make_track(TRACK, exam=False)
    _complete_track(app, learner, track)
    pending = _certificate(app, learner.id)
    assert pending.status == CertificateStatus.PENDING and pending.number is None
    log_in(admin.email)

    # --- Pending tab: approve the card ----------------------------------------------------
    page.goto(f"{live_server}/admin/certificates")
    expect(page.get_by_role("heading", name=re.compile("Certificate Management"))).to_be_visible()
    page.evaluate("window.__marker = 1")
    tabs = page.locator("nav.tabs")
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Pending")
    expect(page.locator("#pending-count")).to_have_text("1 pending")
    card = page.locator(f"article.pending-card#certificate-{pending.id}")
    expect(page.locator("article.pending-card")).to_have_count(1)
    expect(card).to_contain_text(RECIPIENT)
    expect(card).to_contain_text(TRACK)
    expect(card).to_contain_text("Completion")
    expect(card).to_contain_text("Progress 100%")
    screenshot("pending-tab")

    response = post_by_click(page, card.get_by_role("button", name="Approve"),
                     f"/admin/certificates/{pending.id}/approve")
    assert response.status == 200
    expect(card).to_have_count(0)
    expect(page.locator("#certificates-list")).to_contain_text("Nothing is waiting for approval.")
    expect(page.locator("#pending-count")).to_have_text("0 pending")
    expect(page.locator("#detail")).to_contain_text(RECIPIENT)
    expect(page.locator("#detail")).to_contain_text("Active")
    assert page.evaluate("window.__marker") == 1, "approving reloaded the page"
    certificate = _certificate(app, learner.id)
    assert certificate.status == CertificateStatus.ISSUED
    assert re.fullmatch(r"CERT-\d{4}-\d{5}", certificate.number or "")
    assert certificate.snapshot["recipient_name"] == RECIPIENT

    # --- Tabs: the URL follows, a reload keeps the tab, Back returns to Pending ---------
    tabs.get_by_role("link", name="Issued").click()
    expect(page).to_have_url(re.compile(r"[?&]status=issued(&|$)"))
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")
    row = page.locator(f"tr#certificate-{certificate.id}")
    expect(row).to_contain_text(RECIPIENT)
    expect(row).to_contain_text(certificate.number)
    assert page.evaluate("window.__marker") == 1, "the tab reloaded the page"
    page.reload()
    expect(page).to_have_url(re.compile(r"[?&]status=issued(&|$)"))
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")
    expect(row).to_contain_text(certificate.number)
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"status=issued"))
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Pending")
    expect(page.locator("#certificates-list")).to_contain_text("Nothing is waiting for approval.")
    expect(page.locator("#pending-count")).to_have_text("0 pending")
    tabs.get_by_role("link", name="Issued").click()
    expect(page).to_have_url(re.compile(r"[?&]status=issued(&|$)"))
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")

    # --- Detail panel and the PDF -------------------------------------------------------
    row.get_by_role("button", name="View").click()
    detail = page.locator("#detail")
    expect(detail.locator("header")).to_contain_text(certificate.number)
    pdf_link = detail.get_by_role("button", name="View / Download PDF")
    expect(pdf_link).to_be_visible()  # "PDF rendering…" polls until it is there
    expect(detail.locator("form#revoke")).to_be_visible()
    # The table fits beside the panel: no sideways scrolling to reach the actions.
    assert page.locator("#certificates-list figure").evaluate(
        "f => f.scrollWidth <= f.clientWidth"), "the issued table overflows its column"
    screenshot("detail-panel")
    # Opening it changed the URL (keeping the tab); a reload shows the same list and panel.
    expect(page).to_have_url(re.compile(
        rf"/admin/certificates/{certificate.id}\?(.*&)?status=issued(&|$)"))
    page.reload()
    expect(detail.locator("header")).to_contain_text(certificate.number)
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")
    expect(row).to_contain_text(certificate.number)
    expect(pdf_link).to_be_visible()

    answer = page.context.request.get(live_server + pdf_link.get_attribute("href"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/pdf"
    data = answer.body()
    assert data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx(A4_LANDSCAPE, abs=1)
    text = reader.pages[0].extract_text()
    assert RECIPIENT in text
    assert certificate.number in text
    assert certificate.verification_code in text
    urls = re.findall(r"https?://\S+/verify/[A-Za-z0-9_-]{32}", text)
    assert urls == [f"{live_server}/verify/{certificate.verification_id}"], text

    # --- The public page, seen by someone not logged in ---------------------------------
    public = new_page()
    public.goto(urls[0])
    result = public.locator("article.verify-result")
    expect(result.locator(".verify-status")).to_contain_text("Valid certificate")
    expect(result.locator("#verify-title")).to_have_text(RECIPIENT)
    expect(result.locator(".verify-details")).to_contain_text(certificate.number)
    expect(result.locator(".badge")).to_have_text("Valid")
    expect(public.get_by_role("button", name="Log in")).to_have_count(0)
    expect(public.get_by_role("button", name="Log out")).to_have_count(0)
    screenshot("public-valid", on=public)

    # --- Revoke (the confirm dialog is accepted) ---------------------------------------
    revoke = detail.locator("form#revoke")
    revoke.locator('select[name="category"]').select_option(label="Misconduct")
    revoke.locator('textarea[name="reason"]').fill(REASON)
    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    response = post_by_click(page, revoke.get_by_role("button", name="Revoke"),
                     f"/admin/certificates/{certificate.id}/revoke")
    assert response.status == 200
    assert dialogs and certificate.number in dialogs[0]
    expect(detail.locator("header")).to_contain_text("Revoked")
    expect(detail.locator("dd", has_text=REASON)).to_contain_text(
        "Misconduct")  # the admin sees the category and the reason
    expect(detail.get_by_role("button", name="Reinstate")).to_be_visible()
    # The list refreshes itself: the issued tab no longer lists the certificate.
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")
    expect(row).to_have_count(0)
    revoked = _certificate(app, learner.id)
    assert revoked.status == CertificateStatus.REVOKED
    assert revoked.revocation_category == "misconduct"
    revoked_on = revoked.revoked_at.date()

    public.reload()
    expect(result.locator(".verify-status")).to_contain_text("Revoked")
    expect(result.locator(".verify-status")).to_contain_text(
        f"{revoked_on.day} {revoked_on:%B %Y}")
    expect(result.locator(".badge")).to_have_text("Revoked")
    expect(result.locator("tr", has_text="Revoked on")).to_contain_text(
        f"{revoked_on.day} {revoked_on:%B %Y}")
    expect(result.locator("tr", has_text="Reason for revoking")).to_contain_text("Misconduct")
    expect(result.locator("#verify-title")).to_have_text(RECIPIENT)
    assert REASON not in public.content()
    screenshot("public-revoked", on=public)

    # --- Reinstate ---------------------------------------------------------------------
    response = post_by_click(page, detail.get_by_role("button", name="Reinstate"),
                     f"/admin/certificates/{certificate.id}/reinstate")
    assert response.status == 200
    expect(detail.locator("header")).to_contain_text("Active")
    expect(detail.get_by_role("button", name="View / Download PDF")).to_be_visible()
    expect(row).to_contain_text(certificate.number)  # back on the issued tab
    assert _certificate(app, learner.id).status == CertificateStatus.ISSUED

    public.reload()
    expect(result.locator(".verify-status")).to_contain_text("Valid certificate")
    expect(result.locator(".badge")).to_have_text("Valid")
    expect(result).not_to_contain_text("Revoked")
    expect(result).not_to_contain_text("Misconduct")

    # --- The detail page opened directly (a link, a new tab): its tabs still work --------
    page.goto(f"{live_server}/admin/certificates/{certificate.id}")
    expect(detail.locator("header")).to_contain_text(certificate.number)
    tabs.get_by_role("link", name="Issued").click()
    expect(page).to_have_url(f"{live_server}/admin/certificates?status=issued")
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Issued")
    expect(row).to_contain_text(certificate.number)
    expect(detail.locator("header")).to_contain_text(certificate.number)

    assert page_errors == []
