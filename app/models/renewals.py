"""Renewal campaigns: holders of a track's certificates expiring within N days are
invited (once per campaign) to re-enrol in the track."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.certificates import Certificate
from app.models.training import CertificationTrack
from app.models.users import User


class CampaignStatus(enum.StrEnum):
    QUEUED = "QUEUED"  # started; its job has not run yet
    DONE = "DONE"

    @property
    def label(self) -> str:
        return self.value.title()


class InvitationStatus(enum.StrEnum):
    INVITED = "INVITED"
    RE_ENROLLED = "RE_ENROLLED"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-").capitalize()


class RenewalCampaign(Base):
    """One campaign per track per day (`started_on`): a double-click, a second admin or
    a stale page starts it once."""

    __tablename__ = "renewal_campaigns"
    __table_args__ = (
        UniqueConstraint("track_id", "started_on"),
        CheckConstraint("within_days BETWEEN 1 AND 365", name="within_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("certification_tracks.id",
                                                     ondelete="CASCADE"))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    within_days: Mapped[int]
    started_on: Mapped[date]
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=16), default=CampaignStatus.QUEUED)
    invited_count: Mapped[int] = mapped_column(default=0)
    re_enrolled_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    track: Mapped[CertificationTrack] = relationship()
    started_by: Mapped[User | None] = relationship()


class RenewalInvitation(Base):
    """A holder invited by a campaign (once: the unique constraint), about the
    certificate that expires."""

    __tablename__ = "renewal_invitations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "user_id"),
        Index("ix_renewal_invitations_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("renewal_campaigns.id",
                                                        ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id",
                                                                  ondelete="SET NULL"))
    expires_on: Mapped[date | None]
    status: Mapped[InvitationStatus] = mapped_column(
        Enum(InvitationStatus, native_enum=False, length=16), default=InvitationStatus.INVITED)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    re_enrolled_at: Mapped[datetime | None]
    # The certificate that replaced `certificate` when the invitee completed the track
    # again (the renewal); None until then.
    renewed_certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"))

    campaign: Mapped[RenewalCampaign] = relationship()
    user: Mapped[User] = relationship()
    certificate: Mapped[Certificate | None] = relationship(foreign_keys=[certificate_id])
    renewed_certificate: Mapped[Certificate | None] = relationship(
        foreign_keys=[renewed_certificate_id])
