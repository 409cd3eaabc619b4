"""Certification tracks: the catalogue (search, pickers, create, update, deactivate) and
version bumps. A minor bump keeps holders certified; a major bump sends every holder
back to re-certify (enrolment IN_PROGRESS again, course progress restarted with a fresh
attempt allowance) and tells them so. Their certificates of the older major version stay
valid for the track's `recertification_grace_days` (0: none) after the bump, then say
RECERTIFICATION_REQUIRED (app/services/certificates/status.py decides, at read time);
completing the new version yields a new certificate that supersedes the old one.
`set_fields` is the one way a track's or course's editable fields are written (each
checked by its rule in app/services/fields.py: text trimmed, an emptied optional field
is no value)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
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
from app.services.certificates.status import recertification_due_on, verification_status
from app.services.context import Actor
from app.services.errors import Conflict, NotFound
from app.services.notifications import NewNotification, notify_many
from app.services.sorting import Ascending, Sort, Sorting
from app.services.transitions import transition

P = ProgressStatus
TRACK_FIELDS = ("name", "description", "audience", "level", "active", "required_for_go_live",
                "estimated_hours", "validity_months", "recertification_grace_days", "auto_issue")
MAX_GRACE_DAYS = 3650
# The TrackForm's limits, checked again here for every caller.
TRACK_RULES: dict[str, fields.Rule] = {
    "name": fields.rule(fields.text, max_len=200),
    "description": fields.rule(fields.optional_text, max_len=5000, multiline=True),
    "audience": fields.rule(fields.choice, enum_cls=TrackAudience),
    "level": fields.rule(fields.choice, enum_cls=TrackLevel),
    "active": fields.boolean,
    "required_for_go_live": fields.boolean,
    "auto_issue": fields.boolean,
    "estimated_hours": fields.rule(fields.optional_integer, min=1, max=1000,
                                   message="From 1 to 1000 hours."),
    "validity_months": fields.rule(fields.optional_integer, min=1, max=600,
                                   message="From 1 to 600 months, or empty."),
    # Emptied: 0 (no grace).
    "recertification_grace_days": fields.rule(fields.optional_integer, min=0,
                                              max=MAX_GRACE_DAYS,
                                              message="From 0 to 3650 days."),
}


def get_track(track_id: int) -> CertificationTrack:
    """Raises NotFound."""
    track = db.session.get(CertificationTrack, track_id)
    if track is None:
        raise NotFound("Track not found.")
    return track


_ACTIVE_FIRST = Ascending(CertificationTrack.active.is_(False))
_NAME = Ascending(func.lower(CertificationTrack.name))
#: The tracks list's sorts (?sort=name|audience|level|hours|validity), archived
#: tracks after active ones whichever the sort; levels Foundation to Advanced.
SORTS = Sorting({
    "name": (_ACTIVE_FIRST, func.lower(CertificationTrack.name)),
    "audience": (_ACTIVE_FIRST, CertificationTrack.audience, _NAME),
    "level": (_ACTIVE_FIRST, case({level: n for n, level in enumerate(TrackLevel)},
                                  value=CertificationTrack.level), _NAME),
    "hours": (_ACTIVE_FIRST, CertificationTrack.estimated_hours, _NAME),
    "validity": (_ACTIVE_FIRST, CertificationTrack.validity_months, _NAME),
}, default="name", tiebreak=CertificationTrack.id)


def search_tracks(q: str = "", *, active: bool | None = None, audience: str = "",
                  sort: Sort | None = None) -> Select[tuple[CertificationTrack]]:
    stmt = (sort or SORTS.default_sort()).apply(select(CertificationTrack))
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


def _grace_default(values: dict[str, Any]) -> dict[str, Any]:
    if "recertification_grace_days" in values and values["recertification_grace_days"] in (
            None, ""):
        return {**values, "recertification_grace_days": 0}
    return values


def create_track(actor: Actor, **values: Any) -> CertificationTrack:
    """Raises ValidationFailed."""
    track = CertificationTrack(recertification_grace_days=0)
    set_fields(track, TRACK_RULES, _grace_default(values), creating=True,
               required=("name", "audience"))
    db.session.add(track)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "track", track.id,
                 {**audit.snapshot(track, TRACK_FIELDS), "version": track.version})
    return track


def update_track(track: CertificationTrack, actor: Actor, **values: Any) -> CertificationTrack:
    """Raises ValidationFailed, changing nothing."""
    before = audit.snapshot(track, TRACK_FIELDS)
    set_fields(track, TRACK_RULES, _grace_default(values))
    db.session.flush()
    changes = audit.changes_between(before, audit.snapshot(track, TRACK_FIELDS))
    if changes:
        action = AuditAction.UPDATE
        if set(changes) == {"active"}:
            action = AuditAction.REACTIVATE if track.active else AuditAction.DEACTIVATE
        audit.record(actor, action, "track", track.id, changes)
    return track


def bump_version(track: CertificationTrack, actor: Actor, *, major: bool,
                 from_version: str | None = None) -> int:
    """A minor bump keeps holders certified; a major bump sends every holder back to
    re-certify: their enrolment returns to IN_PROGRESS, course progress restarts (with a
    fresh attempt allowance), the track records when its major version changed, and every
    holder (a completed enrolment or an issued certificate of the track) is notified
    (RECERTIFICATION_REQUIRED, through notify_many, once per holder and version), told
    until when their certificate stays valid. Returns how many must re-certify.

    `from_version` (the version the manager saw): Conflict if the track is no longer at
    it. The bump is a conditional UPDATE of the version the track was read at, so a
    double-click or two managers at once bump it once; the other gets Conflict."""
    old = track.version
    if from_version is not None and from_version.strip() != old:
        raise Conflict(f"{track.name} is at version {old} already; reload to see it.")
    holders: list[int] = []
    now = utcnow()
    same_version = [CertificationTrack.version_major == track.version_major,
                    CertificationTrack.version_minor == track.version_minor]

    def refused(moved: CertificationTrack) -> str:
        return f"{moved.name} moved to version {moved.version} a moment ago; reload."

    if major:
        transition(track, to=track.version_major + 1, expected=[track.version_major],
                   column="version_major", where=same_version[1:],
                   values={"version_minor": 0, "major_version_changed_at": now,
                           "updated_at": now}, refused=refused)
        holders = sorted(set(db.session.scalars(select(Enrolment.user_id).where(
            Enrolment.track_id == track.id, Enrolment.status == P.COMPLETED))) | set(
            db.session.scalars(select(Certificate.recipient_id).where(
                Certificate.track_id == track.id, Certificate.course_id.is_(None),
                Certificate.status == CertificateStatus.ISSUED))))
        completed = select(Enrolment.id).where(Enrolment.track_id == track.id,
                                               Enrolment.status == P.COMPLETED)
        db.session.execute(
            update(CourseProgress).where(CourseProgress.enrolment_id.in_(completed))
            .values(status=P.NOT_STARTED, completed_at=None, exam_score=None, exam_attempts=0,
                    extra_attempts=0,  # a new cycle: grants of the old one go too
                    attempt_cycle=CourseProgress.attempt_cycle + 1)
            .execution_options(synchronize_session=False))
        db.session.execute(
            update(Enrolment).where(Enrolment.track_id == track.id,
                                    Enrolment.status == P.COMPLETED)
            .values(status=P.IN_PROGRESS, updated_at=utcnow())
            .execution_options(synchronize_session=False))
        db.session.expire_all()
        grace = track.recertification_grace_days or 0
        until = ("Your certificate of the earlier version is no longer valid for the "
                 "current one." if not grace else
                 "Your certificate of the earlier version stays valid until "
                 f"{(now.date() + timedelta(days=grace)).isoformat()}.")
        notify_many([NewNotification(
            user_id, NotificationType.RECERTIFICATION_REQUIRED,
            f"Re-certify: {track.name} {track.version}",
            f"{track.name} has a new major version ({track.version}). {until} Complete its "
            "courses again to stay certified.", f"/learn/tracks/{track.id}",
            f"recertify:{track.id}:{track.version}:{user_id}") for user_id in holders])
    else:
        transition(track, to=track.version_minor + 1, expected=[track.version_minor],
                   column="version_minor", where=same_version[:1],
                   values={"updated_at": now}, refused=refused)
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "track", track.id,
                 {"version": [old, track.version], "recertify": len(holders)})
    return len(holders)


def recertification_holders(track: CertificationTrack,
                            limit: int = 200) -> list[tuple[Certificate, str, Any]]:
    """The issued certificates of this track covering an older major version, with their
    standing (RECERTIFICATION_REQUIRED, or VALID/EXPIRED during the grace period) and the
    day re-certification is due: (certificate, standing, due date), oldest version first."""
    # Not of the current major version (none can be of a later one): "1.4", not "2.%".
    rows = db.session.scalars(
        select(Certificate).options(joinedload(Certificate.recipient))
        .where(Certificate.track_id == track.id, Certificate.course_id.is_(None),
               Certificate.status == CertificateStatus.ISSUED,
               Certificate.track_version.is_not(None),
               Certificate.track_version.not_like(f"{track.version_major}.%"))
        .order_by(Certificate.id).limit(limit))  # the oldest issued first
    held = []
    for certificate in rows:
        due = recertification_due_on(certificate)
        if due is not None:
            held.append((certificate, verification_status(certificate), due))
    # By version as numbers ("9.2" before "10.0", which text order would not give).
    return sorted(held, key=lambda row: (_version_key(row[0].track_version), row[0].id))


def _version_key(version: str | None) -> tuple[int, int]:
    major, _, minor = (version or "0.0").partition(".")
    return (int(major) if major.isdigit() else 0, int(minor) if minor.isdigit() else 0)
