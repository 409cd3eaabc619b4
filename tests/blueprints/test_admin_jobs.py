"""/admin/jobs: queues, failed deliveries and jobs, sweep runs; Retry and Requeue.

Most tests run jobs inline (no Redis): a retried delivery is sent at once. The last
test needs REDIS_URL and runs real RQ jobs on a queue of its own.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db, rq
from app.models import (
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
    NotificationType,
    Role,
    SweepRun,
    User,
)
from tests import rq_isolation
from tests.conftest import HX, Client

SMTP_ERROR = "SMTP mail.example.test:587: [Errno 111] Connection refused"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    # No transports: a retried delivery is "logged", so it succeeds without a server.
    return make_app(MAIL_SERVER=None, SMS_GATEWAY_URL=None)


def _delivery(app: Flask, user: User, *, status: DeliveryStatus = DeliveryStatus.FAILED,
              channel: DeliveryChannel = DeliveryChannel.EMAIL, error: str | None = SMTP_ERROR,
              title: str = "Your Roofing Level 4 credential expires soon") -> int:
    with app.app_context():
        notification = Notification(user_id=user.id, type=NotificationType.CREDENTIAL_EXPIRY,
                                    title=title)
        row = NotificationDelivery(
            notification=notification, channel=channel, status=status,
            address=user.email if channel == DeliveryChannel.EMAIL else "+64210000001",
            attempts=0 if status == DeliveryStatus.QUEUED else 4, last_error=error)
        db.session.add(row)
        db.session.commit()
        return row.id


def _status(app: Flask, delivery_id: int) -> tuple[str, int]:
    with app.app_context():
        row = db.session.get(NotificationDelivery, delivery_id)
        assert row is not None
        return row.status, row.attempts


def test_full_page_and_fragment(admin_client):
    response = admin_client.get("/admin/jobs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert "HX-Request" in response.headers["Vary"]
    assert "Jobs run inline (no REDIS_URL): failures are recorded below" in page
    assert "No failed deliveries." in page and "The daily sweep has not run yet." in page
    fragment_response = admin_client.get("/admin/jobs", headers=HX)
    fragment = fragment_response.get_data(as_text=True)
    assert "HX-Request" in fragment_response.headers["Vary"]
    assert fragment.lstrip().startswith('<div id="jobs-panel"') and "<html" not in fragment


def test_dashboard_links_to_the_jobs_page(admin_client):
    assert 'href="/admin/jobs"' in admin_client.get("/admin/").get_data(as_text=True)


def test_failed_delivery_is_listed_and_retry_sends_it_again(app, admin_client, staff_user):
    delivery_id = _delivery(app, staff_user)
    _delivery(app, staff_user, status=DeliveryStatus.SENT, error=None, title="Sent fine")
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    row = re.search(rf'<tr id="delivery-{delivery_id}">.*?</tr>', page, re.S)
    assert row is not None
    assert SMTP_ERROR in row.group(0) and staff_user.email in row.group(0)
    assert "Your Roofing Level 4 credential expires soon" in row.group(0)
    assert f'hx-post="/admin/jobs/deliveries/{delivery_id}/retry"' in row.group(0)
    assert "Sent fine" not in page
    assert 'id="delivery-total-failed">failed: 1<' in page

    response = admin_client.post(f"/admin/jobs/deliveries/{delivery_id}/retry", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert '<div id="jobs-panel"' in fragment and "<html" not in fragment
    assert f"Delivery {delivery_id} queued again." in fragment
    assert f'id="delivery-{delivery_id}"' not in fragment  # queued again: no longer failed
    assert "No failed deliveries." in fragment
    # Inline jobs: the commit after the answer queued it and it was sent (logged: no
    # MAIL_SERVER) at once.
    assert _status(app, delivery_id) == (DeliveryStatus.LOGGED, 5)
    page = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert 'id="delivery-total-logged">logged: 1<' in page


def test_retry_by_plain_form_post_redirects_back(app, admin_client, staff_user):
    delivery_id = _delivery(app, staff_user, channel=DeliveryChannel.SMS,
                            error="SMS gateway answered 503")
    response = admin_client.post(f"/admin/jobs/deliveries/{delivery_id}/retry")
    assert response.status_code == 302 and response.location.endswith("/admin/jobs")
    assert _status(app, delivery_id) == (DeliveryStatus.LOGGED, 5)
    assert f"Delivery {delivery_id} queued again." in admin_client.get(
        "/admin/jobs").get_data(as_text=True)


def test_retry_refuses_a_delivery_that_has_not_failed_or_does_not_exist(
        app, admin_client, staff_user):
    sent_id = _delivery(app, staff_user, status=DeliveryStatus.SENT, error=None)
    response = admin_client.post(f"/admin/jobs/deliveries/{sent_id}/retry", headers=HX)
    assert response.status_code == 409
    assert "only a failed delivery can be retried" in response.get_data(as_text=True)
    assert _status(app, sent_id) == (DeliveryStatus.SENT, 4)
    response = admin_client.post("/admin/jobs/deliveries/987654/retry", headers=HX)
    assert response.status_code == 404
    assert "No delivery 987654." in response.get_data(as_text=True)


def test_requeue_is_not_found_when_jobs_run_inline(admin_client):
    response = admin_client.post("/admin/jobs/failed/some-job-id/requeue", headers=HX)
    assert response.status_code == 404


def test_sweep_runs_are_listed(app, admin_client):
    with app.app_context():
        run = SweepRun(as_of=date(2027, 1, 10), status="failed", sent=3,
                       counts={"credential_expiry": {"items": 4, "sent": 3}},
                       error="RuntimeError: the database went away")
        db.session.add(run)
        db.session.commit()
        run_id = run.id
    page = admin_client.get("/admin/jobs", headers=HX).get_data(as_text=True)
    row = re.search(rf'<tr id="sweep-{run_id}">.*?</tr>', page, re.S)
    assert row is not None
    for text in ("2027-01-10", "failed", "Credential expiry: 4 / 3",
                 "RuntimeError: the database went away"):
        assert text in row.group(0)


def test_unreachable_redis_is_reported_not_raised(make_app, make_user):
    app = make_app(JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION="redis://127.0.0.1:1/0")
    app.test_client_class = Client
    client = app.test_client()
    client.login(make_user(Role.ADMIN).email)
    response = client.get("/admin/jobs")
    assert response.status_code == 200
    assert "Unable to reach Redis: ConnectionError" in response.get_data(as_text=True)


def test_the_page_has_no_inline_script_or_style(app, admin_client, staff_user):
    _delivery(app, staff_user)
    html = admin_client.get("/admin/jobs").get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
    assert re.search(r"\sstyle=", html) is None


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/jobs"),
    ("POST", "/admin/jobs/deliveries/1/retry"),
    ("POST", "/admin/jobs/failed/abc/requeue"),
])
def test_only_admins(client, staff_client, org_admin_client, method, path):
    assert staff_client.open(path, method=method).status_code == 403
    assert org_admin_client.open(path, method=method).status_code == 403
    anonymous = client.open(path, method=method)
    assert anonymous.status_code == 302 and "/login" in anonymous.location


# --- with Redis: real RQ jobs that fail, wait to retry, fail for good, and are requeued

# The Redis database REDIS_URL names, on a queue of this test's own (never flushed).
QUEUE = rq_isolation.queue_name()


@pytest.fixture
def redis_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    from redis import Redis

    url = os.environ["REDIS_URL"]
    connection = Redis.from_url(url)
    try:
        yield rq_isolation.isolate(make_app(
            JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=url, REDIS_URL=url,
            RQ_QUEUES=["default"], MAIL_SERVER=None,
            SMS_GATEWAY_URL="http://127.0.0.1:9/", SMS_TIMEOUT=3,
            DELIVERY_RETRY_INTERVALS=[600]), QUEUE)
    finally:
        rq_isolation.delete_queue_keys(connection, QUEUE)
        connection.close()


def _work(app: Flask) -> None:
    """Run every queued job in this process and return when the queues are empty.

    rq.make_worker() gives Flask-RQ's subprocess worker, whose work horse is a
    `flask rq work-horse` process building the app from environment variables rather
    than this test's config; a SimpleWorker on the same queues runs the job here, under
    this app (and its SMS gateway setting)."""
    from rq.worker import SimpleWorker

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            queues = list(rq.queues.values())
            worker = SimpleWorker(queues, connection=queues[0].connection,
                                  job_class=queues[0].job_class)
            worker.work(burst=True)
    finally:
        for sig, handler in handlers.items():  # the worker installs its own
            signal.signal(sig, handler)


def _section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">.*?</section>', html, re.S)
    assert match is not None, section_id
    return match.group(0)


def _queue_row(html: str) -> list[str]:
    match = re.search(rf'<tr id="queue-{QUEUE}">(.*?)</tr>', html, re.S)
    assert match is not None
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", match.group(1), re.S)]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (CI's second run)")
def test_failed_rq_jobs_are_listed_retried_and_requeued(redis_app, make_user, staff_user):
    redis_app.test_client_class = Client
    client: Any = redis_app.test_client()
    client.login(make_user(Role.ADMIN).email)
    delivery_id = _delivery(redis_app, staff_user, status=DeliveryStatus.QUEUED,
                            channel=DeliveryChannel.SMS, error=None)
    with redis_app.app_context():
        from app.services import notifications

        notifications.schedule_sending([delivery_id])
        db.session.commit()  # enqueues on Redis
        assert rq.queue.count == 1
    assert _queue_row(client.get("/admin/jobs", headers=HX).get_data(as_text=True)) == [
        QUEUE, "1", "0", "0", "0", "0", "0"]

    # 1. The gateway is unreachable: the job fails and waits 600 s for its retry.
    _work(redis_app)
    assert _status(redis_app, delivery_id) == (DeliveryStatus.FAILED, 1)
    page = client.get("/admin/jobs", headers=HX).get_data(as_text=True)
    assert _queue_row(page) == [QUEUE, "0", "0", "1", "0", "0", "0"]
    retrying = _section(page, "jobs-retrying")
    assert "app.jobs.notifications.send_deliveries" in retrying
    assert f"[{delivery_id}]" in retrying
    assert "Requeue" not in retrying  # RQ's scheduler runs it again when it is due
    assert "SMS gateway: " in _section(page, "jobs-deliveries")

    # 2. Retry the delivery now, with no retry policy: it fails for good this time.
    redis_app.config["DELIVERY_RETRY_INTERVALS"] = []
    response = client.post(f"/admin/jobs/deliveries/{delivery_id}/retry", headers=HX)
    assert response.status_code == 200
    assert f"Delivery {delivery_id} queued again." in response.get_data(as_text=True)
    # The answer is rendered before the commit that enqueues the job: the next look shows it.
    page = client.get("/admin/jobs", headers=HX).get_data(as_text=True)
    assert _queue_row(page)[1] == "1"  # queued again
    _work(redis_app)
    assert _status(redis_app, delivery_id) == (DeliveryStatus.FAILED, 2)
    page = client.get("/admin/jobs", headers=HX).get_data(as_text=True)
    assert _queue_row(page) == [QUEUE, "0", "0", "1", "1", "0", "0"]
    failed = _section(page, "jobs-failed")
    job_id = re.search(r'<tr id="job-([^"]+)">', failed).group(1)  # type: ignore[union-attr]
    assert "DeliveriesFailed: 1 of 1 deliveries failed" in failed
    assert f'hx-post="/admin/jobs/failed/{job_id}/requeue"' in failed

    # 3. The gateway is mended (here: none, so SMS are logged); Requeue sends it.
    redis_app.config["SMS_GATEWAY_URL"] = None
    response = client.post(f"/admin/jobs/failed/{job_id}/requeue", headers=HX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert f"Job {job_id} requeued." in fragment
    assert _queue_row(fragment)[1] == "1" and _queue_row(fragment)[4] == "0"
    _work(redis_app)
    assert _status(redis_app, delivery_id) == (DeliveryStatus.LOGGED, 3)
    page = client.get("/admin/jobs", headers=HX).get_data(as_text=True)
    assert "No failed jobs." in page and "No failed deliveries." in page
    assert client.post(f"/admin/jobs/failed/{job_id}/requeue", headers=HX).status_code == 404
    with redis_app.app_context():
        assert db.session.scalars(select(NotificationDelivery.status)).all() == ["logged"]
