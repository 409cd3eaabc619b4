"""The outbox dispatcher as a scheduled job: RQ's cron (`flask --app wsgi rq cron`) runs
it every minute, so jobs committed while Redis was away reach the queue soon after it
is back, without anyone running `flask --app wsgi jobs dispatch` by hand."""

from __future__ import annotations

from typing import Any

from app.extensions import rq
from app.jobs import dispatch_pending

CRON = "* * * * *"


@rq.job
def dispatch_outbox() -> dict[str, Any]:
    """Queue every pending outbox row once (safe to run next to another dispatcher)."""
    result = dispatch_pending()
    return {"queued": result.queued, "ran": result.ran, "failed": result.failed,
            "retrying": result.retrying, "left": result.left}


dispatch_outbox.cron_register(CRON)
