"""What an issued certificate is known by: its number CERT-YYYY-NNNNN (from a per-year
counter row, so numbers are unique and gapless), its verification code (Crockford base32,
read forgivingly), and the frozen snapshot of what it says (subject, track and version,
dates, issuer), which the PDF and the public page print instead of live rows."""

from __future__ import annotations

import secrets
from typing import Any

from flask import current_app
from sqlalchemy import update

from app.extensions import db
from app.models import (
    Certificate,
    CertificateCounter,
    CertificationTrack,
    User,
)
from app.services.errors import Conflict
from app.services.persistence import flush_or_raise

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def subject_name(certificate: Certificate) -> str:
    if certificate.course is not None:
        return certificate.course.title
    return certificate.track.name if certificate.track is not None else ""

# --- Numbers, codes, snapshot ----------------------------------------------------------

def next_number(year: int) -> str:
    """CERT-YYYY-NNNNN from the year's counter row, updated first to hold its lock."""
    return next_numbers(year, 1)[0]


def next_numbers(year: int, count: int) -> list[str]:
    """`count` consecutive numbers of the year (next_number's, reserved together: the
    counter row is moved on by `count` in one UPDATE, which holds its lock)."""
    bump = update(CertificateCounter).where(CertificateCounter.year == year).values(
        last_number=CertificateCounter.last_number + count).returning(
        CertificateCounter.last_number)
    last = db.session.scalar(bump)
    if last is None:
        try:
            flush_or_raise(Conflict("counter race"), add=[CertificateCounter(year=year,
                                                                             last_number=count)])
            last = count
        except Conflict:  # another issuer created the year's row first: count on it
            last = db.session.scalar(bump)
    return [f"CERT-{year}-{number:05d}" for number in range(last - count + 1, last + 1)]


def hold_counter(year: int) -> None:
    """Take the year's counter lock now, using no number (the row moved on by 0; made if
    missing), for a write that must hold it before it takes the audit chain head (the
    lock order: lifecycle._hold_for_replacement)."""
    next_numbers(year, 0)


def new_verification_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(code: str) -> str:
    cleaned = code.strip().upper().replace(" ", "").replace("-", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return f"{cleaned[:5]}-{cleaned[5:]}" if len(cleaned) == 10 else cleaned



def track_of(certificate: Certificate) -> CertificationTrack | None:
    if certificate.track is not None:
        return certificate.track
    return certificate.course.track if certificate.course is not None else None


def snapshot(certificate: Certificate, issued_by: User | None,
             template_version_id: int | None) -> dict[str, Any]:
    """What the certificate says, frozen; `template_version_id`: templates.version_id_for
    (read by the caller: a batch reads its certificates' together)."""
    track = track_of(certificate)
    return {
        "number": certificate.number,
        "recipient_name": certificate.recipient.name,
        "type": certificate.type.value,
        "type_label": certificate.type.label,
        "subject": subject_name(certificate),
        "subject_kind": "course" if certificate.course is not None else "track",
        "track": track.name if track is not None else None,
        # A track certificate says the version it covers (`track_version`: the one
        # completed, or the one a re-issue carries over), even if the track moved on.
        "version": (certificate.track_version or track.version) if track is not None
        else None,
        "issued_on": certificate.issued_at.date().isoformat() if certificate.issued_at else None,
        "expires_on": certificate.expires_at.isoformat() if certificate.expires_at else None,
        "issuer": current_app.config["ISSUER_NAME"],
        "issued_by": issued_by.name if issued_by is not None else None,
        # The certificate template version in force now (its course's, its track's or
        # the default one; None: the built-in look), frozen like the rest: the PDF and
        # the verify page keep this look whatever the template becomes.
        "template_version_id": template_version_id,
    }
