"""Bulk actions on the admin certificate list: approve, reject (one reason for all) or
revoke (one reason and category for all) the ticked certificates, or every certificate
the list's filters match.

Each certificate goes through its own lifecycle verb (approve/reject/revoke), in a
SAVEPOINT of its own: every rule, audit row and notification is per certificate, and a
refusal undoes only that one. Of two bulk actions at once (a double-click, two admins),
each certificate changes once: its conditional UPDATE refuses the second, which counts
it as "already approved".

"All matching" reads the ids from the filters here, on the server, when the action is
asked for (never a list the browser sends); the certificates that stopped matching by
the time their turn comes are refused by their verb with the reason. Up to
INLINE_LIMIT (ticked or matching) run in the request; more run as a job
(app.jobs.bulk_actions) recorded as a BulkActionRun (app/models/bulk_actions.py), read
by the page's progress poll. The job commits every COMMIT_EVERY certificates with the
counts, how far it got and a heartbeat. RQ tries a job that raised again (RUN_RETRY)
from where it stopped; after the last try, or once the heartbeat is older than
STALE_AFTER (a killed worker), the page shows the run failed with a Resume button that
queues it once more (and a certificate done twice counts "already" anyway)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rq import Retry
from sqlalchemy import and_, or_, select

from app.extensions import db
from app.models import AuditAction, BulkActionRun, Certificate, Role, RunStatus
from app.models.base import utcnow
from app.services import audit, fields, jobs, selection
from app.services.certificates import lifecycle
from app.services.certificates.queries import COUNT_LIMIT, CertificateFilters, search
from app.services.context import Actor, active_admin
from app.services.enqueue import enqueue_after_commit
from app.services.errors import AlreadyDone, Conflict, NotFound, ValidationFailed
from app.services.transitions import transition

log = logging.getLogger(__name__)

ACTIONS = ("approve", "reject", "revoke")
DONE_WORDS = {"approve": "approved", "reject": "rejected", "revoke": "revoked"}
#: The most ticked ids one request may name (a page shows 25).
MAX_SELECTED = 100
#: Up to this many (a page) are acted on in the request; more run as a job (each
#: approval takes 30-180 ms: numbering, signing, audit, notice; bench/run_bulk_actions.py).
INLINE_LIMIT = 25
#: The most certificates one "all matching" action takes (the list's count cap).
MAX_MATCHING = COUNT_LIMIT
COMMIT_EVERY = 50
RUN_JOB = "app.jobs.bulk_actions.run_bulk_action"
RUN_JOB_TIMEOUT = 3600
#: RQ tries a job that raised this many times more, after these waits (seconds).
RUN_RETRY: dict[str, Any] = {"max": 3, "interval": [10, 60, 300]}
#: A running job beats after every chunk (seconds apart); silent this long, it is dead.
STALE_AFTER = timedelta(minutes=2)
#: A queued run no worker took this long (its job was lost) can be resumed too.
QUEUED_STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class BulkAction:
    """What to do to each certificate: a checked action and its one reason/category."""

    action: str
    reason: str = ""
    category: str = "other"

    @property
    def done_word(self) -> str:
        return DONE_WORDS[self.action]


def check_action(action: str | None, reason: str | None = None,
                 category: str | None = None) -> BulkAction:
    """The action asked for, checked once for all certificates. Raises ValidationFailed
    (unknown action, no reason to reject or revoke, an unknown category)."""
    action = (action or "").strip().lower()
    if action not in ACTIONS:
        message = f"Choose an action: {', '.join(ACTIONS)}."
        raise ValidationFailed(message, fields={"action": [message]})
    category = (category or "other").strip() or "other"
    if action in ("reject", "revoke"):
        missing = f"Give a reason for {'rejecting' if action == 'reject' else 'revoking'}."
        reason = fields.text(reason, "reason", max_len=2000, multiline=True,
                             message=None if str(reason or "").strip() else missing) or ""
    else:
        reason = ""
    if action == "revoke" and category not in lifecycle.REVOCATION_CATEGORIES:
        message = f"One of {', '.join(lifecycle.REVOCATION_CATEGORIES)}."
        raise ValidationFailed("Unknown revocation category.", fields={"category": [message]})
    return BulkAction(action, reason, category if action == "revoke" else "other")


def selected_ids(values: Iterable[Any]) -> list[int]:
    """The ticked certificate ids (a form's getlist), in order, without repeats. Raises
    ValidationFailed for none, an unreadable one, or more than MAX_SELECTED."""
    return selection.selected_ids(
        values, noun="certificate", limit=MAX_SELECTED,
        too_many=(f"At most {MAX_SELECTED} certificates can be ticked at once; use "
                  "\"Select all matching\" for more."))


def matching_ids(filters: CertificateFilters) -> list[int]:
    """The ids of every certificate the filters match, in list order (server-side: the
    browser's idea of the list plays no part). Raises ValidationFailed for none or more
    than MAX_MATCHING."""
    ids = list(db.session.scalars(search(filters).with_only_columns(Certificate.id)
                                  .limit(MAX_MATCHING + 1)))
    if not ids:
        raise ValidationFailed("No certificates match these filters.")
    if len(ids) > MAX_MATCHING:
        raise ValidationFailed(f"These filters match more than {MAX_MATCHING:,} "
                               "certificates; narrow them (dates, course, type) and act "
                               "in parts.")
    return ids


# --- Outcomes --------------------------------------------------------------------------

@dataclass
class BulkOutcome:
    """What a bulk action did: certificates changed, already so, refused (by reason)."""

    action: str
    done: int = 0
    already: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    @property
    def refused_count(self) -> int:
        return sum(self.refused.values())

    @property
    def total(self) -> int:
        return self.done + self.already + self.refused_count

    def add(self, other: BulkOutcome) -> None:
        self.done += other.done
        self.already += other.already
        for message, count in other.refused.items():
            self.refused[message] = self.refused.get(message, 0) + count

    def summary(self) -> str:
        """"12 approved, 2 already approved, 1 refused: <reason>." """
        word = DONE_WORDS.get(self.action, "done")
        return selection.summary(f"{self.done} {word}",
                                 f"{self.already} already {word}" if self.already else None,
                                 self.refused)


def _verb(action: BulkAction) -> Callable[[Certificate, Actor], Any]:
    if action.action == "approve":
        return lambda c, actor: lifecycle.approve(c, actor)
    if action.action == "reject":
        return lambda c, actor: lifecycle.reject(c, actor, action.reason)
    return lambda c, actor: lifecycle.revoke(c, actor, action.reason, action.category)


def _lock_order(ids: list[int]) -> list[int]:
    """Hold every lock the actions on `ids` take before the first counter or audit row
    (the lock order person, certificate, the year's counter, the audit head): all their
    people (id order, lifecycle.hold_people), then the certificates themselves (id
    order); the ids come back by (recipient, id). Taken one certificate at a time, the
    second approval would wait for its person, or a course certificate's row, while this
    transaction holds the counter and the head the first one took, and a single
    issue or approval holding that person or row waits for them: a deadlock
    (PostgreSQL)."""
    rows = db.session.execute(select(Certificate.id, Certificate.recipient_id)
                              .where(Certificate.id.in_(ids))).all()
    found = {row.id: row.recipient_id for row in rows}
    lifecycle.hold_people(found.values())
    db.session.scalars(select(Certificate.id).where(Certificate.id.in_(sorted(found)))
                       .order_by(Certificate.id).with_for_update(key_share=True)).all()
    return sorted(ids, key=lambda i: (found.get(i, 0), i))


def apply(actor: Actor, action: BulkAction, ids: list[int]) -> BulkOutcome:
    """Do `action` to each certificate in `ids`, each in a SAVEPOINT of its own (flushes,
    never commits). A certificate already in the state asked for counts as "already";
    any other refusal is counted under its reason; nothing raises for one certificate."""
    verb = _verb(action)

    def change(certificate_id: int) -> None:
        certificate = db.session.get(Certificate, certificate_id)
        if certificate is None:
            raise NotFound("It no longer exists.")
        verb(certificate, actor)

    tally = selection.change_each(_lock_order(ids), change)
    return BulkOutcome(action.action, done=tally.done, already=tally.already,
                       refused=dict(tally.refused))


# --- Large "all matching" actions: a job with progress ----------------------------------

def run_outcome(run: BulkActionRun) -> BulkOutcome:
    """What the run did so far (its recorded counts)."""
    return BulkOutcome(run.kind, done=run.done_count, already=run.already_count,
                       refused={str(k): int(v) for k, v in (run.refusals or {}).items()})


def run_action(run: BulkActionRun) -> BulkAction:
    return BulkAction(run.kind, run.reason, run.category)


def is_stale(run: BulkActionRun, now: datetime | None = None) -> bool:
    """A RUNNING run whose job has not beaten for STALE_AFTER (its worker was killed), or
    a QUEUED one no worker took for QUEUED_STALE_AFTER (its job was lost)."""
    return jobs.went_silent(run.status, run.heartbeat_at or run.created_at, now or utcnow(),
                            running=STALE_AFTER, queued=QUEUED_STALE_AFTER)


def shown_status(run: BulkActionRun) -> RunStatus:
    """The status the page shows: a stale run is FAILED (it stops polling and offers
    Resume) although only Resume or a new job writes that down (a GET never writes)."""
    return RunStatus.FAILED if is_stale(run) else run.status


def stale_error(run: BulkActionRun) -> str:
    return (f"The worker stopped after {run.position} of {run.total} (no sign of it for "
            f"{int(STALE_AFTER.total_seconds() // 60)} minutes).")


def _queue(run: BulkActionRun) -> None:
    # A job that raises is tried again (from where it stopped); the last try marks the
    # run failed, and Resume queues it once more.
    enqueue_after_commit(RUN_JOB, run.id, job_timeout=RUN_JOB_TIMEOUT,
                         retry=Retry(max=RUN_RETRY["max"], interval=RUN_RETRY["interval"]))


def request_run(actor: Actor, action: BulkAction, ids: list[int],
                filters: dict[str, str] | None = None) -> BulkActionRun:
    """Record a large action (flushes) and queue its job after commit."""
    run = BulkActionRun(token=secrets.token_urlsafe(18), kind=action.action,
                        reason=action.reason, category=action.category,
                        requested_by_id=actor.user.id if actor.user else None,
                        requested_ip=actor.ip, filters=dict(filters or {}), ids=list(ids),
                        total=len(ids), status=RunStatus.QUEUED, position=0, done_count=0,
                        already_count=0, refused_count=0, refusals={}, attempts=0,
                        heartbeat_at=utcnow())
    db.session.add(run)
    db.session.flush()
    _queue(run)
    return run


def get_run(actor: Actor, token: str) -> BulkActionRun:
    """The run behind a progress URL, for an admin (the one who asked for it or any
    other). Raises NotFound for an unknown or malformed token, or anyone else."""
    if (not isinstance(token, str) or not 1 <= len(token) <= 32
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in token)):
        raise NotFound("This bulk action is not known.")
    if actor.user is None or actor.user.role != Role.ADMIN:
        raise NotFound("This bulk action is not known.")
    run = db.session.scalar(select(BulkActionRun).where(BulkActionRun.token == token))
    if run is None:
        raise NotFound("This bulk action is not known.")
    return run


def resume(actor: Actor, token: str) -> BulkActionRun:
    """A failed (or stale) run back to QUEUED and its job queued again: it goes on from
    where it stopped. Raises AlreadyDone when it is not failed any more (a double-click,
    another admin: one job all the same)."""
    run = get_run(actor, token)
    cutoff = utcnow() - STALE_AFTER
    queued_cutoff = utcnow() - QUEUED_STALE_AFTER
    was = shown_status(run)
    transition(run, to=RunStatus.QUEUED,
               expected=[RunStatus.FAILED, RunStatus.RUNNING, RunStatus.QUEUED],
               where=[or_(BulkActionRun.status == RunStatus.FAILED,
                          and_(BulkActionRun.status == RunStatus.RUNNING,
                               BulkActionRun.heartbeat_at < cutoff),
                          and_(BulkActionRun.status == RunStatus.QUEUED,
                               BulkActionRun.heartbeat_at < queued_cutoff))],
               values={"error": None, "finished_at": None, "heartbeat_at": utcnow()},
               refused=lambda now: AlreadyDone(
                   f"It is {shown_status(now).label.lower()} already."))
    audit.record(actor, AuditAction.UPDATE, "bulk_action_run", run.id,
                 {"status": [was.value, "QUEUED"], "resumed_at": run.position,
                  "total": run.total})
    _queue(run)
    return run


def run_actor(run: BulkActionRun) -> Actor | None:
    """Who asked for the run, if they may still act (an active admin): a job queued by an
    admin who has since lost the role or been deactivated does nothing."""
    return active_admin(run.requested_by_id, run.requested_ip)


def _mine(run: BulkActionRun, attempt: int) -> list[Any]:
    # This job still owns the run: nobody marked it stale, resumed it or took it over.
    return [BulkActionRun.attempts == attempt]


def process(run_id: int, *, last_attempt: bool = True) -> dict[str, Any]:
    """The job: act on the run's certificates from `position` on, COMMIT_EVERY at a
    time, recording the counts, the position and a heartbeat with each commit. Safe to
    run twice: a done or failed run is left alone, a run another job holds (a fresh
    heartbeat) is left to it, and a certificate acted on twice counts "already". When it
    raises, the run goes back to QUEUED for RQ's next try, or FAILED on the last one.
    Commits."""
    run = db.session.get(BulkActionRun, run_id)
    if run is None:
        return {"run": run_id, "status": "skipped", "reason": "run is gone"}
    if run.status in (RunStatus.DONE, RunStatus.FAILED):
        return {"run": run_id, "status": f"already_{run.status.value.lower()}"}
    now = utcnow()
    attempt = run.attempts + 1
    try:
        transition(run, to=RunStatus.RUNNING, expected=[RunStatus.QUEUED, RunStatus.RUNNING],
                   where=[BulkActionRun.attempts == run.attempts,
                          or_(BulkActionRun.status == RunStatus.QUEUED,
                              BulkActionRun.heartbeat_at < now - STALE_AFTER)],
                   values={"attempts": attempt, "heartbeat_at": now, "error": None,
                           "started_at": run.started_at or now})
    except Conflict:
        db.session.rollback()
        return {"run": run_id, "status": "busy", "reason": "another job holds it"}
    db.session.commit()
    actor = run_actor(run)
    if actor is None:
        _finish(run, attempt, RunStatus.FAILED,
                error="The admin who asked for it can no longer act; nothing more was "
                      "changed.")
        return {"run": run_id, "status": "refused"}
    action = run_action(run)
    try:
        while run.position < run.total:
            chunk = list(run.ids[run.position:run.position + COMMIT_EVERY])
            outcome = run_outcome(run)
            outcome.add(apply(actor, action, chunk))
            try:
                transition(run, to=RunStatus.RUNNING, expected=RunStatus.RUNNING,
                           where=_mine(run, attempt), values={
                               "position": run.position + len(chunk),
                               "done_count": outcome.done, "already_count": outcome.already,
                               "refused_count": outcome.refused_count,
                               "refusals": outcome.refused, "heartbeat_at": utcnow()})
            except Conflict:  # marked stale, resumed or taken over meanwhile: not ours
                db.session.rollback()  # this chunk is undone; the new owner redoes it
                return {"run": run_id, "status": "superseded", "position": run.position}
            db.session.commit()
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(BulkActionRun, run_id)
        log.exception("bulk action %s failed at %s of %s", run_id, run.position, run.total)
        error = f"Stopped after {run.position} of {run.total} ({type(exc).__name__})."
        _finish(run, attempt, RunStatus.FAILED if last_attempt else RunStatus.QUEUED,
                error=error if last_attempt else error + " Trying again.")
        raise
    _finish(run, attempt, RunStatus.DONE)
    return {"run": run_id, "status": "done", "summary": run.summary}


def _finish(run: BulkActionRun, attempt: int, status: RunStatus, *,
            error: str | None = None) -> None:
    """Record how the job ended (if it still owns the run) and commit."""
    values: dict[str, Any] = {"error": error, "heartbeat_at": utcnow()}
    if status != RunStatus.QUEUED:
        values["finished_at"] = utcnow()
    if status == RunStatus.DONE:
        values["summary"] = run_outcome(run).summary()
    try:
        transition(run, to=status, expected=RunStatus.RUNNING, where=_mine(run, attempt),
                   values=values)
    except Conflict:
        db.session.rollback()
        return
    db.session.commit()
