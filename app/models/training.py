"""Training: certification tracks of courses (with quizzes), enrolments and progress,
implementation projects and the training they require before go-live."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, not_blank, utcnow
from app.models.users import Organization, User


def _enum(cls: type[enum.Enum], length: int = 24) -> Enum:
    return Enum(cls, native_enum=False, length=length)


class TrackAudience(enum.StrEnum):
    INTERNAL = "INTERNAL"
    CLIENT_ADMIN = "CLIENT_ADMIN"
    CLIENT_INVESTIGATOR = "CLIENT_INVESTIGATOR"
    CLIENT_EMPLOYEE = "CLIENT_EMPLOYEE"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class TrackLevel(enum.StrEnum):
    FOUNDATION = "FOUNDATION"
    INTERMEDIATE = "INTERMEDIATE"
    ADVANCED = "ADVANCED"

    @property
    def label(self) -> str:
        return self.value.title()


class ContentType(enum.StrEnum):
    VIDEO = "VIDEO"
    TEXT = "TEXT"
    INTERACTIVE = "INTERACTIVE"

    @property
    def label(self) -> str:
        return self.value.title()


class ProgressStatus(enum.StrEnum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class CertificationTrack(Base):
    __tablename__ = "certification_tracks"
    __table_args__ = (
        Index("ix_certification_tracks_audience_active", "audience", "active"),
        not_blank("name"),
        CheckConstraint("version_major >= 1 AND version_minor >= 0", name="version_range"),
        CheckConstraint("estimated_hours >= 0", name="estimated_hours_range"),
        CheckConstraint("validity_months >= 0", name="validity_months_range"),
        CheckConstraint("recertification_grace_days BETWEEN 0 AND 3650",
                        name="recertification_grace_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    audience: Mapped[TrackAudience] = mapped_column(_enum(TrackAudience))
    level: Mapped[TrackLevel] = mapped_column(_enum(TrackLevel), default=TrackLevel.FOUNDATION)
    # major.minor: a major bump sends every holder back to re-certify.
    version_major: Mapped[int] = mapped_column(default=1)
    version_minor: Mapped[int] = mapped_column(default=0)
    # When the major version last changed (None: still 1.x), and how many days after it
    # certificates of an older major version stay valid (0: re-certify at once).
    major_version_changed_at: Mapped[datetime | None]
    recertification_grace_days: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)  # inactive: kept, hidden from learners
    required_for_go_live: Mapped[bool] = mapped_column(default=False)
    estimated_hours: Mapped[int | None]
    validity_months: Mapped[int | None]  # completions expire this long after completion
    # Completing the track issues its COMPLETION certificate at once (approved by the
    # system, audited as automatic) instead of leaving it pending for an admin.
    auto_issue: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # The live courses (what learners take and what completes the track); an archived
    # course keeps its history and shows only in `all_courses` (the manager's view).
    courses: Mapped[list[Course]] = relationship(
        primaryjoin="and_(CertificationTrack.id == Course.track_id, "
                    "Course.archived_at.is_(None))",
        order_by="Course.sort_order, Course.id", viewonly=True)
    all_courses: Mapped[list[Course]] = relationship(
        back_populates="track", order_by="Course.sort_order, Course.id")

    @property
    def version(self) -> str:
        return f"{self.version_major}.{self.version_minor}"


class Course(Base):
    """A unit of a track; with `has_exam`, its quiz lives here too (questions as JSON)."""

    __tablename__ = "courses"
    __table_args__ = (
        Index("ix_courses_track_id_sort_order", "track_id", "sort_order"),
        not_blank("title"),
        CheckConstraint("estimated_minutes >= 0", name="estimated_minutes_range"),
        CheckConstraint("sort_order >= 0", name="sort_order_range"),
        CheckConstraint("passing_score BETWEEN 0 AND 100", name="passing_score_range"),
        CheckConstraint("attempt_limit >= 1", name="attempt_limit_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("certification_tracks.id",
                                                     ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[ContentType] = mapped_column(_enum(ContentType), default=ContentType.TEXT)
    content_url: Mapped[str | None] = mapped_column(String(500))
    content_body: Mapped[str | None] = mapped_column(Text)
    estimated_minutes: Mapped[int | None]
    sort_order: Mapped[int] = mapped_column(default=0)
    required: Mapped[bool] = mapped_column(default=True)
    has_exam: Mapped[bool] = mapped_column(default=False)
    passing_score: Mapped[int] = mapped_column(default=80)  # percent
    # [{"id", "type": single|multiple|true_false, "prompt", "options": [...],
    #   "correct": [option indexes], "explanation"}]
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    attempt_limit: Mapped[int | None]  # None: unlimited
    # Archived: hidden from learners and new enrolments, no longer counted toward the
    # track; its progress, attempts and certificates stay. None: live.
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    track: Mapped[CertificationTrack] = relationship(back_populates="all_courses")

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Enrolment(Base):
    """A learner on a track (the seeds' TrainingProgress)."""

    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("user_id", "track_id"),
        Index("ix_enrolments_track_id_status", "track_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    track_id: Mapped[int] = mapped_column(ForeignKey("certification_tracks.id",
                                                     ondelete="CASCADE"))
    status: Mapped[ProgressStatus] = mapped_column(_enum(ProgressStatus),
                                                   default=ProgressStatus.NOT_STARTED)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_version: Mapped[str | None] = mapped_column(String(20))
    expires_at: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()
    track: Mapped[CertificationTrack] = relationship()
    course_progress: Mapped[list[CourseProgress]] = relationship(
        back_populates="enrolment", cascade="all, delete-orphan")


class CourseProgress(Base):
    __tablename__ = "course_progress"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "course_id"),
        CheckConstraint("exam_score BETWEEN 0 AND 100", name="exam_score_range"),
        CheckConstraint("exam_attempts >= 0", name="exam_attempts_range"),
        CheckConstraint("attempt_cycle >= 0", name="attempt_cycle_range"),
        CheckConstraint("extra_attempts >= 0", name="extra_attempts_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"),
                                           index=True)
    status: Mapped[ProgressStatus] = mapped_column(_enum(ProgressStatus),
                                                   default=ProgressStatus.NOT_STARTED)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    exam_score: Mapped[float | None]  # best score, percent
    exam_attempts: Mapped[int] = mapped_column(default=0)  # in the current cycle
    # Bumped when a major version sends the learner back: attempts count afresh.
    attempt_cycle: Mapped[int] = mapped_column(default=0)
    # Attempts a manager granted on top of the course's limit (this cycle).
    extra_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enrolment: Mapped[Enrolment] = relationship(back_populates="course_progress")
    course: Mapped[Course] = relationship()


class QuizAttempt(Base):
    __tablename__ = "quiz_attempts"
    # The attempt number is unique per course progress and cycle: two submissions at
    # once cannot both become attempt N, so the attempt limit holds under a race.
    __table_args__ = (
        UniqueConstraint("course_progress_id", "cycle", "attempt_number"),
        CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
        CheckConstraint("attempt_number >= 1", name="attempt_number_range"),
        CheckConstraint("cycle >= 0", name="cycle_range"),
        # The manager dashboard's quiz figures read a year of attempts by this.
        Index("ix_quiz_attempts_submitted_at", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_progress_id: Mapped[int] = mapped_column(
        ForeignKey("course_progress.id", ondelete="CASCADE"))
    cycle: Mapped[int] = mapped_column(default=0)
    attempt_number: Mapped[int]
    track_version: Mapped[str] = mapped_column(String(20))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[float]
    passed: Mapped[bool]
    wrong_question_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    course_progress: Mapped[CourseProgress] = relationship()


class ImplementationProject(Base):
    """An organization's go-live."""

    __tablename__ = "implementation_projects"
    __table_args__ = (not_blank("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id",
                                                            ondelete="RESTRICT"), index=True)
    go_live_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship()
    assignments: Mapped[list[TrainingAssignment]] = relationship(
        back_populates="project", cascade="all, delete-orphan",
        order_by="TrainingAssignment.id")


# One name per organization's project: a double-clicked "Create project" makes one.
Index("uq_implementation_projects_org_name_lower", ImplementationProject.organization_id,
      func.lower(ImplementationProject.name), unique=True)


class TrainingAssignment(Base):
    __tablename__ = "training_assignments"
    __table_args__ = (
        UniqueConstraint("project_id", "track_id", "target_role"),
        CheckConstraint("required_completions >= 1", name="required_completions_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("implementation_projects.id",
                                                       ondelete="CASCADE"), index=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("certification_tracks.id",
                                                     ondelete="RESTRICT"))
    # A user role ("staff", "org_admin") whose completions count, or "any".
    target_role: Mapped[str] = mapped_column(String(20), default="any")
    required_completions: Mapped[int] = mapped_column(default=1)
    due_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[ImplementationProject] = relationship(back_populates="assignments")
    track: Mapped[CertificationTrack] = relationship()
