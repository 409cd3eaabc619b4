"""Background jobs: plain functions taking ids, idempotent, returning what they did.

Views and services never enqueue directly: `enqueue_after_commit` holds the job until
the request's transaction commits (a worker must see the rows it is given), and drops
it if the transaction rolls back. With no REDIS_URL the job then runs inline, in a fresh
application context of its own, so a failing job never undoes the request's work.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from flask_rq._job_wrapper import JobWrapper
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)

_PENDING = "credwright_pending_jobs"
_BATCHED = "credwright_batched_jobs"


def enqueue_after_commit(job: JobWrapper, *args: Any, **options: Any) -> None:
    """Queue `job(*args)` once the transaction commits. `options` go to RQ's enqueue
    (job_timeout, retry, ...) and are ignored inline."""
    db.session.info.setdefault(_PENDING, []).append((job, args, options))


def enqueue_batched_after_commit(job: JobWrapper, items: list[Any], batch_size: int,
                                 **options: Any) -> None:
    """Queue `job(batch)` for `items` in batches of `batch_size` once the transaction
    commits: items added by several calls in one transaction share batches (a sweep
    that raises 10,000 notifications queues 200 jobs, not 10,000)."""
    batched = db.session.info.setdefault(_BATCHED, {})
    entry = batched.setdefault(job, ([], batch_size, options))
    entry[0].extend(items)


def run_job(job: JobWrapper, *args: Any, **options: Any) -> Any:
    """Queue the job now (Redis) or run it inline in its own app context."""
    app = current_app._get_current_object()
    if app.config["JOBS_INLINE"]:
        return _run_inline(app, job, args)
    return job.enqueue(*args, **options)


def _run_inline(app: Flask, job: JobWrapper, args: tuple[Any, ...]) -> Any:
    with app.app_context():
        try:
            result = job(*args)
            log.info("job %s%r done: %r", job.__name__, args, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("inline job %s%r failed", job.__name__, args)
            return None


def _after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires after_commit too; only the real commit dispatches.
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    for job, args, options in pending or ():
        run_job(job, *args, **options)
    batched = session.info.pop(_BATCHED, None)
    for job, (items, size, options) in (batched or {}).items():
        for start in range(0, len(items), size):
            run_job(job, items[start:start + size], **options)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_BATCHED, None)


def init_app(app: Flask) -> None:
    if not getattr(init_app, "_listening", False):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        init_app._listening = True  # type: ignore[attr-defined]
