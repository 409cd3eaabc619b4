"""The public certificate check: find a certificate, and the answer the public gets.

The rules (what is public, the answer's shape) are in app/blueprints/verify/routes.py's
docstring. This module is the read side, kept lean because /verify/<id> is the app's
hottest public page (issue 5):

- one Core SELECT of the columns an answer is made of (no ORM entity, no relationship
  loads), prebuilt, on a kept autocommit connection (app.database.read_first:
  no pool checkout, pre-ping or BEGIN/ROLLBACK round trips for one read);
- the row itself (`PublicRecord`, a NamedTuple) is the key of the caches built on it: it
  holds everything the answer depends on (status, revocation, expiry, the frozen snapshot
  as stored text), so a revoked, reinstated or edited certificate is a different key on
  the very next request. Nothing here can be stale: every request reads the row.
"""

from __future__ import annotations

import hmac
import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import Select, Text, and_, bindparam, cast, select

from app.database import read_first
from app.extensions import db
from app.models import (
    Certificate,
    CertificateRendering,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
)
from app.models.base import utcnow
from app.models.certificates import major_of
from app.services import certificates, urls

NOT_FOUND = "NOT_FOUND"
# secrets.token_urlsafe(24): 32 characters of the URL-safe base64 alphabet.
VERIFICATION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
NUMBER = re.compile(r"(?:CERT)?-?(\d{4})-?(\d{1,5})")


class PublicRecord(NamedTuple):
    """The columns of a certificate that its public answer is made of."""

    id: int
    verification_id: str
    number: str | None
    type: CertificateType
    status: CertificateStatus
    expires_at: date | None
    revoked_at: datetime | None
    revocation_category: str | None
    snapshot_json: str | None  # the frozen snapshot, as stored (parsed only on a miss)
    # Re-certification facts of a track certificate (None/0 for a course certificate).
    track_version: str | None = None
    track_major: int | None = None
    track_minor: int | None = None
    major_changed_at: datetime | None = None
    grace_days: int = 0
    # What it is of (a course, else a track): its badge image, for the page's card.
    course_id: int | None = None
    track_id: int | None = None
    # A SUPERSEDED certificate's successor (its own record; its successor not followed).
    successor: PublicRecord | None = None

    @property
    def covered_major(self) -> int | None:
        return major_of(self.track_version)


_COLUMNS = (Certificate.id, Certificate.verification_id, Certificate.number,
            Certificate.type, Certificate.status, Certificate.expires_at,
            Certificate.revoked_at, Certificate.revocation_category,
            cast(Certificate.snapshot, Text), Certificate.track_version,
            CertificationTrack.version_major, CertificationTrack.version_minor,
            CertificationTrack.major_version_changed_at,
            CertificationTrack.recertification_grace_days, Certificate.course_id,
            Certificate.track_id)
# A track certificate's track (its current version and grace); none for a course's.
_TRACK_ON = and_(CertificationTrack.id == Certificate.track_id, Certificate.course_id.is_(None))
# Built once: the same statement object each time skips SQLAlchemy's cache-key and
# result-adaptation work (a measurable part of a /verify/<id> request).
_BY_VERIFICATION_ID = select(*_COLUMNS).where(
    Certificate.verification_id == bindparam("verification_id"))
_BY_NUMBER = select(*_COLUMNS, Certificate.verification_code).where(
    Certificate.number == bindparam("number"))
# Any rendering ever made of the certificate's PDF (app/services/certificates/renderings.py).
_BY_PDF_SHA256 = (select(*_COLUMNS)
                  .join(CertificateRendering, CertificateRendering.certificate_id == Certificate.id)
                  .where(CertificateRendering.sha256 == bindparam("digest")).limit(1))


# The track rides along on every lookup (one LEFT JOIN on its primary key).
_BY_VERIFICATION_ID, _BY_NUMBER, _BY_PDF_SHA256 = (
    statement.outerjoin(CertificationTrack, _TRACK_ON)
    for statement in (_BY_VERIFICATION_ID, _BY_NUMBER, _BY_PDF_SHA256))
_SUCCESSOR = (select(*_COLUMNS).outerjoin(CertificationTrack, _TRACK_ON)
              # Always issued when it was made, so public whatever it became since.
              .where(Certificate.supersedes_id == bindparam("certificate_id"))
              .order_by(Certificate.id.desc()).limit(1))


def _record(row: Any) -> PublicRecord:
    """The record of a row of _COLUMNS; a superseded certificate's carries its successor
    (one more read, only for those)."""
    record = PublicRecord(*row)
    if record.status == CertificateStatus.SUPERSEDED:
        found = _first(_SUCCESSOR, certificate_id=record.id)
        if found is not None:
            record = record._replace(successor=PublicRecord(*found))
    return record


def _first(statement: Select[Any], **params: Any) -> Any:
    return read_first(db.engine, statement, params)


def _public(record: PublicRecord | None) -> PublicRecord | None:
    """The record if the public may know it exists (issued or revoked)."""
    if certificates.verification_status(record) == NOT_FOUND:
        return None
    return record


# --- Lookups -------------------------------------------------------------------------

def by_verification_id(verification_id: str) -> PublicRecord | None:
    if not VERIFICATION_ID.fullmatch(verification_id or ""):
        return None  # malformed: no query, same answer as unknown
    row = _first(_BY_VERIFICATION_ID, verification_id=verification_id)
    return _public(_record(row) if row is not None else None)


def normalise_number(raw: str) -> str:
    """"cert-2026-00042", "CERT 2026 42", "2026-00042" -> "CERT-2026-00042"."""
    cleaned = re.sub(r"\s+", "", raw or "").upper()
    match = NUMBER.fullmatch(cleaned)
    return f"CERT-{match[1]}-{int(match[2]):05d}" if match else cleaned


def by_number_and_code(number: str, code: str) -> PublicRecord | None:
    row = _first(_BY_NUMBER, number=normalise_number(number))
    expected = (row[-1] or "") if row is not None else ""
    given = certificates.normalise_code(code or "")
    if row is None or not expected or not hmac.compare_digest(expected.encode(),
                                                              given.encode()):
        return None
    return _public(_record(row[:-1]))


def by_pdf_sha256(digest: str) -> PublicRecord | None:
    """The certificate one of whose PDF renderings has this SHA-256 (hex), if public."""
    row = _first(_BY_PDF_SHA256, digest=digest)
    return _public(_record(row) if row is not None else None)


def image_url(record: PublicRecord | None) -> str | None:
    """The badge image of the certificate's achievement (absolute), as
    profiles.certificate_image_url gives it for the entity, from the record alone (a
    page's Open Graph card costs no further read)."""
    if record is None:
        return None
    kind, subject_id = (("course", record.course_id) if record.course_id is not None
                        else ("track", record.track_id or 0))
    # Kept per app: a catalogue has few achievements, and each first check asks.
    kept = current_app.extensions.setdefault("credwright.achievement_images", {})
    key = (urls.public_base(), kind, subject_id, record.type)
    url = kept.get(key)
    if url is None:
        url = urls.public_url("badges.certificate_achievement_image", kind=kind,
                              subject_id=subject_id, type_=record.type.value.lower())
        if len(kept) < 4096:
            kept[key] = url
    return url


# --- The answer (one dict for the page, the JSON and the JWS) ------------------------

@lru_cache(maxsize=4096)
def _public_certificate(record: PublicRecord, issuer: str, base_url: str) -> dict[str, Any]:
    # Cached per record (see the module docstring); callers must not change the dict.
    snap = json.loads(record.snapshot_json) if record.snapshot_json else {}
    snap = snap or {}
    revoked = record.status == CertificateStatus.REVOKED
    superseded = record.status == CertificateStatus.SUPERSEDED
    return {
        "number": snap.get("number") or record.number,
        "recipient_name": snap.get("recipient_name"),
        "type": snap.get("type") or record.type.value,
        "type_label": snap.get("type_label") or record.type.label,
        "subject": snap.get("subject"),
        "subject_kind": snap.get("subject_kind"),
        "track": snap.get("track"),
        "version": snap.get("version"),
        "issued_on": snap.get("issued_on"),
        "expires_on": snap.get("expires_on"),
        "issuer": snap.get("issuer") or issuer,
        "revoked_on": (record.revoked_at.date().isoformat()
                       if revoked and record.revoked_at else None),
        "revocation_category": record.revocation_category if revoked else None,
        "superseded_on": (record.revoked_at.date().isoformat()
                          if superseded and record.revoked_at else None),
        "superseded_by": None,  # answer_for() fills it in (its status is today's)
        # The track's version now (a track certificate): RECERTIFICATION_REQUIRED names
        # both the version the certificate covers and this one.
        "current_version": (f"{record.track_major}.{record.track_minor}"
                            if record.track_major is not None else None),
        "verify_url": urls.verify_url(record.verification_id),  # on base_url
    }


def public_certificate(record: PublicRecord) -> dict[str, Any]:
    """The certificate part of the answer: the snapshot frozen at issue minus
    `issued_by`, plus the revocation date and category, the superseding date and
    certificate ({"number", "status", "verify_url"}: the successor's own standing now),
    the track's current version and the page's URL."""
    answer = _public_certificate(record, current_app.config["ISSUER_NAME"], urls.public_base())
    successor = record.successor
    if successor is None:
        return answer
    return {**answer, "superseded_by": {
        "number": successor.number,
        "status": certificates.verification_status(successor),
        "verify_url": urls.verify_url(successor.verification_id)}}


def json_answer(record: PublicRecord | None, verification_id: str) -> dict[str, Any]:
    """The machine answer about the id that was asked for (found or not): answer_for()
    plus the claims that bind a signed copy of it to that id and to a short life, so it
    can be neither replayed for another id nor kept as proof forever:
    `sub` and `verification_id` (the id asked, NOT_FOUND included) and `exp` (`iat` +
    VERIFY_ANSWER_TTL_MINUTES). No query beyond answer_for's record."""
    answer = answer_for(record)
    ttl = int(current_app.config.get("VERIFY_ANSWER_TTL_MINUTES", 10)) * 60
    return {"iss": answer["iss"], "sub": verification_id, "iat": answer["iat"],
            "exp": answer["iat"] + ttl, "verification_id": verification_id,
            "checked_at": answer["checked_at"], "status": answer["status"],
            "certificate": answer["certificate"]}


def answer_for(record: PublicRecord | None) -> dict[str, Any]:
    """The public answer about a certificate found by one of the lookups above (None:
    nothing, or nothing the public may know about)."""
    now = utcnow().replace(microsecond=0)
    return {
        "iss": urls.public_base(), "iat": int(now.timestamp()),
        "checked_at": now.isoformat().replace("+00:00", "Z"),
        "status": certificates.verification_status(record),
        "certificate": public_certificate(record) if record is not None else None,
    }
