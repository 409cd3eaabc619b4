"""What a certificate's status means publicly: its standing. One function decides it
(`verification_status`) for every surface: /verify (page, signed JSON, lookups), /me, the
admin list and detail, the track page's re-certification list.

- NOT_FOUND: pending and rejected certificates do not exist publicly.
- REVOKED: withdrawn by an admin. SUPERSEDED: replaced by a newer certificate (a
  re-issue, or the certificate of a new major version); its successor is the
  certificate whose `supersedes_id` names it.
- EXPIRED: derived from `expires_at` (never stored).
- RECERTIFICATION_REQUIRED: an issued *track* certificate of an older major version than
  the track's, once the major change plus the track's grace period has passed
  (`recertification_due_on`). Computed at read time from stored facts (the version in
  the snapshot, the track's version, `major_version_changed_at` and
  `recertification_grace_days`), so nothing has to sweep it and it is race-free. Two or
  more major versions behind needs re-certification at once. Expiry comes first: an
  expired certificate says EXPIRED whatever its version. Course certificates are about
  a course and are never sent back by their track's version.
- VALID otherwise.

Each public check is logged for the holder's list on /me."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from app.models import Certificate, CertificateStatus
from app.services import dates, verification_log

S = CertificateStatus
PUBLIC_STATUSES = (S.ISSUED, S.REVOKED, S.SUPERSEDED)


class Standing(enum.StrEnum):
    """A certificate's public standing (the /verify answer's `status`)."""

    VALID = "VALID"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    SUPERSEDED = "SUPERSEDED"
    RECERTIFICATION_REQUIRED = "RECERTIFICATION_REQUIRED"
    NOT_FOUND = "NOT_FOUND"

    @property
    def label(self) -> str:
        return {"RECERTIFICATION_REQUIRED": "Re-certification required",
                "NOT_FOUND": "Not found"}.get(self.value, self.value.title())


class Checkable(Protocol):
    """What the standing needs: an ORM certificate, or the verify page's row (which also
    carries covered_major, track_major, major_changed_at and grace_days)."""

    @property
    def status(self) -> CertificateStatus: ...
    @property
    def expires_at(self) -> date | None: ...


def _version_terms(certificate: Any) -> tuple[int | None, int | None, datetime | None, int]:
    """(covered major, the track's major, when it changed, grace days) of a track
    certificate; (None, None, None, 0) for anything else."""
    if isinstance(certificate, Certificate):
        track = certificate.track
        if certificate.course_id is not None or track is None:
            return None, None, None, 0
        return (certificate.covered_major, track.version_major,
                track.major_version_changed_at, track.recertification_grace_days or 0)
    return (getattr(certificate, "covered_major", None),
            getattr(certificate, "track_major", None),
            getattr(certificate, "major_changed_at", None),
            getattr(certificate, "grace_days", None) or 0)


def recertification_due_on(certificate: Any) -> date | None:
    """The day from which this certificate needs re-certification (the major change's
    date plus the track's grace days), or None when its version is current (or it is
    not a track certificate). date.min when it is two or more major versions behind, or
    the change date is unknown."""
    covered, current, changed_at, grace = _version_terms(certificate)
    if covered is None or current is None or covered >= current:
        return None
    if covered < current - 1 or changed_at is None:
        return date.min
    return changed_at.date() + timedelta(days=grace)


def verification_status(certificate: Checkable | None, today: date | None = None) -> str:
    """The certificate's Standing (VALID, EXPIRED, REVOKED, SUPERSEDED,
    RECERTIFICATION_REQUIRED or NOT_FOUND); see the module docstring for the rules."""
    if certificate is None or certificate.status not in PUBLIC_STATUSES:
        return Standing.NOT_FOUND
    if certificate.status == S.REVOKED:
        return Standing.REVOKED
    if certificate.status == S.SUPERSEDED:
        return Standing.SUPERSEDED
    today = today or dates.today()
    if is_expired(certificate, today):
        return Standing.EXPIRED
    due = recertification_due_on(certificate)
    if due is not None and due <= today:
        return Standing.RECERTIFICATION_REQUIRED
    return Standing.VALID


def standing(certificate: Checkable | None, today: date | None = None) -> Standing:
    """verification_status() as the enum (templates compare with it)."""
    return Standing(verification_status(certificate, today))


def is_expired(certificate: Checkable, today: date | None = None) -> bool:
    return certificate.expires_at is not None and certificate.expires_at < (
        today or dates.today())


def record_verification(certificate_id: int, channel: str) -> None:
    """Log a public check for the holder's list on /me: buffered, written within about a
    second by app/services/verification_log.py (not part of the caller's transaction)."""
    verification_log.record(certificate_id, channel)
