"""An org admin's email, read as they would: its Unsubscribe link opens a page that
asks, one click switches off the organization's setting that sent it, and the
organization's settings page shows it off."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from app.extensions import db
from app.models import Audience, NotificationType, Organization, Role, User
from app.services import notifications
from tests.conftest import PASSWORD
from tests.services.test_delivery import _Collector, _free_port


@pytest.fixture
def mailbox() -> Iterator[tuple[_Collector, int]]:
    handler, port = _Collector(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def app(make_app: Any, mailbox: tuple[_Collector, int]) -> Any:
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=mailbox[1],
                    MAIL_DEFAULT_SENDER="Credwright <no-reply@credwright.example.test>")


def _unsubscribe_link(message: email.message.EmailMessage) -> str:
    """The link a person clicks in the HTML part of the email."""
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    (href,) = re.findall(r'<a href="([^"]+)">Unsubscribe</a>', html)
    return href


def test_an_org_admin_unsubscribes_from_an_email_in_one_click(
        app, page, live_server, make_org, make_user, mailbox, screenshot, page_errors):
    collector, _port = mailbox
    app.config["PUBLIC_BASE_URL"] = live_server  # the links in emails lead here
    org = make_org("Harbour Roofing")
    admin = make_user(Role.ORG_ADMIN, org, name="Olive Aperahama")
    with app.app_context():
        notifications.notify(db.session.get(User, admin.id), NotificationType.CERTIFICATE_ISSUED,
                             "Sam Staff was issued a certificate", link="/org",
                             audience=Audience.ORG)
        db.session.commit()
    (raw,) = collector.envelopes
    message = email.message_from_bytes(raw.content, policy=email.policy.default)
    assert message["List-Unsubscribe"] == f"<{_unsubscribe_link(message)}>"

    page.goto(_unsubscribe_link(message))  # clicked in the mail client, not logged in
    expect(page.get_by_role("heading", name="Stop these emails?")).to_be_visible()
    expect(page.locator("#unsubscribe")).to_contain_text("as an admin of Harbour Roofing")
    expect(page.locator("#unsubscribe")).to_contain_text(
        "Email org admins about staff status changes and certificates")
    screenshot("asks")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="Unsubscribed")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("is now off for Harbour Roofing")
    screenshot("done")

    # Every other setting: the organization's page, after logging in.
    page.get_by_role("link", name="organization's alert preferences").click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.locator('input[name="email"]').fill(admin.email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('input[name="password"]').press("Enter")
    expect(page).to_have_url(re.compile(r"/org/preferences$"))
    expect(page.locator('input[name="email_system_alerts"]')).not_to_be_checked()
    expect(page.locator('input[name="email_compliance_alerts"]')).to_be_checked()
    screenshot("org-settings")
    with app.app_context():
        organization = db.session.get(Organization, org.id)
        assert organization.email_system_alerts is False
        assert organization.email_compliance_alerts is True
    assert page_errors == []
