"""Certificates: pending -> issued (or rejected), revoked and reinstated; frozen at issue."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
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

    @property
    def label(self) -> str:
        return self.value.title()


LIVE_STATUSES = (CertificateStatus.PENDING, CertificateStatus.ISSUED)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        Index("ix_certificates_status_issued_at", "status", "issued_at"),
        Index("ix_certificates_recipient_id", "recipient_id"),
        Index("ix_certificates_course_id", "course_id"),
        Index("ix_certificates_track_id", "track_id"),
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
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    verification_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id",
                                                                 ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])
    course: Mapped[Course | None] = relationship()
    track: Mapped[CertificationTrack | None] = relationship()
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    recommended_by: Mapped[User | None] = relationship(foreign_keys=[recommended_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @staticmethod
    def make_live_key(recipient_id: int, course_id: int | None, track_id: int | None,
                      type_: CertificateType) -> str:
        return f"{recipient_id}:{course_id or '-'}:{track_id or '-'}:{type_.value}"
