"""Bulk action runs: a large "all matching" approve / reject / revoke on the certificate
list, done by a job (app.jobs.bulk_actions) that records how far it got.

A run is QUEUED when asked for, RUNNING while its job works (the job beats
`heartbeat_at` after every chunk it commits), then DONE, or FAILED when its retries are
exhausted or its heartbeat went stale (a killed worker). A FAILED run can be resumed
(back to QUEUED, the job queued again): it starts from `position`, and a certificate
acted on twice is counted "already" by its own conditional UPDATE. `token` is the
unguessable part of its progress URL; the page is for admins only.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.users import User


class RunStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return self.value.title()


class BulkActionRun(Base):
    __tablename__ = "bulk_action_runs"
    __table_args__ = (Index("ix_bulk_action_runs_status_heartbeat_at", "status",
                            "heartbeat_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # approve, reject, revoke
    reason: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40), default="other")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id",
                                                                   ondelete="SET NULL"))
    requested_ip: Mapped[str | None] = mapped_column(String(64))
    # The list's filters when it was asked for, and the ids they matched then.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[RunStatus] = mapped_column(
        Enum(RunStatus, native_enum=False, length=16), default=RunStatus.QUEUED)
    position: Mapped[int] = mapped_column(default=0)  # ids[:position] are done
    total: Mapped[int] = mapped_column(default=0)
    done_count: Mapped[int] = mapped_column(default=0)
    already_count: Mapped[int] = mapped_column(default=0)
    refused_count: Mapped[int] = mapped_column(default=0)
    refusals: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # message: count
    summary: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
