"""Certificate journeys in a real browser (../shared/JOURNEYS.md):

- Platform admin 5: approve one pending certificate, reject another typing a reason; the
  learner reads the notice with the reason; the admin finds the rejected one again in
  the Rejected tab, with its reason in its detail.
- Staff 3 (certificate part, at phone width): on /me the certificate is pending, then
  issued after approval; Download PDF gives a PDF; the LinkedIn link is there.
- Employer 2: type the number and code into the check and read the answer; upload the PDF
  the holder downloaded (and one downloaded before a revoke + reinstate) and read that it
  is genuine, which certificate it is, and its status now.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificationTrack, Role, User
from app.services import certificates, training
from app.services.context import Actor
from tests.browser.conftest import log_in_page

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))


def _complete_track(app, learner: User, track: CertificationTrack) -> int:
    """The learner completes the track (services): a pending COMPLETION certificate."""
    with app.app_context():
        user = db.session.get(User, learner.id)
        enrolment = training.enrol(user, db.session.get(CertificationTrack, track.id),
                                   Actor(user=user))
        for course in enrolment.track.courses:
            training.complete_course(training.progress_for(enrolment, course), Actor(user=user))
        db.session.commit()
        return db.session.scalar(select(Certificate.id).where(
            Certificate.recipient_id == learner.id, Certificate.track_id == track.id))


def _certificate(app, certificate_id: int) -> Certificate:
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        db.session.expunge(certificate)
        return certificate


def _post(page, control, path: str):
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.split("?")[0].endswith(path)) as info:
        control.click()
    return info.value


def _download_pdf(page, row, tmp_path: Path, name: str) -> bytes:
    """Click the row's Download PDF link; the browser saves a PDF."""
    with page.expect_download() as info:
        row.get_by_role("link", name="Download PDF").click()
    download = info.value
    target = tmp_path / name
    download.save_as(str(target))
    data = target.read_bytes()
    assert data.startswith(b"%PDF"), data[:20]
    assert re.fullmatch(r"CERT-\d{4}-\d{5}\.pdf", download.suggested_filename)
    return data


# --- Platform admin 5 -----------------------------------------------------------------

def test_admin_approves_one_rejects_one_and_finds_the_rejection_again(
        app, page, new_page, live_server, log_in, make_user, make_track, screenshot,
        page_errors):
    app.config["PUBLIC_BASE_URL"] = live_server
    admin = make_user(Role.ADMIN, name="Ada Admin")
    approved_learner = make_user(Role.STAFF, name="Hēmi Approved")
    rejected_learner = make_user(Role.STAFF, name="Rāwiri Rejected")
    approved_id = _complete_track(app, approved_learner, make_track("Scaffold Basics", exam=False))
    rejected_id = _complete_track(app, rejected_learner, make_track("Working at Height",
                                                                    exam=False))
    reason = "The logbook pages for week 3 are not signed by a supervisor."

    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates")
    expect(page.locator("#pending-count")).to_have_text("2 pending")
    approve_card = page.locator(f"article.pending-card#certificate-{approved_id}")
    reject_card = page.locator(f"article.pending-card#certificate-{rejected_id}")
    expect(approve_card).to_contain_text("Hēmi Approved")
    expect(reject_card).to_contain_text("Rāwiri Rejected")

    assert _post(page, approve_card.get_by_role("button", name="Approve"),
                 f"/admin/certificates/{approved_id}/approve").status == 200
    expect(approve_card).to_have_count(0)
    expect(page.locator("#detail")).to_contain_text("Active")

    reject_card.get_by_role("textbox", name=re.compile("Reason for rejecting")).fill(reason)
    assert _post(page, reject_card.get_by_role("button", name="Reject"),
                 f"/admin/certificates/{rejected_id}/reject").status == 200
    expect(reject_card).to_have_count(0)
    expect(page.locator("#detail")).to_contain_text(reason)
    expect(page.locator("#pending-count")).to_have_text("0 pending")
    expect(page.locator("#certificates-list")).to_contain_text("Nothing is waiting for approval.")
    screenshot("after-approve-and-reject")

    # --- The learner is told, with the reason -------------------------------------------
    learner_page = new_page()
    log_in_page(learner_page, live_server, rejected_learner.email)
    learner_page.goto(f"{live_server}/me")
    notice = learner_page.locator("li.notification", has_text="Certificate not approved")
    expect(notice).to_contain_text("Certificate not approved: Working at Height")
    expect(notice).to_contain_text(reason)
    mine = learner_page.locator(f"#my-certificate-{rejected_id}")  # and it stays on /me
    expect(mine).to_contain_text("Rejected")
    expect(mine).to_contain_text(f"Not approved: {reason}")
    expect(mine.get_by_role("link", name="Download PDF")).to_have_count(0)
    screenshot("learner-reads-the-rejection", on=learner_page)

    # --- Back as the admin: the Rejected tab finds it, the detail gives the reason -------
    tabs = page.locator("nav.tabs")
    tabs.get_by_role("link", name="Rejected").click()
    expect(page).to_have_url(re.compile(r"[?&]status=rejected(&|$)"))
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Rejected")
    row = page.locator(f"tr#certificate-{rejected_id}")
    expect(row).to_contain_text("Rāwiri Rejected")
    expect(row).to_contain_text("Working at Height")
    expect(page.locator(f"tr#certificate-{approved_id}")).to_have_count(0)
    row.get_by_role("button", name="View").or_(row.get_by_role("link", name="View")).click()
    detail = page.locator("#detail")
    expect(detail).to_contain_text("Rejected")
    expect(detail).to_contain_text(reason)
    screenshot("rejected-tab-detail")
    page.reload()  # the tab survives a reload
    expect(tabs.locator('a[aria-current="page"]')).to_have_text("Rejected")
    expect(page.locator(f"tr#certificate-{rejected_id}")).to_contain_text("Rāwiri Rejected")
    assert not page_errors, page_errors


# --- Staff 3 (certificate part) ---------------------------------------------------------

def test_learner_sees_pending_then_issued_downloads_the_pdf_and_has_linkedin(
        app, page, new_page, live_server, make_user, make_track, screenshot, page_errors,
        tmp_path):
    app.config["PUBLIC_BASE_URL"] = live_server
    admin = make_user(Role.ADMIN, name="Ada Admin")
    learner = make_user(Role.STAFF, name="Mere Learner")
    certificate_id = _complete_track(app, learner, make_track("Roof Safety", exam=False))

    page.set_viewport_size(PHONE)
    log_in_page(page, live_server, learner.email)
    page.goto(f"{live_server}/me")
    row = page.locator(f"#my-certificate-{certificate_id}")
    expect(row).to_contain_text("Roof Safety")
    expect(row).to_contain_text("Pending")
    expect(row.get_by_role("link", name="Download PDF")).to_have_count(0)
    screenshot("me-pending")

    admin_page = new_page()
    log_in_page(admin_page, live_server, admin.email)
    admin_page.goto(f"{live_server}/admin/certificates")
    card = admin_page.locator(f"article.pending-card#certificate-{certificate_id}")
    assert _post(admin_page, card.get_by_role("button", name="Approve"),
                 f"/admin/certificates/{certificate_id}/approve").status == 200
    expect(card).to_have_count(0)

    page.reload()
    expect(row).to_contain_text("Active")
    certificate = _certificate(app, certificate_id)
    expect(row).to_contain_text(certificate.number)
    linkedin = row.get_by_role("link", name="Add to LinkedIn profile")
    expect(linkedin).to_have_attribute("href", re.compile(
        r"^https://www\.linkedin\.com/profile/add\?.*certId=" + certificate.number))
    screenshot("me-issued")
    # Nothing wider than the phone: tables scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    data = _download_pdf(page, row, tmp_path, "mine.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "Mere Learner" in text and certificate.number in text
    # The bell's notice links to the same PDF.
    notice = page.locator("li.notification", has_text="Certificate issued")
    expect(notice).to_contain_text("download its PDF")
    assert not page_errors, page_errors


def test_a_pdf_still_being_rendered_is_said_so_and_downloads_once_ready(
        app, page, live_server, make_user, make_track, screenshot, page_errors, tmp_path,
        issue):
    from sqlalchemy import update

    from app.jobs.certificates import render_certificate_pdf

    app.config["PUBLIC_BASE_URL"] = live_server
    holder = make_user(Role.STAFF, name="Tipene Waiting")
    certificate = issue(holder, track=make_track("Gutters"))
    with app.app_context():  # as if the PDF job had not run yet
        db.session.execute(update(Certificate).where(Certificate.id == certificate.id)
                           .values(pdf_key=None, pdf_sha256=None))
        db.session.commit()
    log_in_page(page, live_server, holder.email)
    page.goto(f"{live_server}/me")
    row = page.locator(f"#my-certificate-{certificate.id}")
    row.get_by_role("link", name="PDF being prepared…").click()
    expect(page.get_by_role("heading", name="Your PDF is being prepared")).to_be_visible()
    expect(page.locator("#pdf-pending")).to_contain_text(certificate.number)
    screenshot("pdf-being-prepared")
    with app.app_context():
        render_certificate_pdf(certificate.id)
    # The page asks again by itself (Refresh: 5) and the download starts.
    with page.expect_download(timeout=15_000) as info:
        pass
    assert re.fullmatch(r"CERT-\d{4}-\d{5}\.pdf", info.value.suggested_filename)
    target = tmp_path / "ready.pdf"
    info.value.save_as(str(target))
    assert target.read_bytes().startswith(b"%PDF")
    assert not page_errors, page_errors


# --- Employer 2 -------------------------------------------------------------------------

def test_employer_checks_by_number_and_code_and_by_uploading_the_holders_pdfs(
        app, page, new_page, live_server, make_user, make_track, screenshot, page_errors,
        tmp_path, issue):
    app.config["PUBLIC_BASE_URL"] = live_server
    holder = make_user(Role.STAFF, name="Aroha Holder")
    certificate = issue(holder, track=make_track("Membrane Roofing"))

    # The holder downloads their PDF from /me and sends it to the employer...
    holder_page = new_page()
    log_in_page(holder_page, live_server, holder.email)
    holder_page.goto(f"{live_server}/me")
    row = holder_page.locator(f"#my-certificate-{certificate.id}")
    sent_first = _download_pdf(holder_page, row, tmp_path, "first.pdf")
    code = certificate.verification_code
    printed = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(sent_first)).pages)
    assert certificate.number in printed and code in printed  # what the employer types

    # ... then it is revoked and reinstated (the PDF is rendered again), and downloaded again.
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, certificate.id), Actor.system(),
                            "Checking a complaint.", "other")
        db.session.commit()
        certificates.reinstate(db.session.get(Certificate, certificate.id), Actor.system())
        db.session.commit()
    holder_page.reload()
    sent_second = _download_pdf(holder_page, row, tmp_path, "second.pdf")
    assert sent_second != sent_first

    # --- The employer types the number and code ------------------------------------------
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/verify")
    page.get_by_label("Certificate number").fill(certificate.number.lower())
    page.get_by_label("Verification code").fill(code.lower())
    page.get_by_role("button", name="Check", exact=True).click()
    result = page.locator("#verify-result")
    expect(result).to_contain_text("Valid certificate")
    expect(result).to_contain_text("Aroha Holder")
    expect(result).to_contain_text(certificate.number)
    screenshot("code-answer")

    # --- ... and uploads the PDFs: both genuine, naming the certificate and its status ---
    def upload(path: Path, label: str) -> None:
        page.get_by_label("Certificate PDF").set_input_files(str(path))
        with page.expect_response(lambda r: r.request.method == "POST"
                                  and r.url.split("?")[0].endswith("/verify")):
            page.get_by_role("button", name="Check the PDF").click()
        screenshot(label)

    upload(tmp_path / "first.pdf", "first-pdf-answer")
    match = result.locator("#pdf-match")
    expect(match).to_contain_text("Genuine PDF")
    expect(match).to_contain_text(certificate.number)
    expect(match).to_contain_text("Aroha Holder")
    expect(match).to_contain_text("Membrane Roofing")
    expect(result).to_contain_text("Valid certificate")

    upload(tmp_path / "second.pdf", "second-pdf-answer")
    expect(match).to_contain_text("Genuine PDF")
    expect(match).to_contain_text(certificate.number)
    expect(result).to_contain_text("Valid certificate")

    # Revoked now: the old copy is still recognized, and says so.
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, certificate.id), Actor.system(),
                            "Issued in error.", "issued_in_error")
        db.session.commit()
    upload(tmp_path / "first.pdf", "revoked-pdf-answer")
    expect(match).to_contain_text("Genuine PDF")
    expect(result).to_contain_text("Revoked")
    expect(result).not_to_contain_text("Valid certificate")

    # A changed file is not genuine.
    altered = bytearray(sent_first)
    altered[len(altered) // 2] ^= 0x01
    (tmp_path / "altered.pdf").write_bytes(bytes(altered))
    upload(tmp_path / "altered.pdf", "altered-pdf-answer")
    expect(result).to_contain_text("does not match any certificate we issued")
    assert not page_errors, page_errors
