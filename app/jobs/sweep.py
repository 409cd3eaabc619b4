"""The daily sweep job (see app/services/sweep.py for what it does and why it is once-only).

Scheduled with RQ's cron (`flask --app wsgi rq cron`, 02:30 UTC daily), or by the
system's cron calling `flask --app wsgi jobs sweep` (see README).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import date
from typing import Any

from rq import Retry

from app.extensions import db, rq
from app.models import SweepRun
from app.models.base import utcnow
from app.services import sweep
from app.services.dates import today

log = logging.getLogger(__name__)
CRON = "30 2 * * *"


def run(as_of: date, *, dry_run: bool = False, full: bool = False) -> list[sweep.PhaseResult]:
    """Run every phase as of a date. For real: each phase commits (its claims and
    notifications together), and the run is recorded in sweep_runs. Dry run: the same
    work in one transaction, rolled back, so it lists exactly what a run would send.
    `full`: the reminders read the whole 90-day window, not only what changed since the
    last finished run (sweep.whole_window)."""
    with sweep.whole_window() if full else nullcontext():
        return _run(as_of, dry_run=dry_run)


def _run(as_of: date, *, dry_run: bool) -> list[sweep.PhaseResult]:
    results: list[sweep.PhaseResult] = []
    if dry_run:
        try:
            for phase in sweep.PHASES:
                results.append(phase(as_of))
        finally:
            db.session.rollback()
        return results
    # Jobs committed while Redis was away go out first (the sweep is the one job every
    # deployment runs daily, whatever else schedules the dispatcher).
    from app.jobs import dispatch_pending, purge_outbox

    dispatch_pending()
    purge_outbox()
    record = SweepRun(as_of=as_of)
    db.session.add(record)
    db.session.commit()
    try:
        for phase in sweep.PHASES:
            result = phase(as_of)
            db.session.commit()
            results.append(result)
    except Exception as exc:
        db.session.rollback()
        _finish(record.id, results, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(record.id, results)
    return results


def _finish(run_id: int, results: list[sweep.PhaseResult], error: str | None = None) -> None:
    record = db.session.get(SweepRun, run_id)
    if record is None:
        return
    record.status = "failed" if error else "done"
    record.error = error
    record.counts = {r.name: {"items": r.items, "sent": r.sent} for r in results}
    record.sent = sum(r.sent for r in results)
    record.finished_at = utcnow()
    db.session.commit()


@rq.job
def daily_sweep(as_of: str | None = None, full: bool = False) -> dict[str, Any]:
    """The sweep as of a date (ISO; default today, UTC); `full`: over the whole window
    (run's). Idempotent: a second run, a concurrent one or a retry after a crash sends
    nothing twice."""
    day = date.fromisoformat(as_of) if as_of else today()
    results = run(day, full=full)
    summary = {r.name: {"items": r.items, "sent": r.sent} for r in results}
    log.info("sweep as of %s: %s", day, summary)
    return {"as_of": day.isoformat(), "sent": sum(r.sent for r in results), **summary}


SWEEP_RETRY = {"max": 3, "interval": [60, 300, 900]}


@rq.job
def start_daily_sweep() -> str:
    """What RQ's cron runs: queue today's sweep with retries (a worker killed mid-sweep
    leaves the job to be retried; RQ's cron itself cannot attach a retry policy)."""
    job = daily_sweep.enqueue(None, job_timeout=3600, retry=Retry(**SWEEP_RETRY))
    return job.id


start_daily_sweep.cron_register(CRON)
