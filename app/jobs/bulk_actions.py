"""Bulk actions too large for one request ("all matching" beyond INLINE_LIMIT): approve,
reject or revoke each certificate of a recorded BulkActionRun through its lifecycle verb
(app.services.certificates.bulk.process).

Queued with an RQ Retry: a try that raises puts the run back to QUEUED and the next try
goes on from where it stopped; the last try marks it FAILED (the page offers Resume).
Safe to run twice: a certificate acted on twice is counted "already" by its own
conditional UPDATE, so each changes once.
"""

from __future__ import annotations

from typing import Any

from rq import get_current_job

from app.extensions import db, rq
from app.services.certificates import bulk


def _last_attempt() -> bool:
    """Whether RQ will not try this job again if it raises (inline: never again)."""
    job = get_current_job()
    return job is None or not job.retries_left


@rq.job
def run_bulk_action(run_id: int) -> dict[str, Any]:
    try:
        return bulk.process(run_id, last_attempt=_last_attempt())
    except BaseException:
        db.session.rollback()
        raise
