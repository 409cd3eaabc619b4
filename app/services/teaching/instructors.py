"""Who teaches: a user with an issued, unexpired TEACHING certificate for a course is an
instructor of it (and only an instructor runs its sessions or recommends its learners)."""

from __future__ import annotations

from sqlalchemy import or_, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    Course,
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
