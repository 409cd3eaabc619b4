"""Enrolment: a learner enrols in an active track once (a progress row per course, the
unique (user, track) index deciding races) and is told when someone else enrolled them;
the learner's enrolments, the tracks still open to them, and an enrolment's share of
required courses completed."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    CertificationTrack,
    CourseProgress,
    Enrolment,
    NotificationType,
    ProgressStatus,
    User,
)
from app.services import audit
from app.services.context import Actor
from app.services.errors import Conflict, ValidationFailed
from app.services.notifications import notify
from app.services.persistence import flush_or_raise

P = ProgressStatus


def find_enrolment(user_id: int, track_id: int) -> Enrolment | None:
    return db.session.scalar(select(Enrolment).where(Enrolment.user_id == user_id,
                                                     Enrolment.track_id == track_id))


def enrol(user: User, track: CertificationTrack, actor: Actor) -> Enrolment:
    """Enrol a learner with a progress row per course.

    Raises ValidationFailed for an inactive track or account, Conflict when the learner
    is already enrolled (also when two requests race).
    """
    if not track.active:
        raise ValidationFailed("This track is not open for enrolment.")
    if not user.active:
        raise ValidationFailed("This account is inactive.")
    if not user.takes_part:
        raise ValidationFailed(f"{user.organization.name} is deactivated: its people cannot "
                               "be enrolled.")
    if find_enrolment(user.id, track.id) is not None:
        raise Conflict(f"{user.name} is already enrolled in {track.name}.")
    enrolment = Enrolment(user_id=user.id, track_id=track.id, status=P.NOT_STARTED)
    enrolment.course_progress = [CourseProgress(course_id=c.id) for c in track.courses]
    flush_or_raise(Conflict(f"{user.name} is already enrolled in {track.name}."),
                   add=[enrolment])
    audit.record(actor, AuditAction.CREATE, "enrolment", enrolment.id,
                 {"user_id": user.id, "track_id": track.id})
    if actor.user is None or actor.user.id != user.id:
        notify(user, NotificationType.TRAINING_ASSIGNED, f"Enrolled: {track.name}",
               f"You have been enrolled in {track.name}.", link=f"/learn/tracks/{track.id}")
    return enrolment



def percent_complete(enrolment: Enrolment) -> int:
    required = [c.id for c in enrolment.track.courses if c.required]
    if not required:
        return 0
    done = sum(1 for p in enrolment.course_progress
               if p.course_id in required and p.status == P.COMPLETED)
    return round(100 * done / len(required))


def learner_enrolments(user: User) -> list[Enrolment]:
    return list(db.session.scalars(
        select(Enrolment).join(Enrolment.track)
        .options(selectinload(Enrolment.track).selectinload(CertificationTrack.courses),
                 selectinload(Enrolment.course_progress))
        .where(Enrolment.user_id == user.id, CertificationTrack.active.is_(True))
        .order_by(CertificationTrack.name)))


def open_tracks(user: User) -> list[CertificationTrack]:
    """Active tracks the learner is not enrolled in."""
    enrolled = select(Enrolment.track_id).where(Enrolment.user_id == user.id)
    return list(db.session.scalars(
        select(CertificationTrack).where(CertificationTrack.active.is_(True),
                                         CertificationTrack.id.not_in(enrolled))
        .order_by(CertificationTrack.name)))



def enrol_many(track: CertificationTrack, user_ids: Iterable[int], actor: Actor) -> int:
    """Enrol several learners; those already enrolled are skipped. Returns how many new."""
    ids = list(user_ids)
    enrolled = set(db.session.scalars(select(Enrolment.user_id).where(
        Enrolment.track_id == track.id, Enrolment.user_id.in_(ids))))
    count = 0
    for user in db.session.scalars(select(User).where(User.id.in_(ids))):
        if user.id not in enrolled:
            enrol(user, track, actor)
            count += 1
    return count
