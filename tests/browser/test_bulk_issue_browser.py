"""Admin journey 6 in a real browser: upload a CSV of recipients with good and bad rows,
read the preview's row errors, confirm, watch the progress bar finish, download the
result report and read it. Then the same with a job that takes its time (Redis down: the
job waits in the outbox and a worker, here the test, runs it slowly): the bar moves while
the page polls, and finishes; and a job whose worker went silent: the page stops
polling, says so, and its Resume button issues the rows left."""

from __future__ import annotations

import csv
import re
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.extensions import db, limiter
from app.jobs.bulk import process_bulk_import
from app.models import BulkImport, ImportStatus, Role
from app.services.bulk import certificates as bulk

PHONE = {"width": 390, "height": 844}
HEADER = "email,name,organization,course,track,type,issue_date,expiry,notes\n"


def _csv(tmp_path: Path, people: list, extra: str = "") -> Path:
    path = tmp_path / "november-cohort.csv"
    path.write_text(HEADER + "".join(f"{p.email},,,,Roofing Fundamentals,completion,,,"
                                     "November cohort\n" for p in people) + extra,
                    encoding="utf-8")
    return path


def _upload(page, live_server: str, path: Path) -> None:
    page.goto(f"{live_server}/admin/certificates")
    page.get_by_role("button", name="Bulk issue (CSV)").click()
    expect(page.get_by_role("heading", name="Bulk issue certificates")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()


def test_bulk_issue_journey(app, page, live_server, log_in, make_user, make_track, org,
                            tmp_path, screenshot, page_errors):
    make_track("Roofing Fundamentals")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    people = [make_user(Role.STAFF, org, name=n, email=f"{n.split()[0].lower()}@example.test")
              for n in ("Hēmi Walker", "Zoë Brown", "Li Wei")]
    bad = ("mere@example.test,,,,Roofing Fundamentals,completion,,,\n"
           "hēmi@example.test,,,Welding,,completion,,,\n"
           "zoë@example.test,,,,Roofing Fundamentals,completion,2026-13-01,,\n"
           '=HYPERLINK("http://evil.example"),,,,Roofing Fundamentals,completion,,,\n')
    log_in(admin.email)
    with page.expect_download() as template:
        page.goto(f"{live_server}/admin/certificates/bulk")
        page.get_by_role("link", name="Download the template CSV").click()
    header = template.value.path().read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("email,name,organization,course,track,type")

    _upload(page, live_server, _csv(tmp_path, people, bad))
    expect(page.locator(".bulk-counts")).to_contain_text("3 ready to issue")
    problems = page.get_by_role("table", name="Rows that will not be issued as they are")
    expect(problems.locator("#line-5")).to_contain_text("No account for mere@example.test")
    expect(problems.locator("#line-6")).to_contain_text("Unknown course 'Welding'.")
    expect(problems.locator("#line-7")).to_contain_text("'2026-13-01' is not a date")
    expect(problems.locator("#line-8")).to_contain_text("is not a valid email address.")
    screenshot("preview")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot("preview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # One row has no account: the button says what ticking "Invite" would add.
    page.get_by_role("button", name="Issue 3 certificates (and 1 more if you invite them)",
                     exact=True).click()
    bar = page.get_by_role("progressbar", name="Rows processed")
    expect(bar).to_have_attribute("aria-valuenow", "3")
    expect(bar).to_have_attribute("aria-valuemax", "3")
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    expect(page.locator(".bulk-counts")).to_contain_text("3 issued")
    screenshot("finished")

    with page.expect_download() as report:
        page.get_by_role("button", name="Download the report (CSV)").click()
    rows = list(csv.DictReader(report.value.path().open(encoding="utf-8")))
    assert [r["result"] for r in rows] == ["Issued"] * 3 + ["Not registered"] + ["Problem"] * 3
    assert all(re.fullmatch(r"CERT-\d{4}-\d{5}", r["certificate"]) for r in rows[:3])
    assert rows[6]["email"].startswith("'=")  # a formula reads as text in a spreadsheet

    # The same file again: nothing is issued twice.
    _upload(page, live_server, _csv(tmp_path, people, bad))
    expect(page.locator(".bulk-counts")).to_contain_text("0 ready to issue")
    expect(page.locator("#line-2")).to_contain_text("Already issued by import #")
    assert not page_errors, page_errors


DOWN = "redis://127.0.0.1:1/0"


class TestWithAWorker:
    """Redis down: the confirmed job waits in the outbox until a worker (the test) runs it."""

    @pytest.fixture
    def app(self, make_app):
        app = make_app(JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=DOWN, REDIS_URL=DOWN,
                       RATELIMIT_STORAGE_URI=DOWN)
        yield app
        limiter._storage_dead = False  # one limiter object serves every app of the run

    def test_the_progress_bar_moves_while_the_job_runs(self, app, page, live_server, log_in,
                                                       make_user, make_track, org, tmp_path,
                                                       screenshot, page_errors, monkeypatch):
        _moving_bar(app, page, live_server, log_in, make_user, make_track, org, tmp_path,
                    screenshot, page_errors, monkeypatch)

    def test_a_stalled_import_is_resumed(self, app, page, live_server, log_in, make_user,
                                         make_track, org, tmp_path, screenshot, page_errors):
        from datetime import timedelta

        from app.models.base import utcnow

        make_track("Roofing Fundamentals")
        admin = make_user(Role.ADMIN, name="Ada Admin")
        people = [make_user(Role.STAFF, org, email=f"s{i}@example.test") for i in range(4)]
        log_in(admin.email)
        _upload(page, live_server, _csv(tmp_path, people))
        page.get_by_role("button", name="Issue 4 certificates").click()
        expect(page.get_by_role("heading", name="Issuing…")).to_be_visible()
        with app.app_context():  # a worker took it, then was killed: no beat since
            item = db.session.scalar(db.select(BulkImport).where(
                BulkImport.status == ImportStatus.QUEUED))
            item.status = ImportStatus.RUNNING
            item.heartbeat_at = utcnow() - bulk.STALE_AFTER - timedelta(minutes=1)
            db.session.commit()
            import_id = item.id
        expect(page.get_by_role("heading", name="Stopped")).to_be_visible(timeout=5_000)
        expect(page.get_by_role("alert")).to_contain_text("The worker stopped")
        resume = page.get_by_role("button", name="Resume (4 rows left)")
        expect(resume).to_be_visible()
        screenshot("stalled")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        screenshot("stalled-phone")
        page.set_viewport_size({"width": 1280, "height": 900})
        resume.click()
        expect(page.get_by_text(f"Import #{import_id} resumed")).to_be_visible()
        expect(page.get_by_role("heading", name="Issuing…")).to_be_visible()

        def worker() -> None:
            with app.app_context():
                process_bulk_import(import_id)

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=20_000)
            expect(page.locator(".bulk-counts")).to_contain_text("4 issued")
            expect(page.get_by_role("button", name=re.compile("Resume"))).to_have_count(0)
            screenshot("resumed")
        finally:
            thread.join(timeout=30)
        assert not page_errors, page_errors


def _moving_bar(app, page, live_server, log_in, make_user, make_track, org, tmp_path,
                screenshot, page_errors, monkeypatch):
    make_track("Roofing Fundamentals")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    people = [make_user(Role.STAFF, org, email=f"p{i}@example.test") for i in range(6)]
    log_in(admin.email)
    _upload(page, live_server, _csv(tmp_path, people))
    page.get_by_role("button", name="Issue 6 certificates").click()
    bar = page.get_by_role("progressbar", name="Rows processed")
    expect(bar).to_have_attribute("aria-valuenow", "0")  # waiting in the outbox
    expect(page.get_by_role("heading", name="Issuing…")).to_be_visible()

    monkeypatch.setattr(bulk, "COMMIT_EVERY", 1)
    # (_request builds each row's issue, in the set-based batch and row by row alike)
    real = bulk._request

    def slowly(row, recipient, item):
        time.sleep(0.6)
        return real(row, recipient, item)

    monkeypatch.setattr(bulk, "_request", slowly)

    def worker() -> None:
        with app.app_context():
            import_id = db.session.scalar(db.select(BulkImport.id).where(
                BulkImport.status == ImportStatus.QUEUED))
            process_bulk_import(import_id)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        expect(bar).to_have_attribute("aria-valuenow", re.compile(r"^[1-5]$"), timeout=10_000)
        screenshot("moving")
        expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=20_000)
        expect(bar).to_have_attribute("aria-valuenow", "6")
        expect(page.locator(".bulk-counts")).to_contain_text("6 issued")
        screenshot("done")
    finally:
        thread.join(timeout=30)
    assert not page_errors, page_errors
