"""Jobs: held until commit, dropped on rollback, idempotent, and run by a real RQ worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.extensions import db, rq
from app.jobs import enqueue_after_commit
from app.jobs.welcome import send_welcome_notification
from app.models import Notification, Role
from app.services import users as user_service
from app.services.context import Actor

ROOT = Path(__file__).resolve().parent.parent


def _notifications(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Notification.id)).where(Notification.user_id == user_id))


def test_job_runs_inline_only_after_commit(app, make_user):
    user = make_user()
    with app.app_context():
        enqueue_after_commit("app.jobs.welcome.send_welcome_notification", user.id)
        assert _notifications(app, user.id) == 0  # not before the commit
        db.session.commit()
    assert _notifications(app, user.id) == 1


def test_job_is_dropped_when_the_transaction_rolls_back(app, make_user):
    user = make_user()
    with app.app_context():
        user_service.update_user(user_service.get_user(user.id), Actor.system(), name="Changed")
        enqueue_after_commit("app.jobs.welcome.send_welcome_notification", user.id)
        db.session.rollback()
        db.session.commit()
    assert _notifications(app, user.id) == 0


def test_job_is_idempotent(app, make_user):
    user = make_user()
    with app.app_context():
        assert send_welcome_notification(user.id)["status"] == "created"
        assert send_welcome_notification(user.id)["status"] == "already_sent"
        assert send_welcome_notification(987654)["status"] == "skipped"
    assert _notifications(app, user.id) == 1


def test_a_failing_inline_job_does_not_undo_the_request(app, make_user, monkeypatch, caplog):
    def broken(user_id):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    with app.app_context():
        user = user_service.create_user(Actor.system(), email="keep@example.test", name="Keep",
                                        role=Role.STAFF, password="long-enough-pw")
        db.session.commit()
        user_id = user.id
    with app.app_context():
        assert user_service.get_user(user_id).email == "keep@example.test"
    assert "inline job send_welcome_notification" in caplog.text


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI's second run)")
def test_a_real_rq_worker_runs_the_queued_job(make_app, migrated_database, make_user):
    redis_url = os.environ["REDIS_URL"]
    app = make_app(JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=redis_url, REDIS_URL=redis_url)
    with app.app_context():
        rq.queue.empty()
        # With a password (no invitation): the welcome job is the one job queued.
        user = user_service.create_user(Actor.system(), email="queued@example.test",
                                        name="Queued", role=Role.STAFF,
                                        password="long-enough-pw")
        db.session.commit()  # enqueues on Redis instead of running inline
        user_id = user.id
        assert rq.queue.count == 1
    assert _notifications(app, user_id) == 0
    env = {**os.environ, "DATABASE_URL": migrated_database, "REDIS_URL": redis_url,
           "FLASK_APP": "wsgi"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--burst"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _notifications(app, user_id) == 1


def test_cron_starts_the_daily_sweep_with_retries(make_app):
    """RQ's cron runs start_daily_sweep, which queues the sweep with a retry policy
    (here the queue is synchronous, so the sweep runs and records itself)."""
    app = make_app(RQ_ASYNC=False, JOBS_INLINE=True)
    from app.jobs.sweep import CRON, SWEEP_RETRY, daily_sweep, start_daily_sweep
    from app.models import SweepRun

    registered = [item for item in rq._cron_job_data if item["cron"] == CRON]
    assert [item["func"].__name__ for item in registered] == ["start_daily_sweep"]
    with app.app_context():
        seen = {}
        original = daily_sweep.enqueue

        def spy(*args, **kwargs):
            seen.update(kwargs)
            return original(*args, **kwargs)

        daily_sweep.enqueue = spy
        try:
            start_daily_sweep()
        finally:
            del daily_sweep.enqueue
        assert seen["retry"].max == SWEEP_RETRY["max"]
        assert db.session.scalar(select(func.count()).select_from(SweepRun)) == 1
