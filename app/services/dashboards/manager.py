"""The manager's dashboard: per active track the enrolment funnel and the quiz figures,
and the implementation projects going live soon against their readiness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    CertificationTrack,
    Course,
    CourseProgress,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    QuizAttempt,
)
from app.services.dates import utc_midnight
from app.services.training.projects import ProjectStatus, project_status

P = ProgressStatus


@dataclass(frozen=True)
class Funnel:
    track_id: int
    track_name: str
    enrolled: int = 0
    in_progress: int = 0
    completed: int = 0


def track_funnels() -> list[Funnel]:
    """Enrolled / in progress / completed per active track, in one grouped query over
    the (track_id, status) index."""
    rows = db.session.execute(
        select(CertificationTrack.id, CertificationTrack.name, Enrolment.status,
               func.count(Enrolment.id))
        .outerjoin(Enrolment, Enrolment.track_id == CertificationTrack.id)
        .where(CertificationTrack.active.is_(True))
        .group_by(CertificationTrack.id, CertificationTrack.name, Enrolment.status)
        .order_by(CertificationTrack.name, CertificationTrack.id)).all()
    names: dict[int, str] = {}
    counts: dict[int, dict[ProgressStatus, int]] = {}
    for track_id, name, status, n in rows:
        names[track_id] = name
        if status is not None:
            counts.setdefault(track_id, {})[status] = n
    return [Funnel(t, name, sum(counts.get(t, {}).values()),
                   counts.get(t, {}).get(P.IN_PROGRESS, 0), counts.get(t, {}).get(P.COMPLETED, 0))
            for t, name in names.items()]


@dataclass(frozen=True)
class QuizFigures:
    track_id: int
    track_name: str
    attempts: int
    passed: int

    @property
    def pass_rate(self) -> int:
        return round(100 * self.passed / self.attempts) if self.attempts else 0


QUIZ_WINDOW_DAYS = 365


def quiz_figures(today: date) -> list[QuizFigures]:
    """Quiz attempts submitted in the last year and how many passed, per active track."""
    since = utc_midnight(today - timedelta(days=QUIZ_WINDOW_DAYS - 1))
    rows = db.session.execute(
        select(CertificationTrack.id, CertificationTrack.name, func.count(QuizAttempt.id),
               func.sum(case((QuizAttempt.passed.is_(True), 1), else_=0)))
        .join(CourseProgress, CourseProgress.id == QuizAttempt.course_progress_id)
        .join(Course, Course.id == CourseProgress.course_id)
        .join(CertificationTrack, CertificationTrack.id == Course.track_id)
        .where(QuizAttempt.submitted_at >= since, CertificationTrack.active.is_(True))
        .group_by(CertificationTrack.id, CertificationTrack.name)
        .order_by(CertificationTrack.name)).all()
    return [QuizFigures(t, name, int(n), int(p or 0)) for t, name, n, p in rows]


@dataclass(frozen=True)
class Readiness:
    status: ProjectStatus
    days_left: int
    complete: int  # assignments with their completions
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.complete / self.total) if self.total else 0


PROJECT_HORIZON_DAYS = 180
PROJECT_LIMIT = 12


def projects_going_live(today: date) -> list[Readiness]:
    """Projects whose go-live date is in the next six months (soonest first, at most
    twelve), each with its readiness on that date."""
    projects = db.session.scalars(
        select(ImplementationProject).options(joinedload(ImplementationProject.organization))
        .where(ImplementationProject.go_live_date >= today,
               ImplementationProject.go_live_date
               <= today + timedelta(days=PROJECT_HORIZON_DAYS))
        .order_by(ImplementationProject.go_live_date, ImplementationProject.id)
        .limit(PROJECT_LIMIT)).all()
    out = []
    for project in projects:
        status = project_status(project, today)
        assert project.go_live_date is not None
        out.append(Readiness(status, (project.go_live_date - today).days,
                             sum(1 for a in status.assignments if a.is_complete),
                             len(status.assignments)))
    return out
