"""Asking for background work from a service: jobs are named by their dotted path
("app.jobs.certificates.render_certificate_pdf") and written to the job outbox
(app/models/jobs.py) in the caller's transaction, so a job exists exactly when the
change that needs it was committed: a rollback (or a refused SAVEPOINT) drops it with
the rest, and a commit keeps it even if Redis is away at that moment.

This module only records what was asked for, so services never import app.jobs (which
imports services). app.jobs moves the committed rows on after the commit (to RQ, or runs
them inline when there is no Redis); `flask jobs dispatch` moves whatever was left
pending (Redis was down, the process died between commit and enqueue).
"""

from __future__ import annotations

import secrets
from typing import Any

from rq import Retry
from sqlalchemy import insert
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db
from app.models import JobOutbox, OutboxStatus

# session.info keys: ids of the outbox rows this transaction wrote (dispatched after its
# commit) and the batched items not yet written (written just before the commit).
OUTBOX_IDS = "credwright_outbox_ids"
BATCHED = "credwright_batched_jobs"
SAVEPOINTS = "credwright_outbox_savepoints"  # what was held when each SAVEPOINT began

JobRef = str  # a dotted name: "app.jobs.<module>.<function>"


def job_name(job: JobRef) -> str:
    """The dotted name of a job; anything else is a programming error."""
    if not isinstance(job, str) or not job.startswith("app.jobs."):
        raise TypeError(f"jobs are named by their dotted path under app.jobs, not {job!r}")
    return job


def dump_options(options: dict[str, Any]) -> dict[str, Any]:
    """RQ enqueue options as JSON: a Retry becomes {"max", "interval"}."""
    dumped: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Retry):
            dumped[key] = {"max": value.max, "interval": list(value.intervals)}
        else:
            dumped[key] = value
    return dumped


def load_options(options: dict[str, Any]) -> dict[str, Any]:
    """The inverse of dump_options."""
    loaded = dict(options or {})
    if isinstance(loaded.get("retry"), dict):
        loaded["retry"] = Retry(**loaded["retry"])
    return loaded


def _write(session: Session, rows: list[tuple[str, list[Any], dict[str, Any]]]) -> list[int]:
    if not rows:
        return []
    ids = list(session.scalars(insert(JobOutbox).returning(
        JobOutbox.id, sort_by_parameter_order=True), [
        {"name": name, "args": args, "options": dump_options(options),
         "job_key": "outbox-" + secrets.token_hex(12), "status": OutboxStatus.PENDING,
         "attempts": 0} for name, args, options in rows]))
    session.info.setdefault(OUTBOX_IDS, []).extend(ids)
    return ids


def enqueue_after_commit(job: JobRef, *args: Any, **options: Any) -> None:
    """Queue `job(*args)` once the transaction commits (an outbox row written now).
    `args` must be JSON (ids); `options` go to RQ's enqueue (job_timeout, retry, ...)
    and are ignored inline."""
    _write(db.session, [(job_name(job), list(args), options)])


def enqueue_batched_after_commit(job: JobRef, items: list[Any], batch_size: int,
                                 **options: Any) -> None:
    """Queue `job(batch)` for `items` in batches of `batch_size` once the transaction
    commits: items added by several calls in one transaction share batches (a sweep
    that raises 10,000 notifications queues 200 jobs, not 10,000). The batches are
    written to the outbox just before the commit (`write_batched`)."""
    batched = db.session.info.setdefault(BATCHED, {})
    entry = batched.setdefault(job_name(job), ([], batch_size, options))
    entry[0].extend(items)


def write_batched(session: Session) -> None:
    """Write the transaction's batched jobs as outbox rows (a before_commit hook)."""
    batched = session.info.pop(BATCHED, None)
    rows = []
    for name, (items, size, options) in (batched or {}).items():
        for start in range(0, len(items), size):
            rows.append((name, [items[start:start + size]], options))
    _write(session, rows)


def forget(session: Session) -> None:
    """The transaction rolled back: its outbox rows went with it."""
    session.info.pop(OUTBOX_IDS, None)
    session.info.pop(BATCHED, None)
    session.info.pop(SAVEPOINTS, None)


def mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    """A SAVEPOINT begins: remember how much work was held, so rolling it back drops only
    what was asked for inside it (an after_transaction_create hook)."""
    if not transaction.nested:
        return
    batched = session.info.get(BATCHED, {})
    session.info.setdefault(SAVEPOINTS, {})[id(transaction)] = (
        len(session.info.get(OUTBOX_IDS, [])),
        {name: len(entry[0]) for name, entry in batched.items()})


def rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """A rollback (an after_soft_rollback hook): the whole transaction's, or only a
    SAVEPOINT's, whose outbox rows went with it while the work held before it stays
    (a refused attempt() must not cancel the jobs the request queued earlier)."""
    if not transaction.nested:
        # Only the outermost transaction's rollback drops everything. A failed flush rolls
        # back its own subtransaction first (neither nested nor outermost): the SAVEPOINT
        # or transaction around it rolls back next and decides (taking it for the whole
        # transaction lost the ids of rows written before a SAVEPOINT's IntegrityError, so
        # their jobs stayed pending: a bulk issue's PDFs after a status-list index clash).
        if transaction.parent is None:
            forget(session)
        return
    mark = session.info.get(SAVEPOINTS, {}).pop(id(transaction), None)
    if mark is None:
        return
    kept_ids, kept_items = mark
    if OUTBOX_IDS in session.info:
        del session.info[OUTBOX_IDS][kept_ids:]
    batched = session.info.get(BATCHED, {})
    for name in list(batched):
        if name not in kept_items:
            del batched[name]
        else:
            del batched[name][0][kept_items[name]:]
