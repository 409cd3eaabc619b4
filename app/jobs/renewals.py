"""Renewal campaign jobs."""

from __future__ import annotations

from app.extensions import db, rq
from app.services import renewals


@rq.job
def run_campaign(campaign_id: int) -> dict:
    """Invite a renewal campaign's holders (idempotent: running it again, or two at
    once, invites nobody twice)."""
    invited = renewals.run_campaign(campaign_id)
    db.session.commit()
    return {"campaign_id": campaign_id, "invited": invited}
