"""Courses of a track: create (at the end of the track, or at a given sort order), update,
reorder (the full list of the track's live course ids, exactly once each), move one step,
archive and restore, delete. A text course needs its text or a link; a video or
interactive course needs its URL.

Archive and delete (the rules):
- A course is deleted only while nothing refers to it: no learner has started it (no
  progress beyond "not started", no quiz attempt), no certificate names it and no
  session was scheduled for it. Otherwise the delete is refused (409) with a message
  offering to archive it instead.
- An archived course is hidden from learners and from new enrolments, no longer counts
  toward completing its track (learners who had every other required course done
  complete the track then), and keeps its history (progress, attempts, certificates).
  It can be restored; restoring does not undo completions earned while it was archived.
- Both are audited (DELETE; DEACTIVATE/REACTIVATE for archive/restore) and take effect
  once: the course row is locked first, so a second request at the same moment finds
  it gone (404) or already archived (409).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, exists, func, or_, select

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificationTrack,
    ContentType,
    Course,
    CourseProgress,
    CourseSession,
    Enrolment,
    ProgressStatus,
    QuizAttempt,
)
from app.models.base import utcnow
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.training.progress import roll_up
from app.services.training.tracks import set_fields
from app.services.transitions import lock

COURSE_FIELDS = ("title", "description", "content_type", "content_url", "content_body",
                 "estimated_minutes", "required", "has_exam", "passing_score", "attempt_limit")
# The CourseForm's limits, checked again here for every caller.
COURSE_RULES: dict[str, fields.Rule] = {
    "title": fields.rule(fields.text, max_len=200),
    "description": fields.rule(fields.optional_text, max_len=2000, multiline=True),
    "content_type": fields.rule(fields.choice, enum_cls=ContentType),
    "content_url": fields.rule(fields.url, max_len=500),
    "content_body": fields.rule(fields.optional_text, max_len=100_000, multiline=True),
    "estimated_minutes": fields.rule(fields.optional_integer, min=1, max=10_000,
                                     message="From 1 to 10000 minutes."),
    "required": fields.boolean,
    "has_exam": fields.boolean,
    "passing_score": fields.rule(fields.integer, min=1, max=100, message="From 1 to 100."),
    "attempt_limit": fields.rule(fields.optional_integer, min=1, max=100,
                                 message="From 1 to 100, or empty."),
    # Only the API sets it (seed 003's sortOrder); the page reorders with its controls.
    "sort_order": fields.rule(fields.integer, min=0, max=100_000,
                              message="From 0 to 100000."),
}


def get_course(course_id: int) -> Course:
    """Raises NotFound."""
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound("Course not found.")
    return course


def _check_content(course: Course) -> None:
    if course.content_type.value == "TEXT" and not (course.content_body or course.content_url):
        raise ValidationFailed("A text course needs its text (or a link).",
                               fields={"content_body": ["Write the course text."]})
    if course.content_type.value in ("VIDEO", "INTERACTIVE") and not course.content_url:
        message = "A video or interactive course needs its URL."
        raise ValidationFailed(message, fields={"content_url": [message]})


def create_course(track: CertificationTrack, actor: Actor, **values: Any) -> Course:
    """Adds the course at the end of the track (or at `sort_order`, ties in creation
    order). Raises ValidationFailed (a field's rule, content missing)."""
    last = db.session.scalar(select(func.max(Course.sort_order)).where(
        Course.track_id == track.id))
    course = Course(track_id=track.id, sort_order=(last or 0) + 1, questions=[])
    set_fields(course, COURSE_RULES, values, creating=True, required=("title",))
    _check_content(course)
    db.session.add(course)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "course", course.id,
                 {**audit.snapshot(course, COURSE_FIELDS), "track_id": track.id,
                  "sort_order": course.sort_order})
    db.session.expire(track, ["courses", "all_courses"])
    return course


def update_course(course: Course, actor: Actor, **values: Any) -> Course:
    """Raises ValidationFailed (a field's rule, content missing), changing nothing."""
    before = audit.snapshot(course, COURSE_FIELDS)
    set_fields(course, COURSE_RULES, values)
    _check_content(course)
    db.session.flush()
    changes = audit.changes_between(before, audit.snapshot(course, COURSE_FIELDS))
    if changes:
        audit.record(actor, AuditAction.UPDATE, "course", course.id, changes)
    return course


def reorder_courses(track: CertificationTrack, course_ids: Sequence[int], actor: Actor) -> None:
    """Set the order from the full list of the track's course ids.

    Raises ValidationFailed when the list is not exactly the track's courses (an id of
    another track, a missing or repeated one).
    """
    current = [c.id for c in track.courses]
    ids = [int(i) for i in course_ids]
    if sorted(ids) != sorted(current) or len(set(ids)) != len(ids):
        foreign = sorted(set(ids) - set(current))
        detail = f"Not courses of this track: {foreign}." if foreign else \
            "Send every course of the track exactly once."
        raise ValidationFailed(detail, fields={"ids": [detail]})
    by_id = {c.id: c for c in track.courses}
    for position, course_id in enumerate(ids, start=1):
        by_id[course_id].sort_order = position
    db.session.flush()
    db.session.expire(track, ["courses"])
    audit.record(actor, AuditAction.UPDATE, "track", track.id, {"course_order": [current, ids]})


def move_course(course: Course, direction: int, actor: Actor) -> None:
    """Swap a course with its neighbour (-1 up, +1 down); the htmx page's reorder.
    Raises Conflict for an archived course (restore it first)."""
    if course.archived:
        raise Conflict(f"{course.title} is archived: restore it to move it.")
    ids = [c.id for c in course.track.courses]
    index = ids.index(course.id)
    target = index + direction
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
        reorder_courses(course.track, ids, actor)


def _hold(course: Course) -> Course:
    """Lock the course row until the transaction ends; NotFound when a request a moment
    ago deleted it."""
    try:
        return lock(course)
    except NotFound:
        raise NotFound("This course was deleted a moment ago. Reload the page.") from None


def course_usage(course_ids: Sequence[int]) -> dict[int, str]:
    """Why each of these courses cannot be deleted (only the ones that cannot): started
    by a learner, named by a certificate, or taught in a session."""
    ids = list(course_ids)
    if not ids:
        return {}
    reasons: dict[int, str] = {}
    sessions = db.session.scalars(select(CourseSession.course_id).where(
        CourseSession.course_id.in_(ids)).distinct())
    for course_id in sessions:
        reasons[course_id] = "sessions were scheduled for it"
    certificates = db.session.scalars(select(Certificate.course_id).where(
        Certificate.course_id.in_(ids)).distinct())
    for course_id in certificates:
        reasons[course_id] = "certificates name it"
    attempted = exists().where(QuizAttempt.course_progress_id == CourseProgress.id)
    started = db.session.scalars(select(CourseProgress.course_id).where(
        CourseProgress.course_id.in_(ids),
        or_(CourseProgress.status != ProgressStatus.NOT_STARTED,
            CourseProgress.started_at.is_not(None), CourseProgress.exam_attempts > 0,
            attempted)).distinct())
    for course_id in started:
        reasons[course_id] = "learners have progress on it"
    return reasons


def _roll_up_track(track: CertificationTrack, actor: Actor) -> None:
    """After a course leaves the track: each unfinished enrolment is derived again (one
    whose only missing required course was this one completes now)."""
    db.session.expire(track, ["courses", "all_courses"])
    enrolments = db.session.scalars(select(Enrolment).where(
        Enrolment.track_id == track.id,
        Enrolment.status.in_([ProgressStatus.IN_PROGRESS, ProgressStatus.FAILED])))
    for enrolment in enrolments:
        lock(enrolment)
        db.session.expire(enrolment, ["course_progress"])
        roll_up(enrolment, actor)


def archive_course(course: Course, actor: Actor) -> Course:
    """Hide the course from learners and new enrolments and stop counting it toward the
    track; its history stays. Raises Conflict when it is archived already, NotFound when
    it was deleted a moment ago."""
    _hold(course)
    if course.archived:
        raise Conflict(f"{course.title} is archived already.")
    course.archived_at = utcnow()
    db.session.flush()
    audit.record(actor, AuditAction.DEACTIVATE, "course", course.id,
                 {"archived": [False, True], "track_id": course.track_id})
    _roll_up_track(course.track, actor)
    return course


def restore_course(course: Course, actor: Actor) -> Course:
    """Put an archived course back at the end of its track. Completions earned while it
    was archived stand. Raises Conflict when it is not archived."""
    _hold(course)
    if not course.archived:
        raise Conflict(f"{course.title} is not archived.")
    last = db.session.scalar(select(func.max(Course.sort_order)).where(
        Course.track_id == course.track_id, Course.archived_at.is_(None)))
    course.archived_at = None
    course.sort_order = (last or 0) + 1
    db.session.flush()
    db.session.expire(course.track, ["courses", "all_courses"])
    audit.record(actor, AuditAction.REACTIVATE, "course", course.id,
                 {"archived": [True, False], "track_id": course.track_id})
    return course


def delete_course(course: Course, actor: Actor) -> None:
    """Delete a course nothing refers to (see the module's rules). Raises Conflict (409)
    naming what refers to it and offering archive, NotFound when a request a moment ago
    deleted it."""
    _hold(course)
    reason = course_usage([course.id]).get(course.id)
    if reason is not None:
        raise Conflict(f"{course.title} cannot be deleted: {reason}. Archive it instead: "
                       "learners no longer see it and its history is kept.")
    track = course.track
    snapshot = {**audit.snapshot(course, COURSE_FIELDS), "track_id": track.id}
    course_id = course.id
    # Not-started progress rows (made at enrolment) go with it; only those: a learner's
    # first step does not lock the course row, so one taken since the check above stays
    # (the DELETE re-reads a row it waited for) and refuses the delete.
    db.session.execute(delete(CourseProgress).where(
        CourseProgress.course_id == course_id, CourseProgress.status == ProgressStatus.NOT_STARTED,
        CourseProgress.started_at.is_(None), CourseProgress.exam_attempts == 0)
        .execution_options(synchronize_session=False))
    if db.session.scalar(select(func.count(CourseProgress.id)).where(
            CourseProgress.course_id == course_id)):
        raise Conflict(f"{course.title} cannot be deleted: a learner started it a moment ago. "
                       "Archive it instead.")
    deleted = db.session.execute(delete(Course).where(Course.id == course_id)
                                 .execution_options(synchronize_session=False)).rowcount
    if deleted != 1:
        raise NotFound("This course was deleted a moment ago. Reload the page.")
    db.session.expunge(course)
    audit.record(actor, AuditAction.DELETE, "course", course_id, snapshot)
    _roll_up_track(track, actor)
