"""The job outbox: background work written in the transaction that needs it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow

MAX_ATTEMPTS = 8  # a new row's tries before it is failed for good (~2 h of backoff)
MAX_ATTEMPTS_LIMIT = 50  # the CHECK's bound on a row's max_attempts


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"          # committed, not yet on RQ (or Redis was away)
    DISPATCHING = "dispatching"  # claimed by one dispatcher, being put on RQ
    DISPATCHED = "dispatched"    # on RQ as job `rq_job_id`
    DONE = "done"                # ran inline (no REDIS_URL)
    FAILED = "failed"            # failed max_attempts times (raised inline, or its job
                                 # name did not import): failed for good, see last_error;
                                 # an admin's Retry gives it one more attempt


class JobOutbox(Base):
    """One job asked for by a committed transaction: its dotted name, its arguments
    (JSON) and RQ options. A row is put on RQ once: whoever moves it from pending to
    dispatching (a conditional UPDATE) enqueues it under its own `job_key` as RQ job id.

    An attempt that fails (the job raised inline, or this dispatcher cannot import its
    name: a rolling deploy's newer job) sends the row back to pending, due again at
    `next_attempt_at` (exponential backoff); after `max_attempts` it is failed for good."""

    __tablename__ = "job_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'dispatching', 'dispatched', 'done', 'failed')",
                        name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        CheckConstraint(f"max_attempts BETWEEN 1 AND {MAX_ATTEMPTS_LIMIT}",
                        name="max_attempts_range"),
        CheckConstraint("attempts <= max_attempts", name="attempts_within_max"),
        Index("ix_job_outbox_status_id", "status", "id"),
        # The dispatcher's claim: pending rows due by now, the soonest first.
        Index("ix_job_outbox_due", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The RQ job id this row is enqueued under (unique, random): a second dispatch of a
    # row that reached Redis finds the job there instead of queueing it again.
    job_key: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)  # tries of this row's job so far
    max_attempts: Mapped[int] = mapped_column(default=MAX_ATTEMPTS)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)  # due from then
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    rq_job_id: Mapped[str | None] = mapped_column(String(40))
