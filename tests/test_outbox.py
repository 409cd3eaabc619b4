"""The job outbox: jobs are rows written with the change that needs them, moved to RQ
after the commit or later by `flask jobs dispatch`; none is lost when Redis is down at
commit, none is queued twice for one row (two dispatchers, a rerun, a dead claim).

Runs on both legs: without REDIS_URL the "Redis up again" half runs the jobs inline;
with REDIS_URL it queues them on a queue of the test's own (tests/rq_isolation.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.extensions import db, limiter
from app.jobs import dispatch_pending
from app.jobs.welcome import send_welcome_notification
from app.models import JobOutbox, OutboxStatus, Role
from app.models.base import utcnow
from app.services import auth as auth_service
from app.services.enqueue import enqueue_after_commit
from tests import rq_isolation
from tests.conftest import Client

DOWN = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused at once
REDIS_URL = os.environ.get("REDIS_URL")
WELCOME = "app.jobs.welcome.send_welcome_notification"
HX = {"HX-Request": "true"}


def _rows(app: Flask) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return [(r.name, r.status, r.rq_job_id) for r in db.session.scalars(
            select(JobOutbox).order_by(JobOutbox.id))]


def _statuses(app: Flask, name: str = WELCOME) -> list[str]:
    """The statuses of one job's rows (the welcome job's notification queues its own
    delivery job, a row of its own)."""
    return [status for job, status, _ in _rows(app) if job == name]


@pytest.fixture
def down_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app while Redis is down: queues, rate limits and /healthz all point at it."""
    app = make_app(JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=DOWN, REDIS_URL=DOWN,
                   RATELIMIT_STORAGE_URI=DOWN)
    app.test_client_class = Client
    yield app
    limiter._storage_dead = False  # the limiter is one object for every app of the run


@pytest.fixture
def up_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The same database with Redis back (REDIS_URL leg), or without Redis (inline)."""
    if not REDIS_URL:
        yield make_app()
        return
    from redis import Redis

    name = rq_isolation.queue_name()
    connection = Redis.from_url(REDIS_URL)
    try:
        yield rq_isolation.isolate(make_app(JOBS_INLINE=False, RQ_ASYNC=True,
                                            RQ_CONNECTION=REDIS_URL, REDIS_URL=REDIS_URL), name)
    finally:
        rq_isolation.delete_queue_keys(connection, name)
        connection.close()


def _queued_ids(app: Flask) -> list[str]:
    from app.extensions import rq

    with app.app_context():
        return list(rq.queues["default"].job_ids)


def _queued_jobs(app: Flask) -> dict[str, tuple[str, list[object]]]:
    """The jobs on the test's queue: job id -> (the job's dotted name, its arguments)."""
    from rq.job import Job

    from app.extensions import rq

    with app.app_context():
        queue = rq.queues["default"]
        return {job.id: (job.func_name, list(job.args))
                for job in Job.fetch_many(queue.job_ids, connection=queue.connection)}


def _outbox_jobs(app: Flask, name: str = WELCOME) -> dict[str, tuple[str, list[object]]]:
    """What the outbox's rows of one job asked for: job_key -> (name, arguments)."""
    with app.app_context():
        return {row.job_key: (row.name, list(row.args)) for row in db.session.scalars(
            select(JobOutbox).where(JobOutbox.name == name))}


def _admin(app: Flask, make_user: Callable[..., object]) -> Client:
    admin = make_user(Role.ADMIN)
    client = app.test_client()
    client.login(admin.email)  # type: ignore[attr-defined]
    return client


# --- inline (no Redis) -------------------------------------------------------------

def test_inline_jobs_run_after_commit_and_their_rows_are_done(app, make_user):
    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        assert _statuses(app) == []  # another session: not committed yet
        db.session.commit()
    assert _statuses(app) == [OutboxStatus.DONE]


def test_a_rolled_back_transaction_leaves_no_outbox_row(app, make_user):
    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        db.session.rollback()
        db.session.commit()
    assert _statuses(app) == []


def test_a_savepoint_whose_flush_fails_keeps_the_jobs_queued_before_it(app, make_user):
    """A refused INSERT in a SAVEPOINT (a unique clash, caught and retried as the status
    list's random index draw does) drops only what the SAVEPOINT held: the jobs queued
    earlier in the transaction still run after its commit."""
    from sqlalchemy.exc import IntegrityError

    from app.models import User

    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        try:
            with db.session.begin_nested():
                db.session.add(User(email=user.email, name="Clash", role=Role.STAFF))
        except IntegrityError:
            pass
        enqueue_after_commit(WELCOME, user.id)
        db.session.commit()
    assert _statuses(app) == [OutboxStatus.DONE, OutboxStatus.DONE]


def test_a_failing_inline_job_waits_for_its_next_attempt_with_its_error(
        app, make_user, monkeypatch):
    def broken(user_id):
        raise RuntimeError("smtp down")

    monkeypatch.setattr(send_welcome_notification, "func", broken)
    user = make_user()
    with app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        db.session.commit()
        row = db.session.scalar(select(JobOutbox))
        assert row.status == OutboxStatus.PENDING and row.last_error == "RuntimeError: smtp down"
        assert row.attempts == 1 and row.next_attempt_at > utcnow()


# --- Redis down at commit ------------------------------------------------------------

def test_a_write_while_redis_is_down_succeeds_and_its_job_waits(down_app, up_app, make_user):
    admin = _admin(down_app, make_user)
    response = admin.post("/admin/users", headers={**HX, "X-CSRFToken": admin.csrf_token()},
                          data={"name": "Queued Later", "email": "later@example.test",
                                "role": "staff", "organization_id": "",
                                "password": "long-enough-pw-42"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    rows = _rows(down_app)
    assert rows and {status for _, status, _ in rows} == {OutboxStatus.PENDING}
    with down_app.app_context():
        assert all("ConnectionError" in (r.last_error or "")
                   for r in db.session.scalars(select(JobOutbox)))
        assert auth_service.find_user_by_email("later@example.test") is not None  # committed

    # The admin's jobs page says so.
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'<span id="outbox-pending">{len(rows)}</span> committed job(s) waiting' in page
    assert 'id="outbox-oldest"' in page

    # A dispatcher while Redis is still down leaves them pending and says so (exit 1).
    result = down_app.test_cli_runner().invoke(args=["jobs", "dispatch"])
    assert result.exit_code == 1 and f"{len(rows)} left pending" in result.output
    assert {status for _, status, _ in _rows(down_app)} == {OutboxStatus.PENDING}

    # Redis is back: the dispatcher moves each row once; a second run moves nothing.
    result = up_app.test_cli_runner().invoke(args=["jobs", "dispatch"])
    assert result.exit_code == 0, result.output
    after = _rows(up_app)
    if REDIS_URL:
        assert f"{len(rows)} queued" in result.output
        assert {status for _, status, _ in after} == {OutboxStatus.DISPATCHED}
        assert sorted(_queued_ids(up_app)) == sorted(job_id for _, _, job_id in after)
    else:
        assert f"{len(rows)} ran inline" in result.output
        assert {status for _, status, _ in after} == {OutboxStatus.DONE}
    again = up_app.test_cli_runner().invoke(args=["jobs", "dispatch"])
    assert "0 queued, 0 ran inline" in again.output
    assert _rows(up_app) == after
    if REDIS_URL:
        assert len(_queued_ids(up_app)) == len(rows)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "Every committed job has been queued." in page


def test_the_daily_sweep_dispatches_the_outbox_first(down_app, up_app, make_user):
    user = make_user()
    with down_app.app_context():
        enqueue_after_commit(WELCOME, user.id)
        db.session.commit()
    assert _statuses(down_app) == [OutboxStatus.PENDING]
    with up_app.app_context():
        from app.jobs import sweep

        sweep.run(utcnow().date())
    assert _statuses(up_app) == [OutboxStatus.DISPATCHED if REDIS_URL else OutboxStatus.DONE]


def test_the_sweep_purges_rows_done_a_week_ago_and_keeps_the_rest(app, make_user):
    from app.jobs import purge_outbox

    user = make_user()
    with app.app_context():
        for _ in range(3):
            enqueue_after_commit(WELCOME, user.id)
        db.session.commit()
        ids = sorted(db.session.scalars(select(JobOutbox.id).where(JobOutbox.name == WELCOME)))
        db.session.execute(update(JobOutbox).where(JobOutbox.id == ids[0]).values(
            dispatched_at=utcnow() - timedelta(days=8)))
        db.session.execute(update(JobOutbox).where(JobOutbox.id == ids[1]).values(
            status=OutboxStatus.PENDING, dispatched_at=utcnow() - timedelta(days=8)))
        db.session.commit()
        assert purge_outbox() == 1
        left = set(db.session.scalars(select(JobOutbox.id)))
        assert ids[0] not in left and {ids[1], ids[2]} <= left


def _pending_rows(app: Flask, make_user: Callable[..., object], n: int) -> None:
    user = make_user()
    with app.app_context():
        for _ in range(n):
            enqueue_after_commit(WELCOME, user.id)  # type: ignore[attr-defined]
        db.session.commit()


def test_concurrent_dispatchers_move_each_row_once(down_app, up_app, make_user, monkeypatch):
    _pending_rows(down_app, make_user, 30)
    ran: list[int] = []
    lock = threading.Lock()

    def counted(user_id):
        with lock:
            ran.append(user_id)
        return {"status": "counted"}

    monkeypatch.setattr(send_welcome_notification, "func", counted)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            with up_app.app_context():
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
    rows = _rows(up_app)
    assert len(rows) == 30
    if REDIS_URL:
        assert {status for _, status, _ in rows} == {OutboxStatus.DISPATCHED}
        queued = _queued_ids(up_app)
        assert len(queued) == 30 and sorted(queued) == sorted(job for _, _, job in rows)
    else:
        assert {status for _, status, _ in rows} == {OutboxStatus.DONE}
        assert len(ran) == 30
    with up_app.app_context():
        # Each row claimed twice: while Redis was down (left pending, the attempt given
        # back: not the row's failure) and here, its one attempt.
        assert set(db.session.scalars(select(JobOutbox.attempts))) == {1}


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (CI's second run)")
def test_a_dead_dispatchers_claim_is_taken_over_without_queueing_twice(up_app, make_user):
    """A dispatcher died after putting the job on Redis but before marking the row: the
    next one (after the lease) finds the job under the row's id and only marks it."""
    user = make_user()
    with up_app.app_context():
        from app.extensions import rq

        enqueue_after_commit(WELCOME, user.id)
        db.session.info.pop("credwright_outbox_ids")  # this "process" dies at commit
        db.session.commit()
        job_key = db.session.scalar(select(JobOutbox.job_key))
        rq.queues["default"].enqueue(WELCOME, user.id, job_id=job_key)
        db.session.execute(update(JobOutbox).values(
            status=OutboxStatus.DISPATCHING, claimed_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        assert dispatch_pending().claimed == 0  # a live claim is left alone
        db.session.execute(update(JobOutbox).values(claimed_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert dispatch_pending().queued == 1
    assert _queued_ids(up_app) == [job_key]
    assert _rows(up_app) == [(WELCOME, OutboxStatus.DISPATCHED, job_key)]


# --- batches (a sweep's commit holds thousands of jobs) ---------------------------------

def _counting_enqueue_many(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every job id handed to RQ's enqueue_many (the batched dispatcher's only way on)."""
    from rq import Queue

    sent: list[str] = []
    lock = threading.Lock()
    original = Queue.enqueue_many

    def counting(self, job_datas, *args, **kwargs):
        job_datas = list(job_datas)
        with lock:
            sent.extend(data.job_id for data in job_datas)
        return original(self, job_datas, *args, **kwargs)

    monkeypatch.setattr(Queue, "enqueue_many", counting)
    return sent


def test_a_commit_with_more_jobs_than_a_batch_dispatches_them_all(up_app, make_user,
                                                                 monkeypatch):
    import app.jobs as jobs

    monkeypatch.setattr(jobs, "DISPATCH_BATCH", 7)
    sent = _counting_enqueue_many(monkeypatch)
    ran: list[int] = []
    monkeypatch.setattr(send_welcome_notification, "func", lambda user_id: ran.append(user_id))
    _pending_rows(up_app, make_user, 30)  # one commit: dispatched after it, 7 at a time
    rows = _rows(up_app)
    assert len(rows) == 30
    if REDIS_URL:
        assert {status for _, status, _ in rows} == {OutboxStatus.DISPATCHED}
        assert sorted(sent) == sorted(job for _, _, job in rows)  # each enqueued once
        # On the queue: each row's own job, with its arguments, under its job_key.
        assert _queued_jobs(up_app) == _outbox_jobs(up_app)
        assert not ran
    else:
        assert {status for _, status, _ in rows} == {OutboxStatus.DONE}
        assert len(ran) == 30


def test_two_dispatchers_of_the_same_rows_enqueue_each_once(down_app, up_app, make_user,
                                                            monkeypatch):
    """The same 40 ids given to two dispatchers at once (two processes' after-commit
    hooks, or one of them and `flask jobs dispatch`), in batches of 6: each row is
    claimed by one of them and handed to RQ once."""
    from app.jobs import dispatch

    _pending_rows(down_app, make_user, 40)
    with up_app.app_context():
        ids = list(db.session.scalars(select(JobOutbox.id).where(JobOutbox.name == WELCOME)))
    sent = _counting_enqueue_many(monkeypatch)
    ran: list[int] = []
    lock = threading.Lock()

    def counted(user_id):
        with lock:
            ran.append(user_id)
        return {"status": "counted"}

    monkeypatch.setattr(send_welcome_notification, "func", counted)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def dispatcher() -> None:
        try:
            with up_app.app_context():
                barrier.wait(timeout=30)
                results.append(dispatch(ids, limit=6))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sum(r.claimed for r in results) == 40
    rows = [row for row in _rows(up_app) if row[0] == WELCOME]
    if REDIS_URL:
        assert {status for _, status, _ in rows} == {OutboxStatus.DISPATCHED}
        assert sorted(sent) == sorted(job for _, _, job in rows)
        queued = _queued_ids(up_app)
        assert len(queued) == 40 and sorted(queued) == sorted(sent)
        assert _queued_jobs(up_app) == _outbox_jobs(up_app) and not ran
    else:
        assert {status for _, status, _ in rows} == {OutboxStatus.DONE} and len(ran) == 40


@pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (CI's second run)")
def test_a_batch_enqueued_by_a_dispatcher_that_died_before_marking_is_not_queued_again(
        up_app, make_user, monkeypatch):
    import app.jobs as jobs

    original = jobs._finish
    died = []

    def dies_once(row_ids, claim, status, **values):
        if status == OutboxStatus.DISPATCHED and not died:
            died.append(list(row_ids))
            db.session.rollback()  # the process is gone: nothing marked
            raise RuntimeError("killed")
        return original(row_ids, claim, status, **values)

    monkeypatch.setattr(jobs, "_finish", dies_once)
    sent = _counting_enqueue_many(monkeypatch)
    user = make_user()
    with up_app.app_context():
        for _ in range(12):
            enqueue_after_commit(WELCOME, user.id)
        db.session.commit()  # the after-commit dispatch "dies" after enqueueing
        rows = db.session.execute(select(JobOutbox.status, JobOutbox.job_key)).all()
        keys = sorted(key for _, key in rows)
        assert died and {status for status, _ in rows} == {OutboxStatus.DISPATCHING}
        assert sorted(sent) == keys
        db.session.execute(update(JobOutbox).values(claimed_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert dispatch_pending().queued == 12  # taken over: found on Redis, only marked
    assert len(sent) == 12  # nothing handed to RQ a second time
    queued = _queued_ids(up_app)
    assert len(queued) == 12 and sorted(queued) == keys
    assert _queued_jobs(up_app) == _outbox_jobs(up_app)
    assert {status for _, status, _ in _rows(up_app)} == {OutboxStatus.DISPATCHED}


def test_a_dispatcher_whose_claim_was_taken_over_leaves_the_rows_to_the_new_holder(
        up_app, make_user, monkeypatch):
    """A dispatcher claimed rows and stalled past the lease; another took them over.
    When the stale one wakes up, its finishing UPDATE must not touch them (neither send
    them back to pending nor mark them), whatever it thinks happened."""
    import app.jobs as jobs

    user = make_user()
    real = jobs.utcnow
    with up_app.app_context():
        for _ in range(3):
            enqueue_after_commit(WELCOME, user.id)
        db.session.info.pop("credwright_outbox_ids")  # no after-commit dispatch
        db.session.execute(update(JobOutbox).values(  # written before that hour
            next_attempt_at=real() - timedelta(hours=2)))
        db.session.commit()
        monkeypatch.setattr(jobs, "utcnow", lambda: real() - timedelta(hours=1))
        stale = jobs._claim(None, 10)  # claimed an hour ago, then stalled
        monkeypatch.setattr(jobs, "utcnow", real)
        fresh = jobs._claim(None, 10)  # the lease ran out: taken over
        ids = [row.id for row in stale]
        assert len(ids) == 3 and [row.id for row in fresh] == ids

        jobs._finish(ids, stale[0].claimed_at, OutboxStatus.PENDING, claimed_at=None,
                     last_error="ConnectionError: stale")
        jobs._finish(ids, stale[0].claimed_at, OutboxStatus.DISPATCHED, dispatched_at=real())
        rows = db.session.execute(select(JobOutbox.status, JobOutbox.claimed_at,
                                         JobOutbox.last_error)).all()
        assert rows == [(OutboxStatus.DISPATCHING, fresh[0].claimed_at, None)] * 3

        jobs._finish(ids, fresh[0].claimed_at, OutboxStatus.DISPATCHED, dispatched_at=real())
        assert set(db.session.scalars(select(JobOutbox.status))) == {OutboxStatus.DISPATCHED}


def test_a_row_whose_job_no_longer_exists_fails_alone_and_the_rest_go_on(
        up_app, make_user, monkeypatch):
    """A deploy renamed or removed a job while its row waited: that row can never run.
    It is the oldest, so it is in every claim; it must not send its batch back to
    pending on every run (one bad row stopped the whole outbox)."""
    import app.jobs as jobs

    monkeypatch.setattr(jobs, "DISPATCH_BATCH", 3)  # the bad row and two good ones a batch
    gone = "app.jobs.welcome.no_such_job"
    user = make_user()
    with up_app.app_context():
        enqueue_after_commit(gone, user.id)
        for _ in range(5):
            enqueue_after_commit(WELCOME, user.id)
        db.session.info.pop("credwright_outbox_ids")  # written before the deploy: waiting
        db.session.commit()
    assert set(_statuses(up_app, gone) + _statuses(up_app)) == {OutboxStatus.PENDING}
    ran: list[int] = []
    monkeypatch.setattr(send_welcome_notification, "func", lambda user_id: ran.append(user_id))

    with up_app.app_context():  # its last attempt (the first would be retried later)
        db.session.execute(update(JobOutbox).where(JobOutbox.name == gone).values(
            max_attempts=1))
        db.session.commit()
        result = dispatch_pending()
    assert result.failed == 1 and result.left == 0
    with up_app.app_context():
        bad = db.session.scalar(select(JobOutbox).where(JobOutbox.name == gone))
        assert bad.status == OutboxStatus.FAILED and bad.rq_job_id is None
        assert "no_such_job" in bad.last_error and "AttributeError" in bad.last_error
    if REDIS_URL:
        assert result.queued == 5
        assert _statuses(up_app) == [OutboxStatus.DISPATCHED] * 5
        assert _queued_jobs(up_app) == _outbox_jobs(up_app)  # the five, and not the bad one
    else:
        assert result.ran == 5 and len(ran) == 5
        assert _statuses(up_app) == [OutboxStatus.DONE] * 5
    # The failed row is not claimed again; the admin's jobs page counts it.
    with up_app.app_context():
        assert dispatch_pending().claimed == 0
    up_app.test_client_class = Client
    page = _admin(up_app, make_user).get("/admin/jobs").get_data(as_text=True)
    assert 'id="outbox-failed">1 job(s) failed' in page
    assert "Every committed job has been queued." in page


# --- rate limits and /healthz with Redis down ------------------------------------------

def test_login_and_verification_keep_working_with_redis_down(make_app, make_user):
    app = make_app(REDIS_URL=DOWN, RATELIMIT_STORAGE_URI=DOWN, LOGIN_RATE_LIMIT="3 per minute")
    app.test_client_class = Client
    try:
        user = make_user()
        client = app.test_client()
        assert client.login(user.email).status_code == 302  # type: ignore[attr-defined]
        assert client.get("/me").status_code == 200
        assert app.test_client().get("/verify/no-such-id").status_code == 404
        assert app.test_client().get("/verify").status_code == 200
        # The limits still hold, counted in this process.
        other = app.test_client()
        answers = [other.post("/login", data={"email": f"nobody{i}@example.test",
                                              "password": "wrong-password"}).status_code
                   for i in range(5)]
        assert 500 not in answers and 429 in answers, answers
        health = app.test_client().get("/healthz")
        assert health.status_code == 200 and health.get_json()["degraded"] == ["redis"]
    finally:
        limiter._storage_dead = False
