"""Bulk exports: a ZIP of the PDFs of every certificate a list's filters match, built by a
background job (app.jobs.certificates.build_certificate_export) that renders what is
missing; the request only records what was asked for."""

from __future__ import annotations

from datetime import date

from app.extensions import db
from app.models import CertificateExport
from app.services.certificates.queries import CertificateFilters
from app.services.context import Actor
from app.services.enqueue import enqueue_after_commit

BUILD_EXPORT_JOB = "app.jobs.certificates.build_certificate_export"
# Rendering missing PDFs takes ~0.1 s each: give a 5,000-certificate export room.
EXPORT_JOB_TIMEOUT = 1800
#: The stored filters' key for an export of chosen certificates (ids), not a list filter.
IDS = "ids"


def request_export(actor: Actor, filters: CertificateFilters,
                   ids: list[int] | None = None) -> CertificateExport:
    """Record an export of what `filters` match (and, with `ids`, only those of these
    certificates: the rows ticked on the list) and queue its job after commit."""
    stored = {k: (v.isoformat() if isinstance(v, date) else v)
              for k, v in filters.__dict__.items() if v not in (None, "")}
    if ids is not None:
        stored[IDS] = sorted(set(ids))
    export = CertificateExport(requested_by_id=actor.user.id if actor.user else None,
                               filters=stored)
    db.session.add(export)
    db.session.flush()
    enqueue_after_commit(BUILD_EXPORT_JOB, export.id, job_timeout=EXPORT_JOB_TIMEOUT)
    return export


def get_export(export_id: int) -> CertificateExport | None:
    return db.session.get(CertificateExport, export_id)
