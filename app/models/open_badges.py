"""Open Badges 3.0: each portable credential's entry in a W3C Bitstring Status List."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

# Herd privacy: the Bitstring Status List spec's minimum of 16 KiB (131,072 entries).
STATUS_LIST_SIZE = 131_072


class StatusListEntry(Base):
    """One credential's index in the status list of `purpose` (a certificate's or an
    awarded micro-credential's, exactly one of the two), given at random at issue or
    award; `is_set` is its bit (1 = suspended)."""

    __tablename__ = "status_list_entries"
    __table_args__ = (
        UniqueConstraint("purpose", "list_index"),
        CheckConstraint(f"list_index BETWEEN 0 AND {STATUS_LIST_SIZE - 1}",
                        name="list_index_range"),
        CheckConstraint("(certificate_id IS NULL) <> (staff_micro_credential_id IS NULL)",
                        name="one_credential"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    list_index: Mapped[int]
    certificate_id: Mapped[int | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="CASCADE"), unique=True)
    staff_micro_credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_micro_credentials.id", ondelete="CASCADE"), unique=True)
    is_set: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
