"""Bulk imports: a CSV of certificates to issue (kind "certificates") or of micro-credentials
to award (kind "awards"), previewed row by row, then carried out by a job (ISSUED is a
row done: a certificate issued, or a credential awarded).

An import is PREVIEW until an admin confirms it (QUEUED), then RUNNING while its job works
through the rows, then DONE (or FAILED when the job gave up). Each row keeps what it said
(normalised), its key (a SHA-256 of that content and the target) and its own status:
READY / INVITE (an unknown person, invited if the admin chooses) / INVALID / DUPLICATE
in the preview; PENDING once confirmed; ISSUED / SKIPPED / FAILED once the job has seen
it. `done_key` holds the row key once the row issued something: its unique constraint
means the same row, in this import or any other, issues once, race or not, while that
certificate is live: once it is revoked or superseded the next import issuing the row
clears the old row's `done_key` (the single-issue rule, nothing stricter).

A running import's job beats (`heartbeat_at`) with each batch it commits; `attempts`
counts the runs that took it (RQ's retries, Resume).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.users import User


class ImportStatus(enum.StrEnum):
    PREVIEW = "PREVIEW"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return self.value.title()


class RowStatus(enum.StrEnum):
    READY = "READY"          # preview: will be issued
    INVITE = "INVITE"        # preview: no account; issued if the admin invites them
    INVALID = "INVALID"      # preview: a rule refuses it (the message says which)
    DUPLICATE = "DUPLICATE"  # preview: already issued (by an earlier import or by hand)
    PENDING = "PENDING"      # confirmed, waiting for the job
    ISSUED = "ISSUED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return {"READY": "Ready", "INVITE": "Not registered", "INVALID": "Problem",
                "DUPLICATE": "Already issued"}.get(self.value, self.value.title())


class BulkImport(Base):
    __tablename__ = "bulk_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="certificates")
    status: Mapped[ImportStatus] = mapped_column(
        Enum(ImportStatus, native_enum=False, length=16), default=ImportStatus.PREVIEW)
    filename: Mapped[str | None] = mapped_column(String(200))
    total_rows: Mapped[int] = mapped_column(default=0)
    invite_unknown: Mapped[bool] = mapped_column(default=False)
    notify_recipients: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    heartbeat_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])


class BulkImportRow(Base):
    __tablename__ = "bulk_import_rows"
    __table_args__ = (
        UniqueConstraint("import_id", "line", name="uq_bulk_import_rows_import_line"),
        Index("ix_bulk_import_rows_import_id_status", "import_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("bulk_imports.id", ondelete="CASCADE"))
    line: Mapped[int]  # the CSV line (the header is line 1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    row_key: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[RowStatus] = mapped_column(Enum(RowStatus, native_enum=False, length=16))
    message: Mapped[str | None] = mapped_column(Text)
    # The row key once this row issued something (see the module docstring).
    done_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id",
                                                                  ondelete="SET NULL"))
    # An awards import's row (kind "awards", migration 0027): the credential it awarded.
    credential_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_micro_credentials.id", ondelete="SET NULL"), index=True)
    # A DUPLICATE or SKIPPED row: the import whose row issued the live certificate.
    issued_by_import_id: Mapped[int | None]
