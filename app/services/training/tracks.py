"""Certification tracks: the catalogue (search, pickers, create, update, deactivate) and
version bumps. A minor bump keeps holders certified; a major bump sends every holder
back to re-certify (enrolment IN_PROGRESS again, course progress restarted with a fresh
attempt allowance) and tells them so. `set_fields` is the one way a track's or course's
editable fields are written (each checked by its rule in app/services/fields.py: text
trimmed, an emptied optional field is no value)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select, update

from app.extensions import db
from app.models import (
    AuditAction,
    CertificationTrack,
    CourseProgress,
    Enrolment,
    NotificationType,
    ProgressStatus,
    TrackAudience,
    TrackLevel,
)
from app.models.base import utcnow
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import NotFound
from app.services.notifications import NewNotification, notify_many

P = ProgressStatus
TRACK_FIELDS = ("name", "description", "audience", "level", "active", "required_for_go_live",
                "estimated_hours", "validity_months")
# The TrackForm's limits, checked again here for every caller.
TRACK_RULES: dict[str, fields.Rule] = {
    "name": fields.rule(fields.text, max_len=200),
    "description": fields.rule(fields.optional_text, max_len=5000, multiline=True),
    "audience": fields.rule(fields.choice, enum_cls=TrackAudience),
    "level": fields.rule(fields.choice, enum_cls=TrackLevel),
    "active": fields.boolean,
    "required_for_go_live": fields.boolean,
    "estimated_hours": fields.rule(fields.optional_integer, min=1, max=1000,
                                   message="From 1 to 1000 hours."),
    "validity_months": fields.rule(fields.optional_integer, min=1, max=600,
                                   message="From 1 to 600 months, or empty."),
}


def get_track(track_id: int) -> CertificationTrack:
    """Raises NotFound."""
    track = db.session.get(CertificationTrack, track_id)
    if track is None:
        raise NotFound("Track not found.")
    return track


def search_tracks(q: str = "", *, active: bool | None = None,
                  audience: str = "") -> Select[tuple[CertificationTrack]]:
    stmt = select(CertificationTrack).order_by(CertificationTrack.active.desc(),
                                               CertificationTrack.name)
    if q.strip():
        stmt = stmt.where(func.lower(CertificationTrack.name).contains(q.strip().lower(),
                                                                      autoescape=True))
    if active is not None:
        stmt = stmt.where(CertificationTrack.active.is_(active))
    if audience:
        stmt = stmt.where(CertificationTrack.audience == audience)
    return stmt


def track_choices() -> list[tuple[int, str]]:
    """Active tracks as (id, name), for pickers."""
    return [(t.id, t.name) for t in db.session.scalars(search_tracks(active=True))]


def set_fields(obj: Any, rules: Mapping[str, fields.Rule], values: dict[str, Any], *,
               creating: bool = False, required: tuple[str, ...] = ()) -> None:
    """Check every value with its field's rule (text trimmed, an emptied optional field
    is no value), then set them all; raises ValidationFailed listing every bad field,
    setting nothing. A field without a rule is a ValueError."""
    for name, value in fields.clean(values, rules, creating=creating,
                                    required=required).items():
        setattr(obj, name, value)


def create_track(actor: Actor, **values: Any) -> CertificationTrack:
    """Raises ValidationFailed."""
    track = CertificationTrack()
    set_fields(track, TRACK_RULES, values, creating=True, required=("name", "audience"))
    db.session.add(track)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "track", track.id,
                 {**audit.snapshot(track, TRACK_FIELDS), "version": track.version})
    return track


def update_track(track: CertificationTrack, actor: Actor, **values: Any) -> CertificationTrack:
    """Raises ValidationFailed, changing nothing."""
    before = audit.snapshot(track, TRACK_FIELDS)
    set_fields(track, TRACK_RULES, values)
    db.session.flush()
    changes = audit.changes_between(before, audit.snapshot(track, TRACK_FIELDS))
    if changes:
        action = AuditAction.UPDATE
        if set(changes) == {"active"}:
            action = AuditAction.REACTIVATE if track.active else AuditAction.DEACTIVATE
        audit.record(actor, action, "track", track.id, changes)
    return track


def bump_version(track: CertificationTrack, actor: Actor, *, major: bool) -> int:
    """A minor bump keeps holders certified; a major bump sends every holder back to
    re-certify: their enrolment returns to IN_PROGRESS, course progress restarts (with a
    fresh attempt allowance) and they are notified. Returns how many must re-certify."""
    old = track.version
    holders: list[int] = []
    if major:
        track.version_major += 1
        track.version_minor = 0
        holders = list(db.session.scalars(select(Enrolment.user_id).where(
            Enrolment.track_id == track.id, Enrolment.status == P.COMPLETED)))
        completed = select(Enrolment.id).where(Enrolment.track_id == track.id,
                                               Enrolment.status == P.COMPLETED)
        db.session.execute(
            update(CourseProgress).where(CourseProgress.enrolment_id.in_(completed))
            .values(status=P.NOT_STARTED, completed_at=None, exam_score=None, exam_attempts=0,
                    attempt_cycle=CourseProgress.attempt_cycle + 1)
            .execution_options(synchronize_session=False))
        db.session.execute(
            update(Enrolment).where(Enrolment.track_id == track.id,
                                    Enrolment.status == P.COMPLETED)
            .values(status=P.IN_PROGRESS, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        db.session.expire_all()
        notify_many([NewNotification(
            user_id, NotificationType.RECERTIFICATION_REQUIRED,
            f"Re-certify: {track.name} {track.version}",
            f"{track.name} has a new major version ({track.version}). Complete its courses "
            "again to stay certified.", f"/learn/tracks/{track.id}",
            f"recertify:{track.id}:{track.version}:{user_id}") for user_id in holders])
    else:
        track.version_minor += 1
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "track", track.id,
                 {"version": [old, track.version], "recertify": len(holders)})
    return len(holders)
