"""Micro-credentials: what exists (definitions) and who holds what (staff credentials)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, not_blank, utcnow
from app.models.users import User


class CredentialStatus(enum.StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_TRAINING = "IN_TRAINING"
    ASSESSMENT_PENDING = "ASSESSMENT_PENDING"
    AWARDED = "AWARDED"
    EXPIRED = "EXPIRED"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class MicroCredentialDefinition(Base):
    __tablename__ = "micro_credential_definitions"
    __table_args__ = (
        Index("ix_micro_credential_definitions_level_title", "level", "title"),
        # The field rules (app/services/fields.py) again, as the database's last word.
        not_blank("title"),
        not_blank("issuing_body"),
        CheckConstraint("level BETWEEN 1 AND 10", name="level_range"),
        CheckConstraint("validity_months >= 0", name="validity_months_range"),
        # A default's stable key (migration 0018): seeding matches defaults by it.
        Index("uq_micro_credential_definitions_default_key", "default_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[int]  # NQF level, 1-10
    skill_standard: Mapped[str | None] = mapped_column(String(200))
    issuing_body: Mapped[str] = mapped_column(String(200))
    requirements: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(default=False)
    # The default's stable key ("ranz-reclad-reroofing-l5"); None for every other one.
    default_key: Mapped[str | None] = mapped_column(String(40))
    # Sets the expiry date on award; None means the credential does not expire.
    validity_months: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    staff_credentials: Mapped[list[StaffMicroCredential]] = relationship(
        back_populates="definition", passive_deletes=True)


class StaffMicroCredential(Base):
    __tablename__ = "staff_micro_credentials"
    __table_args__ = (
        UniqueConstraint("definition_id", "user_id"),  # one per staff member per definition
        # Covering for "which definitions do these people hold" (the /org matrix columns).
        Index("ix_staff_micro_credentials_user_id_definition_id", "user_id", "definition_id"),
        Index("ix_staff_micro_credentials_status_expiry_date", "status", "expiry_date"),
        # The sweep's changed-since-the-last-run read (app/services/sweep.py).
        Index("ix_staff_micro_credentials_status_updated_at", "status", "updated_at"),
        # The org matrix's summary (issue 16): one organization's counts per definition by
        # status and expiry, read from this index alone (no join to users).
        Index("ix_staff_micro_credentials_org_summary",
              "organization_id", "definition_id", "status", "expiry_date"),
        CheckConstraint("evidence_size >= 0", name="evidence_size_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(
        ForeignKey("micro_credential_definitions.id", ondelete="RESTRICT"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The holder's organization, copied (migration 0034); written only by
    # app/services/credentials/membership.py, which keeps it equal to the holder's. No
    # foreign key: users.organization_id is the one referencing organizations.
    organization_id: Mapped[int | None]
    status: Mapped[CredentialStatus] = mapped_column(
        Enum(CredentialStatus, native_enum=False, length=24), default=CredentialStatus.NOT_STARTED)
    awarded_at: Mapped[datetime | None]
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expiry_date: Mapped[date | None]
    # The current evidence document; earlier ones stay in storage and in the audit trail.
    evidence_key: Mapped[str | None] = mapped_column(String(100))
    evidence_filename: Mapped[str | None] = mapped_column(String(255))
    evidence_content_type: Mapped[str | None] = mapped_column(String(60))
    evidence_size: Mapped[int | None]
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))  # the same file again: no-op
    evidence_uploaded_at: Mapped[datetime | None]
    evidence_uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    definition: Mapped[MicroCredentialDefinition] = relationship(back_populates="staff_credentials")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    awarded_by: Mapped[User | None] = relationship(foreign_keys=[awarded_by_id])
    evidence_uploaded_by: Mapped[User | None] = relationship(foreign_keys=[evidence_uploaded_by_id])
