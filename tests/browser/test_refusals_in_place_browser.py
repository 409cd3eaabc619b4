"""A refused inline action shows its message where the person is looking, and the page
stays one page (one header, no error page swapped inside it): two admins approving the
same pending certificate, and two admins retrying the same failed delivery."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationType,
    Role,
)
from tests.browser.conftest import log_in_page


@pytest.fixture
def app(make_app):
    return make_app(MAIL_SERVER=None, SMS_GATEWAY_URL=None)


def _pending(app, learner, track) -> int:
    with app.app_context():
        certificate = Certificate(
            type=CertificateType.COMPLETION, status=CertificateStatus.PENDING,
            recipient_id=learner.id, track_id=track.id, progress_percent=100.0,
            live_key=Certificate.make_live_key(learner.id, None, track.id,
                                               CertificateType.COMPLETION))
        db.session.add(certificate)
        db.session.commit()
        return certificate.id


def _one_page(page) -> None:
    expect(page.locator("body > header")).to_have_count(1)  # the site header, once
    expect(page.locator('nav[aria-label="Main"]')).to_have_count(1)
    expect(page.locator("h1")).to_have_count(1)


def test_second_admin_approving_sees_already_approved_in_place(app, page, new_page, live_server,
                                                               make_user, make_track,
                                                               screenshot, page_errors):
    first_admin = make_user(Role.ADMIN, name="Ada Admin")
    second_admin = make_user(Role.ADMIN, name="Bo Admin")
    learner = make_user(Role.STAFF, name="Mere Learner")
    certificate_id = _pending(app, learner, make_track("Ladder Safety", exam=False))
    other = new_page()
    log_in_page(page, live_server, first_admin.email)
    log_in_page(other, live_server, second_admin.email)
    for each in (page, other):
        each.goto(f"{live_server}/admin/certificates")
        expect(each.locator(f"#certificate-{certificate_id}")).to_contain_text("Mere Learner")

    other.locator(f"#certificate-{certificate_id}").get_by_role("button", name="Approve").click()
    expect(other.locator("#detail")).to_contain_text("Active")

    # The first admin's card is stale: approving it again is refused, in the panel.
    page.locator(f"#certificate-{certificate_id}").get_by_role("button", name="Approve").click()
    expect(page.locator("#detail")).to_contain_text("Already approved")
    # What the admin wanted holds: a notice (role=status), not an error alert.
    expect(page.locator('#detail [role="status"]')).to_contain_text("Already approved")
    expect(page.locator('#detail [role="alert"]')).to_have_count(0)
    expect(page.locator("#detail")).to_contain_text("Mere Learner")
    # The list follows what the other admin did: the stale card is gone.
    expect(page.locator(f"article.pending-card#certificate-{certificate_id}")).to_have_count(0)
    _one_page(page)
    screenshot("already-approved")
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        assert certificate.status == CertificateStatus.ISSUED
        assert certificate.number and certificate.number.endswith("-00001")
    assert not page_errors, page_errors


def test_a_retry_someone_else_made_is_refused_in_the_message_area(app, page, new_page,
                                                                  live_server, make_user,
                                                                  screenshot, page_errors):
    first_admin = make_user(Role.ADMIN, name="Ada Admin")
    second_admin = make_user(Role.ADMIN, name="Bo Admin")
    holder = make_user(Role.STAFF, name="Tama Holder")
    with app.app_context():
        row = NotificationDelivery(
            notification=Notification(user_id=holder.id, type=NotificationType.CREDENTIAL_EXPIRY,
                                      title="Roofing Level 4 expires soon"),
            channel=DeliveryChannel.EMAIL, status=DeliveryStatus.FAILED, address=holder.email,
            attempts=4, last_error="SMTP 451 try again later")
        db.session.add(row)
        db.session.commit()
        delivery_id = row.id
    other = new_page()
    log_in_page(page, live_server, first_admin.email)
    log_in_page(other, live_server, second_admin.email)
    for each in (page, other):
        each.goto(f"{live_server}/admin/jobs")
        expect(each.locator("tr", has_text="Roofing Level 4 expires soon")).to_be_visible()

    other.locator("tr", has_text="Roofing Level 4 expires soon").get_by_role(
        "button", name="Retry").click()
    expect(other.get_by_text("No failed deliveries.")).to_be_visible()

    page.locator("tr", has_text="Roofing Level 4 expires soon").get_by_role(
        "button", name="Retry").click()
    message = page.locator("#flashes [role=alert]")
    expect(message).to_contain_text("only a failed delivery can be retried")
    _one_page(page)
    expect(page.locator("#flashes")).not_to_contain_text("Something went wrong")
    screenshot("retry-refused")
    with app.app_context():
        assert db.session.get(NotificationDelivery, delivery_id).status == DeliveryStatus.LOGGED
    assert not page_errors, page_errors


def test_a_double_clicked_approve_approves_once_and_shows_no_error(app, page, live_server,
                                                                   make_user, make_track,
                                                                   page_errors):
    from sqlalchemy import func, select

    from app.models import AuditLog

    admin = make_user(Role.ADMIN, name="Ada Admin")
    learner = make_user(Role.STAFF, name="Mere Learner")
    certificate_id = _pending(app, learner, make_track("Ladder Safety", exam=False))
    log_in_page(page, live_server, admin.email)
    page.goto(f"{live_server}/admin/certificates")
    page.locator(f"#certificate-{certificate_id}").get_by_role(
        "button", name="Approve").dblclick()
    expect(page.locator("#detail header")).to_contain_text("Active")
    expect(page.locator('[role="alert"]')).to_have_count(0)
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "CERT_APPROVE")) == 1
    assert not page_errors, page_errors
