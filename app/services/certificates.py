"""Certificates. Completion of a track requests a pending COMPLETION certificate here;
the lifecycle (approve, issue, revoke, reinstate, PDF, verification) builds on it."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificateType,
    Enrolment,
)
from app.models.base import utcnow
from app.services import audit
from app.services.context import Actor
from app.services.errors import Conflict
from app.services.persistence import flush_or_raise


def live_certificate(recipient_id: int, course_id: int | None, track_id: int | None,
                     type_: CertificateType) -> Certificate | None:
    key = Certificate.make_live_key(recipient_id, course_id, track_id, type_)
    return db.session.scalar(select(Certificate).where(Certificate.live_key == key))


def request_completion(enrolment: Enrolment, actor: Actor) -> Certificate:
    """A pending COMPLETION certificate for a completed track, unless one is live already
    (pending or issued): completing twice never makes two."""
    existing = live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION)
    if existing is not None:
        return existing
    certificate = Certificate(
        type=CertificateType.COMPLETION, status=CertificateStatus.PENDING,
        recipient_id=enrolment.user_id, track_id=enrolment.track_id,
        live_key=Certificate.make_live_key(enrolment.user_id, None, enrolment.track_id,
                                           CertificateType.COMPLETION),
        recommended_at=utcnow(), progress_percent=100.0,
        notes=f"Completed version {enrolment.completed_version}.",
    )
    try:
        flush_or_raise(Conflict("A live certificate exists."), add=[certificate])
    except Conflict:
        # Another request made it a moment ago; that one stands.
        return live_certificate(enrolment.user_id, None, enrolment.track_id,
                                CertificateType.COMPLETION)  # type: ignore[return-value]
    audit.record(actor, AuditAction.CREATE, "certificate", certificate.id,
                 {"type": "COMPLETION", "status": "PENDING", "recipient_id": enrolment.user_id,
                  "track_id": enrolment.track_id})
    return certificate


def certificates_of(user_id: int) -> list[Certificate]:
    return list(db.session.scalars(select(Certificate).where(
        Certificate.recipient_id == user_id).order_by(Certificate.created_at.desc())))
