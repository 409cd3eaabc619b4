"""Asking for background work from a service: jobs are named by their dotted path
("app.jobs.certificates.render_certificate_pdf") and held on the session until its
transaction commits (a worker must see the rows it is given); a rollback drops them.

This module only records what was asked for, so services never import app.jobs (which
imports services). app.jobs dispatches the held jobs after the commit: to RQ, or inline
when there is no Redis.
"""

from __future__ import annotations

from typing import Any

from app.extensions import db

PENDING = "credwright_pending_jobs"
BATCHED = "credwright_batched_jobs"

JobRef = str  # a dotted name: "app.jobs.<module>.<function>"


def job_name(job: JobRef) -> str:
    """The dotted name of a job; anything else is a programming error."""
    if not isinstance(job, str) or not job.startswith("app.jobs."):
        raise TypeError(f"jobs are named by their dotted path under app.jobs, not {job!r}")
    return job


def enqueue_after_commit(job: JobRef, *args: Any, **options: Any) -> None:
    """Queue `job(*args)` once the transaction commits. `options` go to RQ's enqueue
    (job_timeout, retry, ...) and are ignored inline."""
    db.session.info.setdefault(PENDING, []).append((job_name(job), args, options))


def enqueue_batched_after_commit(job: JobRef, items: list[Any], batch_size: int,
                                 **options: Any) -> None:
    """Queue `job(batch)` for `items` in batches of `batch_size` once the transaction
    commits: items added by several calls in one transaction share batches (a sweep
    that raises 10,000 notifications queues 200 jobs, not 10,000)."""
    batched = db.session.info.setdefault(BATCHED, {})
    entry = batched.setdefault(job_name(job), ([], batch_size, options))
    entry[0].extend(items)
