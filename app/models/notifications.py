"""In-app notifications (delivery by email and SMS comes with the notifications issue)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
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
    TRAINING_ASSIGNED = "TRAINING_ASSIGNED"
    TRAINING_COMPLETED = "TRAINING_COMPLETED"
    RECERTIFICATION_REQUIRED = "RECERTIFICATION_REQUIRED"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))
    # Makes a job that may run twice create the notification once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Which channels the preferences chose when it was raised: {"email": bool, "sms": bool,
    # "org_email": bool, "org_sms": bool}; the delivery jobs send from this record.
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
