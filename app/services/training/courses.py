"""Courses of a track: create (at the end of the track), update, reorder (the full list
of the track's course ids, exactly once each) and move one step. A text course needs its
text or a link; a video or interactive course needs its URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditAction,
    CertificationTrack,
    ContentType,
    Course,
)
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import NotFound, ValidationFailed
from app.services.training.tracks import set_fields

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
    """Adds the course at the end of the track. Raises ValidationFailed (a field's rule,
    content missing)."""
    last = db.session.scalar(select(func.max(Course.sort_order)).where(
        Course.track_id == track.id))
    course = Course(track_id=track.id, sort_order=(last or 0) + 1, questions=[])
    set_fields(course, COURSE_RULES, values, creating=True, required=("title",))
    _check_content(course)
    db.session.add(course)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "course", course.id,
                 {**audit.snapshot(course, COURSE_FIELDS), "track_id": track.id})
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
    """Swap a course with its neighbour (-1 up, +1 down); the htmx page's reorder."""
    ids = [c.id for c in course.track.courses]
    index = ids.index(course.id)
    target = index + direction
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
        reorder_courses(course.track, ids, actor)
