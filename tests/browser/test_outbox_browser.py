"""Redis down, in a real browser: the admin still logs in (rate limits count in the
process), adds a person (the write succeeds; its jobs wait in the outbox), and the jobs
page says how many are waiting and since when. Once the dispatcher has run (Redis back,
here: the operator's cron without Redis runs them inline), Refresh shows none left."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import limiter
from app.models import Role

DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def app(make_app):
    app = make_app(JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=DOWN, REDIS_URL=DOWN,
                   RATELIMIT_STORAGE_URI=DOWN)
    yield app
    limiter._storage_dead = False  # one limiter object serves every app of the run


def test_with_redis_down_a_write_succeeds_and_its_jobs_wait_on_the_jobs_page(
        app, page, live_server, log_in, make_user, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    log_in(admin.email)

    page.locator("summary", has_text="Manage").click()
    page.get_by_role("link", name="Users", exact=True).click()
    row = page.locator("tr#user-new")
    row.locator('input[name="name"]').fill("Mere Outbox")
    row.locator('input[name="email"]').fill("mere.outbox@example.test")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/admin/users")) as answer:
        row.get_by_role("button", name="Add user").click()
    assert answer.value.status == 200
    expect(page.locator("tr", has_text="mere.outbox@example.test")).to_contain_text("Mere Outbox")

    page.locator("summary", has_text="Manage").click()
    page.get_by_role("link", name="Jobs and deliveries").click()
    outbox = page.locator("#jobs-outbox")
    expect(outbox).to_contain_text("committed job(s) waiting to be queued")
    expect(outbox).to_contain_text("the oldest since")
    expect(outbox).to_contain_text("ConnectionError")
    expect(page.locator("#jobs-queues")).to_contain_text("Unable to reach Redis")
    waiting = int(outbox.locator("#outbox-pending").inner_text())
    assert waiting >= 1
    screenshot("outbox-waiting")

    # The operator's dispatcher runs (here without Redis: the jobs run in its process).
    app.config["JOBS_INLINE"] = True
    result = app.test_cli_runner().invoke(args=["jobs", "dispatch"])
    assert result.exit_code == 0 and f"{waiting} ran inline" in result.output, result.output
    page.get_by_role("button", name="Refresh").click()
    expect(outbox).to_contain_text("Every committed job has been queued.")
    screenshot("outbox-empty")
    assert not page_errors, page_errors
