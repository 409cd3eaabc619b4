"""Outbox retries: a failed attempt (the job raised inline, or this dispatcher cannot
import its name) waits for its next one with a growing delay; after max_attempts the
row is failed for good, listed on /admin/jobs with a Retry that gives it one more
attempt, once however many admins press it. Two dispatchers at once take each due row
once (really at once on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.extensions import db
from app.jobs import dispatch_pending, retry_delay
from app.jobs.welcome import send_welcome_notification
from app.models import JobOutbox, OutboxStatus, Role
from app.models.base import utcnow
from app.services.enqueue import enqueue_after_commit

WELCOME = "app.jobs.welcome.send_welcome_notification"
HX = {"HX-Request": "true"}


def _row(app: Flask) -> JobOutbox:
    with app.app_context():
        row = db.session.scalar(select(JobOutbox).where(JobOutbox.name == WELCOME))
        db.session.expunge(row)
        return row


def _make_due(app: Flask) -> None:
    with app.app_context():
        db.session.execute(update(JobOutbox).values(next_attempt_at=utcnow()
                                                    - timedelta(seconds=1)))
        db.session.commit()


def test_the_delay_doubles_up_to_an_hour_with_jitter():
    for attempts, full in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        for _ in range(20):
            delay = retry_delay(attempts).total_seconds()
            assert full / 2 <= delay <= full


def test_a_failing_job_is_retried_until_its_last_attempt_then_failed_for_good(
        app, make_user, monkeypatch):
    calls: list[int] = []

    def broken(user_id):
        calls.append(user_id)
        raise RuntimeError("smtp down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        db.session.commit()  # attempt 1, after the commit
    row = _row(app)
    assert (row.status, row.attempts, row.max_attempts) == (OutboxStatus.PENDING, 1, 8)
    assert row.next_attempt_at > utcnow() + timedelta(seconds=14)
    with app.app_context():  # not due yet: nobody takes it
        assert dispatch_pending().claimed == 0
    for attempt in range(2, 9):
        _make_due(app)
        with app.app_context():
            result = dispatch_pending()
        row = _row(app)
        assert row.attempts == attempt
        if attempt < 8:
            assert (result.retrying, result.failed) == (1, 0)
            assert row.status == OutboxStatus.PENDING
        else:
            assert (result.retrying, result.failed) == (0, 1)
            assert row.status == OutboxStatus.FAILED
    assert len(calls) == 8 and row.last_error == "RuntimeError: smtp down"
    _make_due(app)
    with app.app_context():  # failed for good: never claimed again
        assert dispatch_pending().claimed == 0


def test_a_job_this_dispatcher_cannot_import_is_retried_not_failed(app, make_user):
    """A rolling deploy: the newer release wrote a job the old dispatcher cannot import."""
    user = make_user()
    with app.app_context():
        enqueue_after_commit("app.jobs.welcome.from_the_next_release", user.id)
        db.session.commit()
        row = db.session.scalar(select(JobOutbox))
        assert row.status == OutboxStatus.PENDING and row.attempts == 1
        assert "from_the_next_release" in row.last_error


@pytest.fixture
def failed_row(app: Flask, make_user: Callable[..., object], monkeypatch) -> int:
    """A welcome job whose one attempt failed (max_attempts 1): failed for good."""
    def broken(user_id):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        db.session.execute(update(JobOutbox).values(max_attempts=1))
        db.session.commit()
        row = db.session.scalar(select(JobOutbox))
        assert row.status == OutboxStatus.FAILED
        return row.id


def test_a_job_failed_for_good_is_listed_and_retry_runs_it_once_more(
        app, admin_client, failed_row, monkeypatch):
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert f'id="outbox-{failed_row}"' in page and "RuntimeError: smtp down" in page
    assert "1 of 1" in page
    ran: list[int] = []
    monkeypatch.setattr(send_welcome_notification, "func", lambda user_id: ran.append(user_id))
    answer = admin_client.post(f"/admin/jobs/outbox/{failed_row}/retry", headers=HX)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert f"Job {failed_row} gets one more attempt." in html
    assert f'id="outbox-{failed_row}"' not in html
    assert len(ran) == 1 and _row(app).status == OutboxStatus.DONE
    again = admin_client.post(f"/admin/jobs/outbox/{failed_row}/retry", headers=HX)
    assert again.status_code == 409
    assert admin_client.post("/admin/jobs/outbox/999999/retry", headers=HX).status_code == 404


def test_ten_admins_pressing_retry_at_once_give_one_attempt(
        app, race, make_user, failed_row, monkeypatch):
    ran: list[int] = []
    lock = threading.Lock()

    def counted(user_id):
        with lock:
            ran.append(user_id)

    monkeypatch.setattr(send_welcome_notification, "func", counted)
    admin = make_user(Role.ADMIN)
    responses = race(admin, "POST", f"/admin/jobs/outbox/{failed_row}/retry", headers=HX)
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    # The winner dispatches after its commit unless a loser's UPDATE still held the row
    # (SKIP LOCKED on PostgreSQL): then the next dispatcher run takes it.
    with app.app_context():
        dispatch_pending()
    assert len(ran) == 1 and _row(app).status == OutboxStatus.DONE


@pytest.mark.parametrize(("role_client"), ["staff_client", "org_admin_client"])
def test_only_admins_retry(request, role_client, failed_row):
    client = request.getfixturevalue(role_client)
    assert client.post(f"/admin/jobs/outbox/{failed_row}/retry").status_code == 403


def test_dispatchers_at_once_take_each_due_retry_once(app, make_user, monkeypatch):
    """Thirty rows whose first attempt failed, due again; six dispatchers at once."""
    def broken(user_id):
        raise RuntimeError("down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    user = make_user()
    with app.app_context():
        for _ in range(30):
            enqueue_after_commit(WELCOME, user.id)
        db.session.commit()
        assert set(db.session.scalars(select(JobOutbox.attempts))) == {1}
    _make_due(app)
    ran: list[int] = []
    lock = threading.Lock()

    def counted(user_id):
        with lock:
            ran.append(user_id)

    monkeypatch.setattr(send_welcome_notification, "func", counted)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                dispatch_pending()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(ran) == 30
    with app.app_context():
        rows = db.session.execute(select(JobOutbox.status, JobOutbox.attempts).where(
            JobOutbox.name == WELCOME)).all()
        assert {(s, a) for s, a in rows} == {(OutboxStatus.DONE, 2)}
