"""What a certificate's status means publicly: expired is derived from `expires_at`
(never stored), and the public check answers VALID, EXPIRED, REVOKED or NOT_FOUND
(pending and rejected certificates do not exist publicly). Each public check is logged
for the holder's list on /me."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from app.models import (
    CertificateStatus,
)
from app.services import dates, verification_log

S = CertificateStatus


class Checkable(Protocol):
    """What the public status needs: an ORM certificate, or the verify page's row."""

    @property
    def status(self) -> CertificateStatus: ...
    @property
    def expires_at(self) -> date | None: ...


def verification_status(certificate: Checkable | None, today: date | None = None) -> str:
    """VALID, EXPIRED, REVOKED or NOT_FOUND for the public check (pending and rejected
    certificates do not exist publicly)."""
    if certificate is None or certificate.status not in (S.ISSUED, S.REVOKED):
        return "NOT_FOUND"
    if certificate.status == S.REVOKED:
        return "REVOKED"
    return "EXPIRED" if is_expired(certificate, today) else "VALID"


def is_expired(certificate: Checkable, today: date | None = None) -> bool:
    return certificate.expires_at is not None and certificate.expires_at < (
        today or dates.today())


def record_verification(certificate_id: int, channel: str) -> None:
    """Log a public check for the holder's list on /me: buffered, written within about a
    second by app/services/verification_log.py (not part of the caller's transaction)."""
    verification_log.record(certificate_id, channel)
