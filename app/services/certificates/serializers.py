"""The certificates domain's JSON: the admin API's full certificate (`to_api`, its
verify URL always on PUBLIC_BASE_URL) and seed 004's pending-certificate shape
(`pending_to_api`). No request and no url_for: the same answer from a view, a job or
the CLI."""

from __future__ import annotations

from typing import Any

from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    User,
)
from app.services.certificates.status import is_expired, verification_status
from app.services.urls import verify_url

S = CertificateStatus


def to_api(certificate: Certificate) -> dict[str, Any]:
    def person(user: User | None) -> dict[str, Any] | None:
        return None if user is None else {"id": user.id, "name": user.name, "email": user.email}

    return {
        "id": certificate.id, "number": certificate.number, "type": certificate.type.value,
        "status": certificate.status.value,
        # The public standing (VALID, EXPIRED, REVOKED, SUPERSEDED,
        # RECERTIFICATION_REQUIRED; NOT_FOUND while pending or rejected).
        "standing": verification_status(certificate),
        "track_version": certificate.track_version,
        "expired": certificate.status == S.ISSUED and is_expired(certificate),
        "recipient": person(certificate.recipient),
        "course": ({"id": certificate.course.id, "title": certificate.course.title}
                   if certificate.course else None),
        "track": ({"id": certificate.track.id, "name": certificate.track.name}
                  if certificate.track else None),
        "issued_at": certificate.issued_at.isoformat() if certificate.issued_at else None,
        "issued_by": person(certificate.issued_by),
        "expires_at": certificate.expires_at.isoformat() if certificate.expires_at else None,
        "recommended_by": person(certificate.recommended_by),
        "recommended_at": (certificate.recommended_at.isoformat()
                           if certificate.recommended_at else None),
        "notes": certificate.notes,
        "supporting": {"progress_percent": certificate.progress_percent,
                       "sessions_attended": certificate.sessions_attended,
                       "avg_rating": certificate.average_rating},
        "rejection_reason": certificate.rejection_reason,
        "revocation": ({"reason": certificate.revocation_reason,
                        "category": certificate.revocation_category,
                        "at": certificate.revoked_at.isoformat() if certificate.revoked_at
                        else None} if certificate.status in (S.REVOKED, S.SUPERSEDED)
                       else None),
        "snapshot": certificate.snapshot or None,
        "pdf_ready": certificate.pdf_key is not None,
        "verify_url": (verify_url(certificate.verification_id)
                       if certificate.verification_id else None),
        "supersedes_id": certificate.supersedes_id,
    }


def pending_to_api(certificate: Certificate) -> dict[str, Any]:
    """Seed 004's pending-certificate shape: `course` {id, title} for a course
    certificate; a track certificate has `course` null and its track under `track`
    {id, name} (to_api's track shape), never passed off as a course."""
    return {
        "id": certificate.id, "type": certificate.type.value.lower(),
        "recipient": {"id": certificate.recipient.id, "name": certificate.recipient.name,
                      "avatar": None},
        "course": ({"id": certificate.course.id, "title": certificate.course.title}
                   if certificate.course else None),
        "track": ({"id": certificate.track.id, "name": certificate.track.name}
                  if certificate.track and not certificate.course else None),
        "recommended_by": ({"id": certificate.recommended_by.id,
                            "name": certificate.recommended_by.name}
                           if certificate.recommended_by else None),
        "recommended_at": (certificate.recommended_at.isoformat()
                           if certificate.recommended_at else None),
        "supporting": {"progress_percent": certificate.progress_percent,
                       "sessions_attended": certificate.sessions_attended or 0,
                       **({"avg_rating": certificate.average_rating}
                          if certificate.type == CertificateType.TEACHING else {})},
    }
