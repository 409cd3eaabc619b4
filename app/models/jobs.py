"""The job outbox: background work written in the transaction that needs it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"          # committed, not yet on RQ (or Redis was away)
    DISPATCHING = "dispatching"  # claimed by one dispatcher, being put on RQ
    DISPATCHED = "dispatched"    # on RQ as job `rq_job_id`
    DONE = "done"                # ran inline (no REDIS_URL)
    FAILED = "failed"            # ran inline and raised, or can never be queued (its
                                 # job name no longer imports): see last_error


class JobOutbox(Base):
    """One job asked for by a committed transaction: its dotted name, its arguments
    (JSON) and RQ options. A row is put on RQ once: whoever moves it from pending to
    dispatching (a conditional UPDATE) enqueues it under its own `job_key` as RQ job id."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dispatching', 'dispatched', 'done', 'failed')",
                        name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_job_outbox_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The RQ job id this row is enqueued under (unique, random): a second dispatch of a
    # row that reached Redis finds the job there instead of queueing it again.
    job_key: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    rq_job_id: Mapped[str | None] = mapped_column(String(40))
