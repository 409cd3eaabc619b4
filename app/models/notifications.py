"""Notifications: the in-app record, its deliveries by email and SMS, reminder claims
and the daily sweep's runs."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.users import User


class NotificationType(enum.StrEnum):
    WELCOME = "WELCOME"
    CREDENTIAL_EXPIRY = "CREDENTIAL_EXPIRY"
    CREDENTIAL_STATUS_CHANGE = "CREDENTIAL_STATUS_CHANGE"
    CERTIFICATE_ISSUED = "CERTIFICATE_ISSUED"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    CERTIFICATE_PENDING = "CERTIFICATE_PENDING"
    CERTIFICATE_REJECTED = "CERTIFICATE_REJECTED"
    TRAINING_ASSIGNED = "TRAINING_ASSIGNED"
    TRAINING_DUE = "TRAINING_DUE"
    TRAINING_COMPLETED = "TRAINING_COMPLETED"
    ATTEMPTS_GRANTED = "ATTEMPTS_GRANTED"  # a manager gave another try at a quiz
    RECERTIFICATION_REQUIRED = "RECERTIFICATION_REQUIRED"
    RENEWAL_INVITATION = "RENEWAL_INVITATION"  # a renewal campaign: re-enrol before expiry
    ACCOUNT_INVITATION = "ACCOUNT_INVITATION"
    PASSWORD_RESET = "PASSWORD_RESET"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class Audience(enum.StrEnum):
    SELF = "self"  # about the recipient: their own preferences decide
    ORG = "org"  # to an org admin about their staff: the organization's preferences decide


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_user_id_id", "user_id", "id"),  # the list, newest first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    # Makes a job that may run twice create the notification once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # What the preferences chose when it was raised: {"audience": "self"|"org",
    # "email": bool, "sms": bool}; a delivery row exists for each chosen channel.
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    deliveries: Mapped[list[NotificationDelivery]] = relationship(
        back_populates="notification", cascade="all, delete-orphan", passive_deletes=True)


class DeliveryChannel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    LOGGED = "logged"  # no transport configured: written to the log instead
    FAILED = "failed"  # the last attempt failed; the job retries until it gives up


class NotificationDelivery(Base):
    """One notification on one channel: what was sent where, or why it was not."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "channel"),
        Index("ix_notification_deliveries_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(254))  # email address or phone number
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    notification: Mapped[Notification] = relationship(back_populates="deliveries")


class ReminderClaim(Base):
    """A reminder that has been sent: the unique key makes it once-only.

    Inserted in the transaction that raises the reminder's notifications, so a sweep
    that runs twice, or two at once, or one killed and retried, sends it once."""

    __tablename__ = "reminder_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "mcred:12:2027-03-01:60", "cert:9:2027-03-01:30", "assign:4:2026-12-01:7:user:31"
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    item_id: Mapped[int]
    threshold: Mapped[str] = mapped_column(String(10))
    as_of: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SweepRun(Base):
    """One run of the daily sweep and what it did."""

    __tablename__ = "sweep_runs"
    __table_args__ = (Index("ix_sweep_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default="running")  # running, done, failed
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sent: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
