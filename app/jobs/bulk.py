"""Bulk import jobs: issue a confirmed import's pending rows (idempotent: a second run,
or a run after one that died midway, issues only what is still pending)."""

from __future__ import annotations

from typing import Any

from app.extensions import db, rq
from app.services.bulk import certificates as bulk_certificates


@rq.job
def process_bulk_import(import_id: int) -> dict[str, Any]:
    """Issue what the import's pending rows say; record each row's outcome."""
    try:
        return bulk_certificates.process(import_id)
    except BaseException:
        db.session.rollback()
        raise
