"""Bulk actions too large for one request ("all matching" beyond INLINE_LIMIT): approve,
reject or revoke each certificate of a recorded run through its lifecycle verb.

Resumable and safe to run twice: the run records how far it got after every commit of
COMMIT_EVERY certificates, a new run starts from there, and a certificate acted on twice
is refused by its own conditional UPDATE (counted as "already"), so each changes once.
"""

from __future__ import annotations

import logging
from typing import Any

from app.extensions import db, rq
from app.models.base import utcnow
from app.services.certificates import bulk
from app.services.errors import ServiceError

log = logging.getLogger(__name__)


@rq.job
def run_bulk_action(key: str) -> dict[str, Any]:
    try:
        run = bulk.get_run(key)
    except ServiceError:
        return {"key": key, "status": "skipped", "reason": "run is gone"}
    if run.status == "done":  # a failed run resumes where it stopped
        return {"key": key, "status": "already_done"}
    outcome = run.result
    actor = bulk.run_actor(run)
    if actor is None:
        run.status = "failed"
        run.error = "The admin who asked for it can no longer act; nothing was changed."
        run.finished_at = utcnow().isoformat()
        bulk.save_run(run)
        return {"key": key, "status": "refused"}
    run.status = "running"
    bulk.save_run(run)
    try:
        while run.position < run.total:
            chunk = run.ids[run.position:run.position + bulk.COMMIT_EVERY]
            outcome.add(bulk.apply(actor, run.bulk_action, chunk))
            db.session.commit()
            run.position += len(chunk)
            run.outcome = {"done": outcome.done, "already": outcome.already,
                           "refused": outcome.refused}
            bulk.save_run(run)
    except Exception as exc:
        db.session.rollback()
        log.exception("bulk action %s failed at %s of %s", key, run.position, run.total)
        run.status = "failed"
        run.error = f"Stopped after {run.position} of {run.total} ({type(exc).__name__})."
        run.finished_at = utcnow().isoformat()
        bulk.save_run(run)
        raise
    run.status = "done"
    run.finished_at = utcnow().isoformat()
    bulk.save_run(run)
    return {"key": key, "status": "done", "summary": outcome.summary()}
