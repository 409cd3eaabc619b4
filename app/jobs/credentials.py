"""Credential jobs: expire what has reached its date."""

from __future__ import annotations

from datetime import date

from app.extensions import db, rq
from app.services import sweep
from app.services.dates import today


@rq.job
def expire_micro_credentials(as_of: str | None = None) -> dict:
    """AWARDED -> EXPIRED for every credential whose expiry date has come (as of a date,
    ISO format, default today): the daily sweep's expiry phase on its own (the same
    audit rows and notices). Running it twice expires nothing twice."""
    day = date.fromisoformat(as_of) if as_of else today()
    result = sweep.expire(day)
    db.session.commit()
    return {"as_of": day.isoformat(), "expired": result.items, "sent": result.sent}
