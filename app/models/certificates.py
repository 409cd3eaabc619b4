"""Certificates: pending -> issued (or rejected), revoked and reinstated; frozen at issue."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, not_blank, utcnow
from app.models.training import CertificationTrack, Course
from app.models.users import User


class CertificateType(enum.StrEnum):
    COMPLETION = "COMPLETION"
    MASTERY = "MASTERY"
    TEACHING = "TEACHING"

    @property
    def label(self) -> str:
        return self.value.title()


class CertificateStatus(enum.StrEnum):
    PENDING = "PENDING"
    ISSUED = "ISSUED"
    REJECTED = "REJECTED"
    REVOKED = "REVOKED"
    # Replaced by a newer certificate (a re-issue, or a new major version's): never
    # reinstated; the certificate whose supersedes_id names it stands instead.
    SUPERSEDED = "SUPERSEDED"

    @property
    def label(self) -> str:
        return self.value.title()


LIVE_STATUSES = (CertificateStatus.PENDING, CertificateStatus.ISSUED)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        # A person's certificates by status (index-only for the admin list's name search).
        Index("ix_certificates_recipient_id_status", "recipient_id", "status"),
        # The daily sweep's expiry reminders: issued ones expiring within 90 days.
        Index("ix_certificates_status_expires_at", "status", "expires_at"),
        # ... and, after a finished sweep, those changed since (app/services/sweep.py).
        Index("ix_certificates_status_updated_at", "status", "updated_at"),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress_percent_range"),
        CheckConstraint("sessions_attended >= 0", name="sessions_attended_range"),
        CheckConstraint("average_rating BETWEEN 1 AND 5", name="average_rating_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)  # CERT-YYYY-NNNNN
    type: Mapped[CertificateType] = mapped_column(Enum(CertificateType, native_enum=False,
                                                       length=16))
    status: Mapped[CertificateStatus] = mapped_column(
        Enum(CertificateStatus, native_enum=False, length=16), default=CertificateStatus.PENDING)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    track_id: Mapped[int | None] = mapped_column(ForeignKey("certification_tracks.id",
                                                            ondelete="SET NULL"))
    # "recipient:course:track:type" while pending or issued, NULL otherwise: its unique
    # constraint allows one live certificate per recipient, subject and type, race or not.
    # A track certificate's key ends with the major version it covers (":v2"), so a new
    # major version's pending certificate is not blocked by the old version's.
    live_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    issued_at: Mapped[datetime | None]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[date | None]
    recommended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                     ondelete="SET NULL"))
    recommended_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    # Supporting figures shown to the approver.
    progress_percent: Mapped[float | None]
    sessions_attended: Mapped[int | None]
    average_rating: Mapped[float | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revocation_category: Mapped[str | None] = mapped_column(String(40))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What the certificate says, frozen at issue (names, titles, version, dates, issuer).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pdf_key: Mapped[str | None] = mapped_column(String(100))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64), index=True)  # PDF upload check
    # Random public id of /verify/<id> (192 bits), and the short code printed on the PDF
    # for the type-it-in check; both given at issue, neither derived from the number.
    verification_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    verification_code: Mapped[str | None] = mapped_column(String(16))
    # The Open Badges 3.0 credential, signed (VC-JWT) at issue with the then-current key.
    credential_jws: Mapped[str | None] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id",
                                                                 ondelete="SET NULL"))
    # A track certificate's track version ("2.0"): the one completed (set when the
    # completion is requested, kept at issue even if the track moved on), the track's
    # current one for a direct issue, the old one's for a re-issue. None for courses.
    track_version: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])
    course: Mapped[Course | None] = relationship()
    track: Mapped[CertificationTrack | None] = relationship()
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    recommended_by: Mapped[User | None] = relationship(foreign_keys=[recommended_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
    # The certificate this one replaced (a re-issue, or an earlier major version's).
    supersedes: Mapped[Certificate | None] = relationship(
        foreign_keys=[supersedes_id], remote_side=[id], viewonly=True)

    @staticmethod
    def make_live_key(recipient_id: int, course_id: int | None, track_id: int | None,
                      type_: CertificateType, major: int | None = None) -> str:
        key = f"{recipient_id}:{course_id or '-'}:{track_id or '-'}:{type_.value}"
        if track_id is not None and course_id is None:
            key += f":v{major or 1}"
        return key

    @property
    def covered_major(self) -> int | None:
        """The track's major version this certificate covers; None if unknown."""
        return major_of(self.track_version)


def major_of(version: object) -> int | None:
    """ "2.1" -> 2; anything else -> None."""
    head = str(version or "").split(".", 1)[0]
    return int(head) if head.isdigit() else None


# The admin list's order for one status (newest issue first): a page reads 25 entries of
# this index instead of sorting the whole tab. SQLite's DESC already puts NULLs last, so
# migration 0007 leaves NULLS LAST out there.
Index("ix_certificates_status_issued_at_id", Certificate.status,
      Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())
# Migration 0028: a tab filtered by type (and issue dates) in the same order.
Index("ix_certificates_status_type_issued_at_id", Certificate.status, Certificate.type,
      Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())
# Migration 0021: the same order for every status (the API's default list), for one course
# or track's tab (these also serve their foreign keys), and partial ones for the Revoked
# tab (two statuses: one index range in list order) and the Pending tab (oldest first).
Index("ix_certificates_issued_at_id", Certificate.issued_at.desc().nulls_last(),
      Certificate.id.desc())
Index("ix_certificates_course_id_status_issued_at_id", Certificate.course_id,
      Certificate.status, Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())
Index("ix_certificates_track_id_status_issued_at_id", Certificate.track_id,
      Certificate.status, Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())
# A people search's pages (recipient_id = ANY(...)) sort these entries, not the rows.
Index("ix_certificates_recipient_id_status_issued_at_id", Certificate.recipient_id,
      Certificate.status, Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())
_WITHDRAWN = text("status IN ('REVOKED', 'SUPERSEDED')")
Index("ix_certificates_withdrawn_issued_at_id", Certificate.issued_at.desc().nulls_last(),
      Certificate.id.desc(), postgresql_where=_WITHDRAWN, sqlite_where=_WITHDRAWN)
_PENDING = text("status = 'PENDING'")
Index("ix_certificates_pending_recommended_at_id", Certificate.recommended_at, Certificate.id,
      postgresql_where=_PENDING, sqlite_where=_PENDING)


class CertificateCounter(Base):
    """The last number given in a year; updating it first serializes issuers, and a
    rolled-back issue gives its number back, so numbers have no gaps."""

    __tablename__ = "certificate_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class SigningKey(Base):
    """An Ed25519 key that signs verification answers and credentials. The newest
    unretired key signs; retired keys stay published so what they signed still verifies."""

    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    # "EdDSA" (Ed25519: /verify answers, Data Integrity proofs) or "RS256" (RSA 3072:
    # the Open Badges VC-JWT proof); each kind has its own current key.
    alg: Mapped[str] = mapped_column(String(16), default="EdDSA", server_default="EdDSA")
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    # PKCS#8 PEM, encrypted with a key derived from SECRET_KEY (Fernet).
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class CertificateRendering(Base):
    """One rendering of a certificate's PDF, by its SHA-256: every file ever handed out
    (before a revoke and reinstate, or any re-render) stays recognized by the public PDF
    check, which answers with its certificate and that certificate's status now."""

    __tablename__ = "certificate_renderings"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id",
                                                           ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pdf_key: Mapped[str | None] = mapped_column(String(100))
    rendered_at: Mapped[datetime] = mapped_column(default=utcnow)


class CertificateVerification(Base):
    """When a certificate was checked, and how; the holder sees these on /me."""

    __tablename__ = "certificate_verifications"
    __table_args__ = (Index("ix_certificate_verifications_certificate_id_verified_at",
                            "certificate_id", "verified_at"),
                      # Migration 0029: the admin dashboard's checks per week (a range).
                      Index("ix_certificate_verifications_verified_at", "verified_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))  # page, json, code, pdf
    verified_at: Mapped[datetime] = mapped_column(default=utcnow)


class CourseSession(Base):
    """A taught session of a course, run by an instructor (an active TEACHING holder)."""

    __tablename__ = "course_sessions"
    __table_args__ = (not_blank("title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    instructor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"),
                                               index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship()
    instructor: Mapped[User] = relationship()
    attendance: Mapped[list[SessionAttendance]] = relationship(
        back_populates="session", cascade="all, delete-orphan")


class SessionAttendance(Base):
    __tablename__ = "session_attendance"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),
                      Index("ix_session_attendance_user_id", "user_id"),
                      CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("course_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    attended: Mapped[bool] = mapped_column(default=False)
    rating: Mapped[int | None]  # 1-5, given by the learner
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[CourseSession] = relationship(back_populates="attendance")
    user: Mapped[User] = relationship()


class CertificateExport(Base):
    """A bulk download (ZIP of PDFs) built by a job."""

    __tablename__ = "certificate_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued, ready, failed
    certificate_count: Mapped[int | None]
    storage_key: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
