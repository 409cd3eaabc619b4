"""Who teaches: a user with an issued, unexpired TEACHING certificate for a course is an
instructor of it (and only an instructor runs its sessions or recommends its learners)."""

from __future__ import annotations

from sqlalchemy import exists, or_, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    Course,
    Enrolment,
    User,
)
from app.services.certificates.queries import live_certificate
from app.services.certificates.status import is_expired
from app.services.dates import today
from app.services.errors import ValidationFailed

S = CertificateStatus


def is_instructor(user: User, course: Course) -> bool:
    """An issued, unexpired TEACHING certificate for the course makes an instructor."""
    certificate = live_certificate(user.id, course.id, None, CertificateType.TEACHING)
    return (certificate is not None and certificate.status == S.ISSUED
            and not is_expired(certificate))


def taught_courses(user: User) -> list[Course]:
    on = today()
    return list(db.session.scalars(
        select(Course).join(Certificate, Certificate.course_id == Course.id)
        .where(Certificate.recipient_id == user.id, Certificate.type == CertificateType.TEACHING,
               Certificate.status == S.ISSUED,
               or_(Certificate.expires_at.is_(None), Certificate.expires_at >= on))
        .order_by(Course.title)))


def require_instructor(user: User | None, course: Course) -> User:
    if user is None or not is_instructor(user, course):
        raise ValidationFailed("Only an instructor of this course (an active teaching "
                               "certificate) can do that.")
    return user


def require_learner_of(course: Course, learner: User, instructor: User | None) -> User:
    """Attendance and recommendations are for the course's learners: people enrolled in
    its track, never the instructor themselves. Raises ValidationFailed."""
    if instructor is not None and learner.id == instructor.id:
        raise ValidationFailed("You cannot do that for yourself: another instructor or an "
                               "admin does.", fields={"user_id": ["Not yourself."]})
    enrolled = db.session.scalar(select(exists().where(
        Enrolment.user_id == learner.id, Enrolment.track_id == course.track_id)))
    if not enrolled:
        raise ValidationFailed(f"{learner.name} is not enrolled in {course.track.name}: only "
                               "its learners can attend or be recommended.",
                               fields={"user_id": ["Not enrolled in this course's track."]})
    return learner
