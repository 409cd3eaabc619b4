"""Credential jobs: expire what has reached its date."""

from __future__ import annotations

from datetime import date

from app.extensions import db, rq
from app.services.context import Actor
from app.services.credentials import expire_due
from app.services.dates import today


@rq.job
def expire_micro_credentials(as_of: str | None = None) -> dict:
    """AWARDED -> EXPIRED for every credential whose expiry date has come (as of a date,
    ISO format, default today). Running it twice expires nothing twice."""
    day = date.fromisoformat(as_of) if as_of else today()
    expired = expire_due(day, Actor.system())
    db.session.commit()
    return {"as_of": day.isoformat(), "expired": len(expired), "ids": expired[:100]}
