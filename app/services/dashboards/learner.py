"""A learner's "due next" on /me: the next course of each track they are taking (with
their organization's due date for it, if a project sets one), and their credentials and
certificates expiring within 90 days, soonest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CredentialStatus,
    Enrolment,
    ImplementationProject,
    MicroCredentialDefinition,
    ProgressStatus,
    StaffMicroCredential,
    TrainingAssignment,
    User,
)

SOON_DAYS = 90


@dataclass(frozen=True)
class Due:
    kind: Literal["course", "credential", "certificate"]
    title: str  # what to do
    context: str  # where it belongs (the track, the credential's body)
    due: date | None  # by when (a project's due date, an expiry)
    course_id: int | None = None
    certificate_id: int | None = None
    track_id: int | None = None
    done: int = 0  # the track's required courses completed
    required: int = 0


def _next_course(enrolment: Enrolment) -> tuple[object | None, int, int]:
    """The first required course not completed (in the track's order), and how many of
    the required courses are done."""
    completed = {p.course_id for p in enrolment.course_progress
                 if p.status == ProgressStatus.COMPLETED}
    required = [c for c in enrolment.track.courses if c.required]
    pending = [c for c in required if c.id not in completed]
    return (pending[0] if pending else None), len(required) - len(pending), len(required)


def due_next(user: User, enrolments: list[Enrolment], today: date) -> list[Due]:
    """`enrolments`: the learner's (training.learner_enrolments, courses and progress
    loaded). Dated items first, soonest first; then the undated courses."""
    due_dates: dict[int, date] = {}
    if user.organization_id is not None:
        due_dates = dict(db.session.execute(
            select(TrainingAssignment.track_id, func.min(TrainingAssignment.due_date))
            .join(ImplementationProject,
                  ImplementationProject.id == TrainingAssignment.project_id)
            .where(ImplementationProject.organization_id == user.organization_id,
                   TrainingAssignment.target_role.in_(["any", user.role.value]),
                   TrainingAssignment.due_date.is_not(None))
            .group_by(TrainingAssignment.track_id)).all())
    items: list[Due] = []
    for enrolment in enrolments:
        if enrolment.status == ProgressStatus.COMPLETED:
            continue
        course, done, required = _next_course(enrolment)
        if course is None:
            continue
        items.append(Due("course", course.title, enrolment.track.name,  # type: ignore[attr-defined]
                         due_dates.get(enrolment.track_id), course_id=course.id,  # type: ignore[attr-defined]
                         track_id=enrolment.track_id, done=done, required=required))
    until = today + timedelta(days=SOON_DAYS)
    for title, body, expiry in db.session.execute(
            select(MicroCredentialDefinition.title, MicroCredentialDefinition.issuing_body,
                   StaffMicroCredential.expiry_date)
            .join(MicroCredentialDefinition,
                  MicroCredentialDefinition.id == StaffMicroCredential.definition_id)
            .where(StaffMicroCredential.user_id == user.id,
                   StaffMicroCredential.status == CredentialStatus.AWARDED,
                   StaffMicroCredential.expiry_date <= until)):
        items.append(Due("credential", title, body, expiry))
    for certificate in db.session.scalars(
            select(Certificate).where(Certificate.recipient_id == user.id,
                                      Certificate.status == CertificateStatus.ISSUED,
                                      Certificate.expires_at >= today,
                                      Certificate.expires_at <= until)):
        items.append(Due("certificate", certificate.number or "Certificate",
                         (certificate.snapshot or {}).get("subject", ""), certificate.expires_at,
                         certificate_id=certificate.id))
    return sorted(items, key=lambda d: (d.due is None, d.due or date.max, d.title))
