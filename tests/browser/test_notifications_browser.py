"""Notifications in a real browser: the bell refreshes itself, pauses while the tab is
hidden, stops once logged out; the list marks read; preferences refuse a bad phone."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import NotificationType, Role, User
from app.services import notifications
from tests.browser.conftest import log_in_page

POLL_SECONDS = 1


@pytest.fixture
def app(make_app):
    return make_app(NOTIFICATION_POLL_SECONDS=POLL_SECONDS)


def _notify(app, user_id: int, title: str) -> None:
    with app.app_context():
        notifications.notify(db.session.get(User, user_id), NotificationType.TRAINING_DUE,
                             title, "Finish it this week.", link="/learn/tracks")
        db.session.commit()


def _bell_requests(page, seconds: float) -> int:
    """How many bell polls the page sends in `seconds`."""
    seen: list[str] = []
    listener = lambda request: seen.append(request.url) if "/notifications/bell" in request.url else None  # noqa: E731
    page.on("request", listener)
    page.wait_for_timeout(int(seconds * 1000))
    page.remove_listener("request", listener)
    return len(seen)


def test_bell_list_and_read_marks(app, page, live_server, make_user, org, screenshot,
                                  page_errors):
    learner = make_user(Role.STAFF, org, name="Ngaio Pōneke")
    log_in_page(page, live_server, learner.email)
    bell = page.locator("#bell")
    expect(bell).to_have_attribute("aria-label", "Notifications: 0 unread")
    expect(page.locator(".bell-count")).to_have_count(0)

    # Raised elsewhere (a job, an admin): the bell picks them up by itself.
    _notify(app, learner.id, "Fire safety training due within 7 days")
    _notify(app, learner.id, "Scaffolding training overdue")
    expect(page.locator(".bell-count")).to_have_text("2", timeout=5000)
    screenshot("bell-with-count")

    page.locator("#bell").click()
    expect(page).to_have_url(re.compile(r"/me/notifications$"))
    expect(page.get_by_text("Scaffolding training overdue")).to_be_visible()
    first = page.locator("li.notification.unread").first
    first.get_by_role("button", name="Mark read").click()
    expect(page.locator("li.notification.unread")).to_have_count(1)
    expect(page.locator(".bell-count")).to_have_text("1")  # bell:refresh, no reload
    screenshot("one-read")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("li.notification.unread")).to_have_count(0)
    expect(page.locator(".bell-count")).to_have_count(0)
    assert not page_errors, page_errors


def test_bell_pauses_while_hidden_and_stops_after_logout(app, page, live_server, make_user,
                                                         org, new_page, page_errors):
    learner = make_user(Role.STAFF, org)
    log_in_page(page, live_server, learner.email)
    # Polling while visible (a wide window: on a loaded machine a poll's answer is slow).
    assert _bell_requests(page, 4 * POLL_SECONDS) >= 2

    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    assert _bell_requests(page, 3 * POLL_SECONDS) == 0  # hidden: no requests at all
    _notify(app, learner.id, "While you were away")
    with page.expect_request(re.compile(r"/notifications/bell")):
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {value: false, configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
    expect(page.locator(".bell-count")).to_have_text("1")

    # Logged out in another tab of the same browser: the next poll gets 286 and stops.
    other = page.context.new_page()
    other.goto(f"{live_server}/me")
    other.get_by_role("button", name="Log out").click()
    expect(other).to_have_url(re.compile(r"/login"))
    other.close()
    with page.expect_response(lambda r: "/notifications/bell" in r.url and r.status == 286):
        pass
    time.sleep(0.2)
    assert _bell_requests(page, 3 * POLL_SECONDS) == 0
    assert not page_errors, page_errors


def test_preferences_refuse_a_bad_phone_then_save(app, page, live_server, make_user, org,
                                                  screenshot, page_errors):
    learner = make_user(Role.STAFF, org)
    log_in_page(page, live_server, learner.email)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Notification preferences")).to_be_visible()
    page.get_by_label("Text me about urgent matters").check()
    page.get_by_label("Mobile number for text messages").fill("call me maybe")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Enter a phone number with 7-15 digits")).to_be_visible()
    screenshot("bad-phone")
    with app.app_context():
        assert db.session.get(User, learner.id).sms_critical is False
    page.get_by_label("Mobile number for text messages").fill("+64 21 555 0199")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_text("Preferences saved.")).to_be_visible()
    screenshot("saved")
    with app.app_context():
        saved = db.session.get(User, learner.id)
        assert (saved.sms_critical, saved.phone) == (True, "+64 21 555 0199")
    assert not page_errors, page_errors
