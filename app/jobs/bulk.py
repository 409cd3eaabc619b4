"""Bulk import jobs: carry out a confirmed import's pending rows, a batch at a time
(app.services.bulk.certificates: begin, process_batch, finish; they flush, this commits),
whatever its kind: certificates issued, or micro-credentials awarded (bulk.awards, the
kind's module imported by bulk.kinds when its first import is run).

Queued with an RQ Retry: a try that raises puts the import back to QUEUED and the next
try goes on with the rows still pending; the last try marks it FAILED (the page offers
Resume). Safe to run twice at once: each run claims its batch and writes a row's outcome
only while the row is still pending, so each row is decided once.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from rq import get_current_job

from app.extensions import db, rq
from app.services.bulk import certificates as bulk_certificates

log = logging.getLogger(__name__)


def _last_attempt() -> bool:
    """Whether RQ will not try this job again if it raises (inline: never again)."""
    job = get_current_job()
    return job is None or not job.retries_left


@rq.job
def process_bulk_import(import_id: int) -> dict[str, Any]:
    """Issue what the import's pending rows say; record each row's outcome. Commits."""
    last_attempt = _last_attempt()
    try:
        item, reason = bulk_certificates.begin(import_id)
        db.session.commit()
        if item is None:
            return {"import_id": import_id, "status": "skipped", "reason": reason}
        actor = bulk_certificates.import_actor(item)
        if actor is None:
            bulk_certificates.fail(item, bulk_certificates.NOT_ADMIN)
            db.session.commit()
            return {"import_id": import_id, "status": "refused"}
        did: Counter[str] = Counter(issued=0, skipped=0, failed=0)
        after = 0
        while (last := bulk_certificates.process_batch(item, actor, did, after)) is not None:
            db.session.commit()
            after = last
        finished = bulk_certificates.finish(item)
        db.session.commit()
        return {"import_id": import_id, "status": "done" if finished else "left_to_other",
                **did}
    except BaseException as exc:
        db.session.rollback()
        if isinstance(exc, Exception):
            log.exception("bulk import %s stopped", import_id)
            try:
                bulk_certificates.stopped(import_id, exc, last_attempt=last_attempt)
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("bulk import %s: could not record that it stopped", import_id)
        raise
