"""/admin/jobs in a real browser: a background job failed for good (its one attempt
raised) is listed in the outbox table; the admin presses its Retry like a person, the
panel is redrawn in place (no page load) with the job gone from the table, the notice
says it gets one more attempt, the focus is on that notice, and the job ran once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from app.extensions import db
from app.jobs.welcome import send_welcome_notification
from app.models import JobOutbox, OutboxStatus, Role
from app.services.enqueue import enqueue_after_commit
from tests.browser.conftest import log_in_page

WELCOME = "app.jobs.welcome.send_welcome_notification"


@pytest.fixture
def failed_job(app, make_user, monkeypatch):
    """A welcome job allowed one attempt, which raised: failed for good."""
    def broken(user_id):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    newcomer = make_user(Role.STAFF, name="Nia Newcomer")
    with app.app_context():
        enqueue_after_commit(WELCOME, newcomer.id)
        db.session.execute(update(JobOutbox).values(max_attempts=1))
        db.session.commit()  # the inline attempt raises
        row = db.session.scalar(select(JobOutbox))
        assert row.status == OutboxStatus.FAILED
        return row.id


def test_retry_gives_a_failed_job_one_more_attempt_in_place(app, page, live_server, make_user,
                                                            failed_job, monkeypatch,
                                                            screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    log_in_page(page, live_server, admin.email)
    page.goto(f"{live_server}/admin/jobs")
    row = page.locator(f"#outbox-{failed_job}")
    expect(row).to_contain_text("RuntimeError: smtp down")
    expect(row).to_contain_text("1 of 1")
    screenshot("failed-job")

    ran: list[int] = []
    monkeypatch.setattr(send_welcome_notification, "func", lambda user_id: ran.append(user_id))
    # A marker on the window: it survives an htmx swap, not a page load.
    page.evaluate("window.__sameDocument = true")
    row.get_by_role("button", name="Retry").click()

    notice = page.locator("#jobs-panel [role=status]")
    expect(notice).to_have_text(f"Job {failed_job} gets one more attempt.")
    expect(page.locator(f"#outbox-{failed_job}")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/admin/jobs$"))
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    # The focus moves to the result once htmx has settled (app.js moveFocus).
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.matches('#jobs-panel [role=status]')")
    screenshot("after-retry")
    with app.app_context():
        assert db.session.get(JobOutbox, failed_job).status == OutboxStatus.DONE
    assert len(ran) == 1
    assert not page_errors, page_errors
