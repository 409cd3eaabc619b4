"""Background jobs: plain functions taking ids, idempotent, returning what they did.

Views and services never enqueue directly: `enqueue_after_commit` (app/services/
enqueue.py, re-exported here) holds the job, by its dotted name, until the request's
transaction commits (a worker must see the rows it is given), and drops it if the
transaction rolls back. With no REDIS_URL the job then runs inline, in a fresh
application context of its own, so a failing job never undoes the request's work.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db, rq
from app.services.enqueue import (
    BATCHED,
    PENDING,
    JobRef,
    enqueue_after_commit,
    enqueue_batched_after_commit,
    job_name,
)

__all__ = ["enqueue_after_commit", "enqueue_batched_after_commit", "resolve", "run_job"]

log = logging.getLogger(__name__)


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
    with app.app_context():
        label = name.rpartition(".")[2]
        try:
            result = resolve(name)(*args)
            log.info("job %s%r done: %r", label, args, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("inline job %s%r failed", label, args)
            return None


def _after_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires after_commit too; only the real commit dispatches.
    if session.in_nested_transaction():
        return
    pending = session.info.pop(PENDING, None)
    for name, args, options in pending or ():
        run_job(name, *args, **options)
    batched = session.info.pop(BATCHED, None)
    for name, (items, size, options) in (batched or {}).items():
        for start in range(0, len(items), size):
            run_job(name, items[start:start + size], **options)


def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING, None)
    session.info.pop(BATCHED, None)


def init_app(app: Flask) -> None:
    if not getattr(init_app, "_listening", False):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        init_app._listening = True  # type: ignore[attr-defined]
