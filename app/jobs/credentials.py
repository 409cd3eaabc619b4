"""Credential jobs: expire what has reached its date."""

from __future__ import annotations

from datetime import date

from app.extensions import db, rq
from app.models.base import utcnow
from app.services import micro_credentials as mc
from app.services.context import Actor


@rq.job
def expire_micro_credentials(as_of: str | None = None) -> dict:
    """AWARDED -> EXPIRED for every credential whose expiry date has come (as of a date,
    ISO format, default today). Running it twice expires nothing twice."""
    today = date.fromisoformat(as_of) if as_of else utcnow().date()
    expired = mc.expire_due(today, Actor.system())
    db.session.commit()
    return {"as_of": today.isoformat(), "expired": len(expired), "ids": expired[:100]}
