"""Delivery jobs: send notifications by email and SMS."""

from __future__ import annotations

import logging

from app.extensions import db, rq
from app.services import delivery

log = logging.getLogger(__name__)


class DeliveriesFailed(Exception):
    """Some deliveries of the batch failed; RQ retries the job (the sent ones are skipped)."""


@rq.job
def send_deliveries(delivery_ids: list[int]) -> dict[str, int]:
    """Send each delivery that has not gone yet, committing after each one so a retry
    (or a second run) never sends a message twice. Raises DeliveriesFailed, after trying
    them all, if any failed: RQ then retries the job with backoff."""
    outcomes: dict[str, int] = {}
    for delivery_id in delivery_ids:
        try:
            outcome = delivery.send(delivery_id)
            db.session.commit()
        except Exception as exc:  # noqa: BLE001 - one bad message never stops the batch
            db.session.rollback()
            log.exception("delivery %s could not be sent", delivery_id)
            outcome = delivery.mark_failed(delivery_id, f"{type(exc).__name__}: {exc}")
            db.session.commit()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if outcomes.get("failed"):
        raise DeliveriesFailed(f"{outcomes['failed']} of {len(delivery_ids)} deliveries failed "
                               f"(ids {delivery_ids[0]}..{delivery_ids[-1]}); see /admin/jobs")
    return outcomes
