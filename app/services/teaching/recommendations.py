"""Recommendations: an instructor recommends a learner for a certificate of a course they
teach; it waits, pending, for an admin, carrying its supporting figures (progress on the
course, sessions attended and, for a teaching certificate, the average rating of the
sessions the learner ran)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificateType,
    Course,
    CourseProgress,
    CourseSession,
    Enrolment,
    NotificationType,
    ProgressStatus,
    SessionAttendance,
    User,
)
from app.models.base import utcnow
from app.services import audit
from app.services.certificates.queries import already_live, live_certificate
from app.services.context import Actor
from app.services.notifications import notify
from app.services.persistence import flush_or_raise
from app.services.teaching.instructors import require_instructor, require_learner_of

S = CertificateStatus


@dataclass(frozen=True)
class Supporting:
    progress_percent: float | None
    sessions_attended: int
    average_rating: float | None


def supporting_figures(learner: User, course: Course, type_: CertificateType) -> Supporting:
    """Progress on the course, sessions of it attended, and (teaching) the average rating
    of the sessions the learner ran."""
    progress = db.session.scalar(
        select(CourseProgress).join(Enrolment, Enrolment.id == CourseProgress.enrolment_id)
        .where(Enrolment.user_id == learner.id, CourseProgress.course_id == course.id))
    percent = None
    if progress is not None:
        percent = 100.0 if progress.status == ProgressStatus.COMPLETED else (
            50.0 if progress.status == ProgressStatus.IN_PROGRESS else 0.0)
    attended = db.session.scalar(
        select(func.count(SessionAttendance.id)).join(CourseSession)
        .where(SessionAttendance.user_id == learner.id, SessionAttendance.attended.is_(True),
               CourseSession.course_id == course.id)) or 0
    rating = None
    if type_ == CertificateType.TEACHING:
        rating = db.session.scalar(
            select(func.avg(SessionAttendance.rating)).join(CourseSession)
            .where(CourseSession.instructor_id == learner.id,
                   CourseSession.course_id == course.id, SessionAttendance.rating.is_not(None)))
    return Supporting(percent, int(attended), round(float(rating), 2) if rating else None)


def recommend(actor: Actor, course: Course, learner: User,
              type_: CertificateType = CertificateType.COMPLETION,
              notes: str | None = None) -> Certificate:
    """An instructor recommends a certificate: it waits, pending, for an admin.

    Raises ValidationFailed (not an instructor; the learner is the instructor or not
    enrolled in the course's track) and Conflict (already live).
    """
    instructor = require_instructor(actor.user, course)
    require_learner_of(course, learner, instructor)
    if live_certificate(learner.id, course.id, None, type_) is not None:
        raise already_live()
    figures = supporting_figures(learner, course, type_)
    certificate = Certificate(
        type=type_, status=S.PENDING, recipient_id=learner.id, course_id=course.id,
        live_key=Certificate.make_live_key(learner.id, course.id, None, type_),
        recommended_by_id=instructor.id, recommended_at=utcnow(),
        notes=(notes or "").strip() or None, progress_percent=figures.progress_percent,
        sessions_attended=figures.sessions_attended, average_rating=figures.average_rating)
    flush_or_raise(already_live(), add=[certificate])
    audit.record(actor, AuditAction.CREATE, "certificate", certificate.id,
                 {"type": type_.value, "status": "PENDING", "recipient_id": learner.id,
                  "course_id": course.id, "recommended_by": instructor.id})
    notify(learner, NotificationType.CERTIFICATE_PENDING, f"Recommended: {course.title}",
           f"{instructor.name} recommended you for a {type_.label.lower()} certificate.",
           link="/me")
    return certificate
