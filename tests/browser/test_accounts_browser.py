"""Account journeys (JOURNEYS.md: Platform admin 2, Staff 6 and 7), through the browser
and a real SMTP server: the emails are received by a local aiosmtpd, opened in the
browser as the person would open them, and their link is clicked."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from app.models import Role
from tests.browser.conftest import log_in_page, open_main_menu

NEW_PASSWORD = "kowhai-tui-pohutukawa-7"


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"

    def wait_for(self, to: str, subject: str, timeout: float = 10) -> Any:
        """The newest message to `to` whose subject contains `subject`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for envelope in reversed(self.envelopes):
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                if to in envelope.rcpt_tos and subject in message["Subject"]:
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no email {subject!r} to {to}")


@pytest.fixture
def inbox() -> Iterator[tuple[_Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = _Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def app(make_app, inbox):  # the browser fixtures' live server serves this app
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox[1])


@pytest.fixture
def site(app, live_server) -> str:
    # Links in emails are built on PUBLIC_BASE_URL: this live server's address.
    app.config["PUBLIC_BASE_URL"] = live_server
    return live_server


def _open_email(page: Any, message: Any) -> None:
    """Show the email's HTML part in the page, as a mail client would."""
    html = message.get_body(preferencelist=("html",)).get_content()
    page.set_content(html)


def test_admin_invites_a_person_who_sets_a_password_and_logs_in(
        app, page, new_page, site, inbox, log_in, make_user, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    log_in(admin.email)
    page.get_by_text("Manage", exact=True).click()
    page.get_by_role("link", name="Users", exact=True).click()
    row = page.locator("tr#user-new")
    expect(row.locator('input[name="password"]')).to_have_count(0)
    expect(row).to_contain_text("email invitation")
    row.locator('input[name="name"]').fill("Kiri Te Kanawa")
    row.locator('input[name="email"]').fill("kiri@example.test")
    row.get_by_role("button", name="Add user").click()
    created = page.locator("#users-rows tr", has_text="kiri@example.test")
    expect(created).to_contain_text("Invited")
    expect(created.get_by_role("button", name="Re-send invitation")).to_be_visible()
    screenshot("invited")

    message = inbox[0].wait_for("kiri@example.test", "You are invited to Credwright")
    person = new_page()
    _open_email(person, message)
    screenshot("invitation-email", on=person)
    person.get_by_role("link", name=re.compile("Open it in")).click()
    expect(person.get_by_role("heading", name="Set your password")).to_be_visible()
    person.get_by_label("New password", exact=True).fill("kiri-te-kanawa-1")
    person.get_by_label("Repeat the new password").fill("kiri-te-kanawa-1")
    person.get_by_role("button", name="Set password").click()
    expect(person.get_by_text("Do not use your email address or name")).to_be_visible()
    screenshot("weak-password", on=person)
    person.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    person.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    person.get_by_role("button", name="Set password").click()
    expect(person).to_have_url(re.compile(r"/login$"))
    expect(person.get_by_text("Your password is set. Log in with it now.")).to_be_visible()
    log_in_page(person, site, "kiri@example.test", NEW_PASSWORD)
    expect(person.get_by_text("Welcome to Credwright").first).to_be_visible()
    screenshot("logged-in", on=person)

    # The link worked once.
    again = new_page()
    _open_email(again, message)
    again.get_by_role("link", name=re.compile("Open it in")).click()
    expect(again.get_by_role("heading", name=re.compile("expired or has already been used"))
           ).to_be_visible()
    assert page_errors == []


def test_forgot_password_email_link_sets_a_new_password(
        page, new_page, site, inbox, make_user, org, screenshot, page_errors):
    staff = make_user(Role.STAFF, organization=org, name="Sam Staff")
    page.goto(f"{site}/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(staff.email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("If an account uses that email address")).to_be_visible()
    screenshot("reset-requested")

    message = inbox[0].wait_for(staff.email, "Reset your Credwright password")
    mail = new_page()
    _open_email(mail, message)
    mail.get_by_role("link", name=re.compile("Open it in")).click()
    expect(mail.get_by_role("heading", name="Choose a new password")).to_be_visible()
    mail.get_by_label("New password", exact=True).fill("password1234")
    mail.get_by_label("Repeat the new password").fill("password1234")
    mail.get_by_role("button", name="Change password").click()
    expect(mail.get_by_text("This password is too common")).to_be_visible()
    mail.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    mail.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    mail.get_by_role("button", name="Change password").click()
    expect(mail.get_by_text("Your password is changed")).to_be_visible()
    screenshot("reset-done", on=mail)
    log_in_page(mail, site, staff.email, NEW_PASSWORD)
    assert page_errors == []


@pytest.mark.parametrize("viewport", [None, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_a_personal_api_token_is_shown_once_works_and_is_revoked(
        page, site, log_in, staff_user, screenshot, page_errors, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    log_in(staff_user.email)
    page.goto(f"{site}/me")
    open_main_menu(page)
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Personal API tokens").click()
    expect(page.get_by_role("heading", name="Personal API tokens")).to_be_visible()
    page.get_by_label("Name").fill("Reporting script")
    expect(page.get_by_label("Expires after (days)")).to_have_value("90")
    page.get_by_role("button", name="Create token").click()
    shown = page.locator("#new-token")
    expect(shown).to_have_text(re.compile(r"^cw_"))
    token = shown.inner_text()
    row = page.locator("#api-tokens tbody tr", has_text="Reporting script")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Never")  # not used yet
    screenshot("token-created")

    # A script uses it against the API (its own client: no browser cookies).
    script = page.context.browser.new_context()
    api = script.request
    answer = api.get(f"{site}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status == 200 and answer.json()["email"] == staff_user.email

    page.reload()  # shown once: not on the page any more; the use is listed
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    expect(row).not_to_contain_text("Never")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    screenshot("token-revoked")
    refused = api.get(f"{site}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 401
    script.close()
    assert page_errors == []
