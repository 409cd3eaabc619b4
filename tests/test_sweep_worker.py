"""The daily sweep on a real RQ worker that is killed (-9) mid-sweep: the job is
recovered and retried, and every reminder still goes out exactly once.

For CI's second leg (PostgreSQL + Redis): the sweep is stopped at a known point by a
transaction of the test's own that holds a reminder claim a later phase will want, so
that phase's INSERT ... ON CONFLICT waits on it while the earlier phases have committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from app.extensions import db, rq
from app.models import (
    CredentialStatus,
    ImplementationProject,
    Notification,
    NotificationDelivery,
    ReminderClaim,
    Role,
    SweepRun,
    TrainingAssignment,
)
from app.models.base import utcnow
from tests import rq_isolation

pytestmark = pytest.mark.skipif(
    not os.environ.get("REDIS_URL") or not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs REDIS_URL and a PostgreSQL DATABASE_URL (CI's second run)")

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2027, 1, 10)


# The Redis database REDIS_URL names, on a queue of this test's own (never flushed):
# the test's app and the worker subprocess both enqueue and work on it.
QUEUE = rq_isolation.queue_name()


@pytest.fixture
def redis_url() -> Iterator[str]:
    from redis import Redis

    url = os.environ["REDIS_URL"]
    connection = Redis.from_url(url)
    try:
        yield url
    finally:
        rq_isolation.delete_queue_keys(connection, QUEUE)
        connection.close()


def _children(pid: int) -> list[int]:
    """Every descendant of a process (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found.extend(kids)
        todo.extend(kids)
    return found


def _kill_all(process: subprocess.Popen[bytes]) -> None:
    """kill -9 the worker's process group and every descendant (Flask-RQ starts the work
    horse in a process group of its own)."""
    for pid in [process.pid, *_children(process.pid)]:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    process.wait(timeout=10)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str,
              process: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}) before {what}:\n"
                        f"{log.read_text()[-3000:] if log else ''}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:] if log else ''}")


@pytest.fixture
def data(app: Flask, make_user: Callable[..., Any], org: Any,
         make_definition: Callable[..., Any], make_credential: Callable[..., Any],
         make_track: Callable[..., Any], issue: Callable[..., Any]) -> dict[str, Any]:
    """Work for every phase: an expiry, two credential reminders, two certificate
    reminders and a training assignment due within 7 days."""
    from app.models import Certificate, CertificationTrack, User
    from app.services import training
    from app.services.context import Actor

    holder = make_user(Role.STAFF, org, name="Hemi Holder")
    other = make_user(Role.STAFF, org, name="Tui Other")
    admins = [make_user(Role.ORG_ADMIN, org, name=f"Admin {i}") for i in (1, 2)]
    make_user(Role.ORG_ADMIN, org, name="Gone", active=False)

    def awarded(user: Any, days: int) -> Any:
        return make_credential(make_definition(), user, CredentialStatus.AWARDED,
                               expiry_date=TODAY + timedelta(days=days))

    awarded(holder, 0)  # expires today
    credentials = {30: awarded(other, 20), 60: awarded(other, 50)}
    track = make_track("Roof safety")
    certificates = {30: issue(holder, track=track), 90: issue(other, track=track)}
    due_track = make_track("Go-live basics", exam=False)
    with app.app_context():
        for band, days in ((30, 10), (90, 80)):
            db.session.get(Certificate, certificates[band].id).expires_at = (
                TODAY + timedelta(days=days))
        project = ImplementationProject(name="Launch", organization_id=org.id,
                                        go_live_date=TODAY + timedelta(days=30))
        db.session.add(project)
        db.session.flush()
        assignment = TrainingAssignment(project_id=project.id, track_id=due_track.id,
                                        required_completions=1, due_date=TODAY + timedelta(days=3))
        db.session.add(assignment)
        training.enrol(db.session.get(User, holder.id),
                       db.session.get(CertificationTrack, due_track.id), Actor.system())
        db.session.commit()
        assignment_id = assignment.id
    due = TODAY + timedelta(days=3)
    claims = {
        f"mcred:{credentials[30].id}:{TODAY + timedelta(days=20)}:30",
        f"mcred:{credentials[60].id}:{TODAY + timedelta(days=50)}:60",
        f"cert:{certificates[30].id}:{TODAY + timedelta(days=10)}:30",
        f"cert:{certificates[90].id}:{TODAY + timedelta(days=80)}:90",
        f"assign:{assignment_id}:{due}:7:org",
        f"assign:{assignment_id}:{due}:7:user:{holder.id}",
    }
    # The notifications each claim raises: holder (or learner) and org admins.
    keys = set()
    for claim in claims:
        if claim.startswith(("mcred:", "cert:")):
            keys |= {claim, *(f"{claim}:org:{a.id}" for a in admins)}
        elif claim.endswith(":org"):
            keys |= {f"{claim}:{a.id}" for a in admins}
        else:
            keys.add(claim)
    return {"claims": claims, "keys": keys, "admins": admins,
            "blocking_certificate": certificates[30], "blocking_days": 10}


def test_a_sweep_killed_mid_run_is_retried_and_sends_each_reminder_once(
        app: Flask, make_app: Callable[..., Flask], migrated_database: str, redis_url: str,
        data: dict[str, Any], tmp_path: Path) -> None:
    from rq import Retry
    from rq.job import Job
    from rq.registry import StartedJobRegistry

    from app.jobs import sweep as sweep_job

    with app.app_context():
        dry = {r.name: r.sent for r in sweep_job.run(TODAY, dry_run=True)}
        last_before = db.session.scalar(select(func.max(Notification.id))) or 0
    assert dry == {"credential_organizations": 0, "expire": 3, "credential_reminders": 6,
                   "certificate_reminders": 6, "training_reminders": 3, "stale_deliveries": 0}

    queue_app = rq_isolation.isolate(make_app(JOBS_INLINE=False, RQ_ASYNC=True,
                                              RQ_CONNECTION=redis_url, REDIS_URL=redis_url),
                                     QUEUE)
    with queue_app.app_context():
        rq.queue.empty()
        job = sweep_job.daily_sweep.enqueue(TODAY.isoformat(), retry=Retry(max=2, interval=[1]))
        job_id = job.id

    env = {**os.environ, "DATABASE_URL": migrated_database, "REDIS_URL": redis_url,
           "FLASK_APP": rq_isolation.worker_app_arg(QUEUE),
           "SECRET_KEY": "credwright-test-secret-key",
           "MAIL_SERVER": "", "SMS_GATEWAY_URL": "", "PYTHONUNBUFFERED": "1"}
    worker_cmd = [sys.executable, "-m", "flask", "--app", rq_isolation.worker_app_arg(QUEUE),
                  "rq", "worker", "--burst", "--with-scheduler"]
    engine = create_engine(migrated_database)
    watcher = create_engine(migrated_database, isolation_level="AUTOCOMMIT")
    blocker = engine.connect()
    worker: subprocess.Popen[bytes] | None = None
    first_log = tmp_path / "worker1.log"
    try:
        # Hold the claim the certificate phase will make: its INSERT waits on this row.
        certificate = data["blocking_certificate"]
        expires = TODAY + timedelta(days=data["blocking_days"])
        blocker.begin()
        blocker.execute(ReminderClaim.__table__.insert().values(
            key=f"cert:{certificate.id}:{expires}:30", kind="cert", item_id=certificate.id,
            threshold="30", as_of=TODAY, created_at=utcnow()))

        with first_log.open("wb") as out:
            worker = subprocess.Popen(worker_cmd, cwd=ROOT, env=env, stdout=out,
                                      stderr=subprocess.STDOUT, start_new_session=True)

        def scalar(sql: str) -> int:
            with watcher.connect() as conn:
                return conn.execute(text(sql)).scalar_one()

        def stuck_in_certificates() -> bool:
            return (scalar("SELECT count(*) FROM reminder_claims WHERE kind = 'mcred'") == 2
                    and scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                               "current_database() AND wait_event_type = 'Lock'") >= 1)

        _wait_for(stuck_in_certificates, 20, "the sweep to wait in its certificate phase",
                  worker, first_log)
        horse = _children(worker.pid)
        assert horse, "no work horse running the sweep"
        _kill_all(worker)
        worker = None
        blocker.rollback()
        blocker.close()

        # The dead horse's transaction is gone with it: earlier phases stand, nothing of
        # the certificate phase does.
        _wait_for(lambda: scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND wait_event_type = 'Lock'") == 0
                  and scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                             "current_database() AND state = 'idle in transaction'") == 0,
                  10, "the killed horse's transaction to end")
        assert scalar("SELECT count(*) FROM reminder_claims WHERE kind = 'cert'") == 0
        assert scalar("SELECT count(*) FROM reminder_claims WHERE kind LIKE 'assign%'") == 0
        assert scalar(f"SELECT count(*) FROM notifications WHERE id > {int(last_before)}"  # noqa: S608
                      ) == dry["expire"] + dry["credential_reminders"]

        # A later worker's maintenance finds the abandoned job and, with retries left,
        # schedules it again (interval 1 s); the burst worker's scheduler enqueues it.
        with queue_app.app_context():
            registry = StartedJobRegistry(queue=rq.queue)
            assert job_id in registry.get_job_ids(cleanup=False)
            registry.cleanup(timestamp=time.time() + 3600)
            job = Job.fetch(job_id, connection=rq.queue.connection)
            assert job.get_status() == "scheduled" and job.retries_left == 1
        time.sleep(1.2)
        second = subprocess.run(worker_cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=35, check=False)
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        if worker is not None and worker.poll() is None:
            _kill_all(worker)
        if not blocker.closed:
            blocker.rollback()
            blocker.close()
        engine.dispose()
        watcher.dispose()

    with queue_app.app_context():
        job = Job.fetch(job_id, connection=rq.queue.connection)
        assert job.get_status() == "finished", second.stderr[-3000:]
        result = job.return_value()
        assert rq.queue.count == 0
    assert result["sent"] == dry["certificate_reminders"] + dry["training_reminders"]

    with app.app_context():
        claims = list(db.session.scalars(select(ReminderClaim.key)))
        assert sorted(claims) == sorted(data["claims"])  # each once, nothing else
        new = list(db.session.execute(
            select(Notification.dedupe_key, Notification.type)
            .where(Notification.id > last_before)))
        assert len(new) == sum(dry.values())
        keys = [key for key, _ in new if key]
        assert len(keys) == len(set(keys))
        assert {k for k in keys if not k.startswith("expired:")} == data["keys"]
        # The expired credential: its holder and each org admin, once.
        assert len([k for k in keys if k.startswith("expired:")]) == len(data["admins"]) + 1
        runs = list(db.session.scalars(select(SweepRun).order_by(SweepRun.id)))
        # The killed run never finished; the retry sent the rest, and only the rest.
        assert [r.status for r in runs] == ["running", "done"]
        assert runs[1].sent == result["sent"]
        assert runs[1].counts["expire"]["sent"] == 0
        assert runs[1].counts["credential_reminders"]["sent"] == 0
        # Every delivery the sweep queued was handled once (no transport: logged).
        statuses = list(db.session.execute(
            select(NotificationDelivery.status, NotificationDelivery.attempts)
            .join(Notification).where(Notification.id > last_before)))
        assert statuses and {tuple(s) for s in statuses} == {("logged", 1)}
