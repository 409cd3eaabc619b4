"""Background jobs: plain functions taking ids, idempotent, returning what they did.

Views and services never enqueue directly: `enqueue_after_commit` (app/services/
enqueue.py, re-exported here) writes an outbox row (app/models/jobs.py) in the request's
transaction, so the job exists exactly when the change that needs it was committed.
After the commit, the rows that transaction wrote are moved on here (`dispatch`): put on
RQ under their own job id, or, with no REDIS_URL, run inline in a fresh application
context of their own (a failing job never undoes the request's work). If Redis cannot be
reached at that moment the row stays pending and the request still succeeds; `flask jobs
dispatch` (cron, the worker's schedule, the start of the daily sweep) moves it later.

A row goes to RQ once: a dispatcher first claims it (pending -> dispatching, one
conditional UPDATE; on PostgreSQL the candidates are picked with FOR UPDATE SKIP
LOCKED), then enqueues it under its job_key and marks it dispatched with that id. A
claim left by a dispatcher that died is taken over after CLAIM_LEASE; the job id is
looked up on Redis first, so a row that did reach the queue is not queued again.

Rows move in batches of DISPATCH_BATCH (a sweep's commit can hold thousands of jobs):
one claim, one Redis pipeline asking which job ids exist already, one pipeline
enqueueing the others (`Queue.enqueue_many`), one UPDATE marking them and one COMMIT per
batch. A crash between enqueueing and marking leaves the batch dispatching; whoever takes
the claim over finds those jobs on Redis and only marks them. Each row's job is resolved
and prepared on its own: a row that can never be queued (its job was renamed or removed
by a deploy) is marked failed, with its error, and the rest of its batch goes on; only
Redis trouble sends a batch back to pending.

Retries: a row's attempt that fails (its job raised inline, or this dispatcher cannot
import its name: during a rolling deploy an old dispatcher meets a newer job) sends it
back to pending, due again after an exponential backoff with jitter (`retry_delay`),
until it has been tried `max_attempts` times: then it is failed for good, listed on the
admin's jobs page with a Retry. Redis trouble is not the row's failure: the attempt is
given back (the dispatcher stops at the first Redis error and cron runs it every minute,
so a Redis outage never fails a job for good).
"""

from __future__ import annotations

import importlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from rq import Queue
from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.orm import Session

from app.extensions import db, rq
from app.models import JobOutbox, OutboxStatus
from app.models.base import utcnow
from app.services.enqueue import (
    OUTBOX_IDS,
    JobRef,
    enqueue_after_commit,
    enqueue_batched_after_commit,
    job_name,
    load_options,
    mark_savepoint,
    rolled_back,
    write_batched,
)

__all__ = ["dispatch", "dispatch_pending", "enqueue_after_commit", "purge_outbox",
           "enqueue_batched_after_commit", "resolve", "run_job"]

log = logging.getLogger(__name__)

# A claim older than this is taken to belong to a dispatcher that died.
CLAIM_LEASE = timedelta(minutes=5)
DISPATCH_BATCH = 500  # rows per claim, Redis pipeline, UPDATE and COMMIT
RETRY_BASE = timedelta(seconds=30)  # the first retry's delay, doubled for each next one
RETRY_CAP = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """The wait before the next attempt of a row tried `attempts` times: 30 s, 1, 2, 4
    ... minutes up to an hour, each between half and all of that (rows that failed
    together, as in a deploy, do not all come back at the same second)."""
    full = min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)
    return full * random.uniform(0.5, 1.0)


def resolve(name: str) -> Any:
    """The job a dotted name points at (the module's @rq.job JobWrapper)."""
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def run_job(job: JobRef, *args: Any, **options: Any) -> Any:
    """Queue the job now (Redis) or run it inline in its own app context. `job` is a
    dotted name ("app.jobs.certificates.render_certificate_pdf")."""
    name = job_name(job)
    app = current_app._get_current_object()
    if app.config["JOBS_INLINE"]:
        return _run_inline(app, name, args)
    # RQ imports the dotted name in the worker; the queue is the one the job's
    # @rq.job(queue=...) names, as JobWrapper.enqueue would use.
    queue = getattr(resolve(name), "queue", "default")
    return rq.queues[queue].enqueue(name, *args, **options)


def _run_inline(app: Flask, name: str, args: tuple[Any, ...]) -> Any:
    return _attempt_inline(app, name, args)[0]


def _attempt_inline(app: Flask, name: str, args: tuple[Any, ...]) -> tuple[Any, str | None]:
    """(result, None), or (None, the error) if the job raised (logged, not raised)."""
    with app.app_context():
        label = name.rpartition(".")[2]
        try:
            result = resolve(name)(*args)
            log.info("job %s%r done: %r", label, args, result)
            return result, None
        except Exception as exc:
            db.session.rollback()
            log.exception("inline job %s%r failed", label, args)
            return None, f"{type(exc).__name__}: {exc}"


@dataclass
class DispatchResult:
    """What one dispatch did: rows put on RQ, run inline, failed for good, whose attempt
    failed and that wait for their next one, left pending (Redis away)."""

    queued: int = 0
    ran: int = 0
    failed: int = 0
    left: int = 0
    retrying: int = 0

    @property
    def claimed(self) -> int:
        return self.queued + self.ran + self.failed + self.left + self.retrying

    def add(self, other: DispatchResult) -> None:
        self.queued += other.queued
        self.ran += other.ran
        self.failed += other.failed
        self.left += other.left
        self.retrying += other.retrying


def _claim(ids: Iterable[int] | None, limit: int) -> list[Claimed]:
    """Take due pending rows (these ids, or the soonest due `limit`) and claims left by a
    dead dispatcher (up to `limit` more) for this dispatcher, counting an attempt of
    each, and commit the claim. Only the UPDATE that moves a row out of pending gets it.
    A dead claim on a row's last attempt is not tried again: failed for good (a job that
    kills its dispatcher must not do so forever)."""
    now = utcnow()
    stale = and_(JobOutbox.status == OutboxStatus.DISPATCHING,
                 JobOutbox.claimed_at < now - CLAIM_LEASE)
    last_try = and_(stale, JobOutbox.attempts >= JobOutbox.max_attempts)
    if ids is not None:
        last_try = and_(last_try, JobOutbox.id.in_(list(ids)))
    db.session.execute(update(JobOutbox).where(last_try).values(
        status=OutboxStatus.FAILED, dispatched_at=now,
        last_error="The dispatcher running its last attempt stopped (timed out or died).")
        .execution_options(synchronize_session=False))
    due = and_(JobOutbox.status == OutboxStatus.PENDING, JobOutbox.next_attempt_at <= now)
    claimable = or_(due, and_(stale, JobOutbox.attempts < JobOutbox.max_attempts))
    # Two candidate lists, each read in the order of its own index (an OR of both would
    # read the pending rows in no index order): due rows the soonest first, dead claims.
    pending = select(JobOutbox.id).where(due)
    taken_over = select(JobOutbox.id).where(stale)
    if ids is not None:
        pending = pending.where(JobOutbox.id.in_(list(ids)))
        taken_over = taken_over.where(JobOutbox.id.in_(list(ids)))
    pending = pending.order_by(JobOutbox.next_attempt_at, JobOutbox.id).limit(
        limit).with_for_update(skip_locked=True)
    taken_over = taken_over.order_by(JobOutbox.id).limit(limit).with_for_update(
        skip_locked=True)
    rows = [Claimed(*row) for row in db.session.execute(
        update(JobOutbox)
        .where(or_(JobOutbox.id.in_(pending.scalar_subquery()),
                   JobOutbox.id.in_(taken_over.scalar_subquery())), claimable)
        .values(status=OutboxStatus.DISPATCHING, claimed_at=now,
                attempts=JobOutbox.attempts + 1)
        .returning(JobOutbox.id, JobOutbox.name, JobOutbox.args, JobOutbox.options,
                   JobOutbox.job_key, JobOutbox.claimed_at, JobOutbox.attempts,
                   JobOutbox.max_attempts)
        .execution_options(synchronize_session=False))]
    # Plain values, and no transaction left open while the jobs run (on SQLite an open
    # write transaction here would lock out the inline job's own session).
    db.session.commit()
    return sorted(rows, key=lambda row: row.id)


JOB_KEY_TTL_SECONDS = 7 * 24 * 3600  # as long as finished outbox rows are kept


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    args: list[Any]
    options: dict[str, Any]
    job_key: str
    claimed_at: datetime  # this claim's own time: the same for every row it took
    attempts: int  # counting this one
    max_attempts: int


def _finish(row_ids: list[int], claim: datetime, status: OutboxStatus,
            **values: Any) -> None:
    """Move these rows of the claim made at `claim` on, in one UPDATE and one COMMIT;
    only those this claim still holds: a dispatcher that stalled past CLAIM_LEASE finds
    its rows taken over (claimed again, at another time) and must leave them to the
    dispatcher holding them now."""
    if row_ids:
        db.session.execute(update(JobOutbox).where(
            JobOutbox.id.in_(row_ids), JobOutbox.status == OutboxStatus.DISPATCHING,
            JobOutbox.claimed_at == claim)
            .values(status=status, **values).execution_options(synchronize_session=False))
    db.session.commit()


def _failed_attempt(row: Claimed, claim: datetime, error: str) -> bool:
    """This attempt of the row failed: pending again after a backoff, or failed for good
    on its last attempt. True if it is failed for good."""
    final = row.attempts >= row.max_attempts
    if final:
        _finish([row.id], claim, OutboxStatus.FAILED, dispatched_at=utcnow(),
                last_error=error[:2000])
    else:
        _finish([row.id], claim, OutboxStatus.PENDING, claimed_at=None,
                next_attempt_at=utcnow() + retry_delay(row.attempts),
                last_error=error[:2000])
    return final


def _enqueue_data(row: Claimed) -> Any:
    """The row's job as RQ's enqueue_many takes it, under its job_key as job id."""
    options = load_options(row.options)
    # RQ keeps a finished job's key 500 s by default; the existence check must outlive
    # any claim a dispatcher could take over later, or a finished job would be queued
    # again.
    options.setdefault("result_ttl", JOB_KEY_TTL_SECONDS)
    parsed = Queue.parse_args(row.name, *row.args, job_id=row.job_key, **options)
    return Queue.prepare_data(
        parsed.func, args=parsed.args, kwargs=parsed.kwargs, timeout=parsed.timeout,
        result_ttl=parsed.result_ttl, ttl=parsed.ttl, failure_ttl=parsed.failure_ttl,
        description=parsed.description, depends_on=parsed.depends_on,
        job_id=parsed.job_id, at_front=parsed.at_front, meta=parsed.meta,
        retry=parsed.retry, on_success=parsed.on_success, on_failure=parsed.on_failure,
        on_stopped=parsed.on_stopped, repeat=parsed.repeat, webhooks=parsed.webhooks)


def _prepare(rows: list[Claimed]) -> tuple[dict[str, list[tuple[Claimed, Any]]],
                                           dict[int, str]]:
    """Each row's job resolved and prepared on its own: (the good rows with their
    enqueue data, by queue name; the error of each row that cannot be). A row whose job
    name no longer imports (renamed or removed by a deploy) or whose arguments RQ
    refuses can never run; it must not hold back the rows claimed with it."""
    by_queue: dict[str, list[tuple[Claimed, Any]]] = {}
    broken: dict[int, str] = {}
    for row in rows:
        try:
            queue = getattr(resolve(row.name), "queue", "default")
            try:
                rq.queues[queue]
            except KeyError:
                raise LookupError(f"no RQ queue {queue!r} is configured") from None
            data = _enqueue_data(row)
        except Exception as exc:
            log.exception("job %s (outbox %s) cannot be queued", row.name, row.id)
            broken[row.id] = f"{type(exc).__name__}: {exc}"[:2000]
            continue
        by_queue.setdefault(queue, []).append((row, data))
    return by_queue, broken


def _enqueue(by_queue: dict[str, list[tuple[Claimed, Any]]]) -> None:
    """Put the prepared jobs on RQ under their job_keys, those a previous claim did not
    already put there: per queue, one pipeline of EXISTS and one of enqueue_many.
    Raises whatever Redis raises (the caller leaves the rows pending).

    EXISTS then enqueue_many is not atomic across a takeover: a dispatcher that stalls
    past CLAIM_LEASE between the two can queue a job the one that took its claim over
    queues too. Jobs are idempotent, so that costs a repeated no-op, nothing more."""
    for name, group in by_queue.items():
        queue = rq.queues[name]
        with queue.connection.pipeline(transaction=False) as pipe:
            for row, _ in group:
                pipe.exists(queue.job_class.key_for(row.job_key))
            there = pipe.execute()
        missing = [data for (_, data), found in zip(group, there, strict=True) if not found]
        if missing:
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(missing, pipeline=pipe)
                pipe.execute()


def _dispatch_rows(app: Flask, rows: list[Claimed]) -> DispatchResult:
    result = DispatchResult()
    claim = rows[0].claimed_at
    if app.config["JOBS_INLINE"]:
        for row in rows:  # each job runs here, in its own app context and transaction
            _, error = _attempt_inline(app, row.name, tuple(row.args))
            if error is None:
                _finish([row.id], claim, OutboxStatus.DONE, dispatched_at=utcnow(),
                        last_error=None)
                result.ran += 1
            elif _failed_attempt(row, claim, error):
                result.failed += 1
            else:
                result.retrying += 1
        return result
    by_queue, broken = _prepare(rows)
    # A row this dispatcher cannot queue (its job does not import here: renamed or
    # removed, or newer than this process) is retried later, as an inline job that
    # raises is, and failed for good after its last attempt; the others go on without it.
    for row in rows:
        if row.id in broken:
            if _failed_attempt(row, claim, broken[row.id]):
                result.failed += 1
            else:
                result.retrying += 1
    ids = [row.id for group in by_queue.values() for row, _ in group]
    if not ids:
        return result
    try:
        _enqueue(by_queue)
    except Exception as exc:  # Redis away: the rows wait
        log.warning("%d job(s) (outbox %s..%s) left pending: %s: %s", len(ids), min(ids),
                    max(ids), type(exc).__name__, exc)
        # Not the rows' failure: the attempt is given back (see the module's docstring).
        _finish(ids, claim, OutboxStatus.PENDING, claimed_at=None,
                attempts=JobOutbox.attempts - 1,
                last_error=f"{type(exc).__name__}: {exc}"[:2000])
        result.left += len(ids)
        return result
    # Every good row's job is on RQ under its job_key: that is its job id.
    _finish(ids, claim, OutboxStatus.DISPATCHED, rq_job_id=JobOutbox.job_key,
            dispatched_at=utcnow(), last_error=None)
    result.queued += len(ids)
    return result


def dispatch(ids: Iterable[int] | None = None, *, limit: int | None = None) -> DispatchResult:
    """Move pending outbox rows on (these ids, or every pending row, `limit` at a time):
    to RQ, or run inline without Redis. Runs in an application context of its own (its
    own session and transactions). Never raises for Redis trouble: those rows stay
    pending and are counted in `left`; rows that can never be queued are `failed`."""
    app = current_app._get_current_object()
    limit = limit or DISPATCH_BATCH
    total = DispatchResult()
    with app.app_context():
        wanted = None if ids is None else sorted(set(ids))
        start = 0
        while wanted is None or start < len(wanted):
            # The given rows `limit` at a time (a row another dispatcher holds is skipped),
            # or the oldest pending rows until none is left.
            chunk = None if wanted is None else wanted[start:start + limit]
            start += limit
            try:
                rows = _claim(chunk, limit)
            except Exception:
                db.session.rollback()
                log.exception("could not claim outbox rows; they stay pending")
                return total
            if not rows:
                if wanted is None:
                    return total
                continue
            result = _dispatch_rows(app, rows)
            total.add(result)
            if result.left:
                return total  # Redis is away: the rest would wait too
        return total


def dispatch_pending() -> DispatchResult:
    """Every pending row (the dispatcher's `flask jobs dispatch`)."""
    return dispatch(None)


# Rows that reached RQ (or ran inline) are kept this long, for looking back, then purged.
KEEP_DONE = timedelta(days=7)


def purge_outbox(older_than: timedelta = KEEP_DONE) -> int:
    """Delete dispatched/done rows older than `older_than` (the daily sweep calls it);
    pending, claimed and failed rows stay."""
    deleted = db.session.execute(delete(JobOutbox).where(
        JobOutbox.status.in_([OutboxStatus.DISPATCHED, OutboxStatus.DONE]),
        JobOutbox.dispatched_at < utcnow() - older_than)).rowcount
    db.session.commit()
    return int(deleted or 0)


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    write_batched(session)


def _after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires after_commit too; only the real commit dispatches.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(OUTBOX_IDS, None)
    if not ids:
        return
    try:
        dispatch(ids)
    except Exception:  # the write is committed: never turn it into an error
        log.exception("dispatching outbox rows %s failed; they stay pending", ids[:10])


def init_app(app: Flask) -> None:
    if not getattr(init_app, "_listening", False):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_create", mark_savepoint)
        event.listen(Session, "after_soft_rollback", rolled_back)
        init_app._listening = True  # type: ignore[attr-defined]
