"""Background work as admins see it on /admin/jobs: RQ's queues and registries, failed
deliveries, the daily sweep's runs, and the two repairs (retry a delivery, requeue a job).

Nothing here renders HTML or reads the request. With JOBS_INLINE (no REDIS_URL) there is
no queue to look at: jobs ran in the request's process and their failures are the
FAILED delivery rows and failed sweep runs, which this module reads either way.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.queue import Queue
from rq.results import Result
from sqlalchemy import func, select, update

from app.extensions import db, rq
from app.models import (
    DeliveryStatus,
    JobOutbox,
    Notification,
    NotificationDelivery,
    OutboxStatus,
    SweepRun,
)
from app.models.base import utcnow
from app.services import delivery
from app.services import notifications as notification_service
from app.services.enqueue import OUTBOX_IDS
from app.services.errors import Conflict, NotFound

SWEEP_RUNS = 20

# Job arguments are lists of ids (a batch of 50 deliveries): enough to recognise the job.
_ARGS_REPR = reprlib.Repr()
_ARGS_REPR.maxlist = 6
_ARGS_REPR.maxtuple = 4
_ARGS_REPR.maxstring = 60
_ARGS_REPR.maxother = 60


@dataclass(frozen=True)
class QueueStats:
    """One RQ queue: jobs waiting, running, waiting to be retried, failed for good,
    finished (kept for RQ's result TTL) and waiting on other jobs."""

    name: str
    queued: int
    started: int
    scheduled: int
    failed: int
    finished: int
    deferred: int


@dataclass(frozen=True)
class JobInfo:
    """An RQ job as the page lists it (failed, or scheduled for a retry)."""

    id: str
    queue: str
    function: str
    args: str
    enqueued_at: datetime | None
    ended_at: datetime | None
    error: str  # the last line of the traceback: the exception and its message
    retries_left: int | None
    retry_at: datetime | None = None  # scheduled retries only


def inline() -> bool:
    return bool(current_app.config["JOBS_INLINE"])


def _queues() -> list[Queue]:
    return list(rq.queues.values())


def queue_overview() -> list[QueueStats] | str | None:
    """Counts per configured queue; None when jobs run inline (there are no queues).

    Never raises for Redis trouble: an unreachable Redis is the thing an admin opening
    this page needs to learn, so it comes back as the error's text."""
    if inline():
        return None
    try:
        return [QueueStats(
            name=queue.name,
            queued=queue.count,
            started=queue.started_job_registry.count,
            scheduled=queue.scheduled_job_registry.count,
            failed=queue.failed_job_registry.count,
            finished=queue.finished_job_registry.count,
            deferred=queue.deferred_job_registry.count,
        ) for queue in _queues()]
    except RedisError as exc:
        return f"{type(exc).__name__}: {exc}"


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip()[:500] if lines else ""


def _describe(job: Job, queue: Queue, retry_at: datetime | None = None) -> JobInfo:
    # A job whose function or arguments no longer deserialize must still be listed
    # (and requeueable or not), so reading its payload never fails the page.
    try:
        function = job.func_name or "?"
        args = _ARGS_REPR.repr(job.args[0] if len(job.args) == 1 else job.args)
    except Exception:  # any unpickling or import error
        function, args = "?", "(unreadable)"
    result = job.latest_result()
    error = result.exc_string if result is not None and result.type == Result.Type.FAILED else ""
    return JobInfo(id=job.id, queue=queue.name, function=function, args=args,
                   enqueued_at=job.enqueued_at, ended_at=job.ended_at,
                   error=_last_line(error), retries_left=job.retries_left, retry_at=retry_at)


def _fetch(queue: Queue, ids: list[str]) -> Iterable[Job]:
    jobs = Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
    return (job for job in jobs if job is not None)  # expired since the registry listed it


def failed_jobs(limit: int = 50) -> list[JobInfo]:
    """The most recent RQ jobs that failed for good (no retries left), newest first;
    [] when jobs run inline. Raises redis.exceptions.RedisError if Redis is unreachable
    (callers check `queue_overview()` first)."""
    if inline():
        return []
    found: list[JobInfo] = []
    for queue in _queues():
        registry = queue.failed_job_registry
        # Scores are "failed at + failure TTL", so the highest scores are the newest.
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        found.extend(_describe(job, queue) for job in _fetch(queue, ids))
    found.sort(key=lambda j: j.ended_at.timestamp() if j.ended_at else 0.0, reverse=True)
    return found[:limit]


def retrying_jobs(limit: int = 50) -> list[JobInfo]:
    """Jobs that failed and wait for their next try (RQ's ScheduledJobRegistry), the
    soonest first; [] when jobs run inline. Raises redis.exceptions.RedisError if Redis
    is unreachable."""
    if inline():
        return []
    found: list[JobInfo] = []
    for queue in _queues():
        registry = queue.scheduled_job_registry
        ids = registry.get_job_ids(0, limit - 1)  # scores are the times they are due
        for job in _fetch(queue, ids):
            found.append(_describe(job, queue, retry_at=registry.get_scheduled_time(job)))
    found.sort(key=lambda j: j.retry_at.timestamp() if j.retry_at else float("inf"))
    return found[:limit]


@dataclass(frozen=True)
class QueueState:
    """Everything the page shows from Redis, read together. `overview` is None when
    jobs run inline and the error's text when Redis is unreachable (the lists are then
    empty)."""

    overview: list[QueueStats] | str | None
    failed: list[JobInfo]
    retrying: list[JobInfo]


def queue_state(limit: int = 50) -> QueueState:
    """Queue counts, failed jobs and jobs waiting for a retry. Never raises for Redis
    trouble (see `queue_overview`)."""
    overview = queue_overview()
    if not isinstance(overview, list):
        return QueueState(overview, [], [])
    try:
        return QueueState(overview, failed_jobs(limit), retrying_jobs(limit))
    except RedisError as exc:  # went away after the counts were read
        return QueueState(f"{type(exc).__name__}: {exc}", [], [])


def requeue_failed(job_id: str) -> Job:
    """Put one failed RQ job back on its queue (retries are not restored: it runs once).

    Raises NotFound when no queue's failed registry holds `job_id` (or jobs run inline),
    Conflict when Redis cannot be reached."""
    if inline():
        raise NotFound("Jobs run inline: there is no queue to requeue a job on.")
    try:
        for queue in _queues():
            registry = queue.failed_job_registry
            if job_id in registry:
                return registry.requeue(job_id)
    except (NoSuchJobError, InvalidJobOperation):
        # Expired, or requeued by another admin between the check and the requeue.
        pass
    except RedisError as exc:
        raise Conflict(f"Unable to reach Redis: {exc}") from exc
    raise NotFound(f"No failed job {job_id}: it may have been requeued already.")


def failed_deliveries(limit: int = 50) -> list[NotificationDelivery]:
    """The most recent FAILED deliveries with their notifications loaded (one query for
    all of them, not one per row)."""
    rows = delivery.failures(limit)
    ids = {row.notification_id for row in rows}
    if ids:
        # Loaded into the identity map, where each row's many-to-one lazy load finds it.
        list(db.session.scalars(select(Notification).where(Notification.id.in_(ids))))
    return rows


def retry_delivery(delivery_id: int) -> None:
    """Set a FAILED delivery back to queued and send it again once the caller commits.

    Raises NotFound if there is no such delivery, Conflict if it is not failed (sent,
    logged, or already queued again). The status changes in one conditional UPDATE, so
    two admins pressing Retry at once queue it once."""
    changed = db.session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id,
               NotificationDelivery.status == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.QUEUED)
    ).rowcount
    if not changed:
        current = db.session.get(NotificationDelivery, delivery_id)
        if current is None:
            raise NotFound(f"No delivery {delivery_id}.")
        raise Conflict(f"Delivery {delivery_id} is {current.status}, not failed: "
                       "only a failed delivery can be retried.")
    # last_error stays until the next attempt replaces or clears it.
    notification_service.schedule_sending([delivery_id])


def recent_sweeps(limit: int = SWEEP_RUNS) -> list[SweepRun]:
    """The daily sweep's latest runs, newest first."""
    return list(db.session.scalars(
        select(SweepRun).order_by(SweepRun.started_at.desc(), SweepRun.id.desc()).limit(limit)))


def delivery_totals() -> dict[str, int]:
    """Deliveries per status, every status listed (0 when there are none)."""
    counts: dict[str, Any] = delivery.counts()
    return {status.value: int(counts.get(status.value, 0)) for status in DeliveryStatus}


@dataclass(frozen=True)
class OutboxBacklog:
    """Committed jobs not yet on RQ: pending (Redis was away, or the dispatch has not
    run yet) and claimed by a dispatcher right now; the oldest pending one's time and
    last error; jobs that failed (raised inline, or could never be queued)."""

    pending: int
    dispatching: int
    failed: int
    oldest: datetime | None
    last_error: str | None
    retrying: int = 0  # pending after a failed attempt, waiting for the next


def outbox_backlog() -> OutboxBacklog:
    counts = dict(db.session.execute(
        select(JobOutbox.status, func.count()).where(JobOutbox.status.in_([
            OutboxStatus.PENDING, OutboxStatus.DISPATCHING, OutboxStatus.FAILED]))
        .group_by(JobOutbox.status)).all())
    oldest = db.session.execute(
        select(JobOutbox.created_at, JobOutbox.last_error)
        .where(JobOutbox.status == OutboxStatus.PENDING)
        .order_by(JobOutbox.id).limit(1)).one_or_none()
    return OutboxBacklog(
        pending=int(counts.get(OutboxStatus.PENDING, 0)),
        dispatching=int(counts.get(OutboxStatus.DISPATCHING, 0)),
        failed=int(counts.get(OutboxStatus.FAILED, 0)),
        oldest=oldest.created_at if oldest else None,
        last_error=oldest.last_error if oldest else None,
        retrying=int(db.session.scalar(select(func.count()).where(
            JobOutbox.status == OutboxStatus.PENDING, JobOutbox.attempts > 0)) or 0))


def failed_outbox_jobs(limit: int = 50) -> list[JobOutbox]:
    """Outbox rows failed for good (every attempt failed), the latest first."""
    return list(db.session.scalars(
        select(JobOutbox).where(JobOutbox.status == OutboxStatus.FAILED)
        .order_by(JobOutbox.id.desc()).limit(limit)))


def retry_outbox_job(row_id: int) -> None:
    """Give an outbox row failed for good one more attempt, dispatched once the caller
    commits (and by the next `flask jobs dispatch` if that fails).

    Raises NotFound if there is no such row, Conflict if it is not failed (retried
    already, or never failed). One conditional UPDATE, so two admins pressing Retry at
    once give it one attempt."""
    changed = db.session.execute(
        update(JobOutbox)
        .where(JobOutbox.id == row_id, JobOutbox.status == OutboxStatus.FAILED)
        .values(status=OutboxStatus.PENDING, attempts=JobOutbox.max_attempts - 1,
                next_attempt_at=utcnow(), claimed_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if not changed:
        current = db.session.get(JobOutbox, row_id)
        if current is None:
            raise NotFound(f"No background job {row_id}.")
        raise Conflict(f"Job {row_id} is {current.status}, not failed: only a job that "
                       "failed for good can be retried.")
    db.session.info.setdefault(OUTBOX_IDS, []).append(row_id)


def went_silent(status: str, beat: datetime, now: datetime, *, running: timedelta,
                queued: timedelta) -> bool:
    """A job-backed run that is RUNNING with no heartbeat for `running` (its worker was
    killed) or QUEUED, untaken, for `queued` (its job was lost): the bulk pages then show
    it failed and offer Resume."""
    if status == "RUNNING":
        return beat < now - running
    if status == "QUEUED":
        return beat < now - queued
    return False
