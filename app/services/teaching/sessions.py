"""Course sessions and attendance: an instructor schedules a session of a course they
teach and marks who attended; a learner who attended rates it 1-5 (once per session row,
changeable), and sees the sessions still waiting for a rating."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    Course,
    CourseSession,
    SessionAttendance,
    User,
)
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import Conflict, ValidationFailed
from app.services.persistence import flush_or_raise
from app.services.teaching.instructors import require_instructor, require_learner_of
from app.services.transitions import lock


def create_session(actor: Actor, course: Course, *, title: str, starts_at: datetime,
                   location: str | None = None) -> CourseSession:
    """An empty title is the course's. Raises ValidationFailed (title, location)."""
    instructor = require_instructor(actor.user, course)
    checked = fields.Fields()
    title = checked.check(fields.optional_text, title, "title", max_len=200)
    location = checked.check(fields.optional_text, location, "location", max_len=200)
    if not isinstance(starts_at, datetime):
        checked.add("starts_at", "Enter the date and time.")
    checked.done()
    session = CourseSession(course_id=course.id, instructor_id=instructor.id,
                            title=title or course.title, starts_at=starts_at,
                            location=location)
    db.session.add(session)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "course_session", session.id,
                 {"course_id": course.id, "title": session.title})
    return session


def mark_attendance(actor: Actor, session: CourseSession, learner: User,
                    attended: bool) -> SessionAttendance:
    """The session's instructor marks a learner present or absent. Raises
    ValidationFailed (not the session's instructor; the learner is the instructor or not
    enrolled in the course's track) and Conflict (recorded at the same moment)."""
    if actor.user is None or actor.user.id != session.instructor_id:
        raise ValidationFailed("Only the session's instructor marks attendance.")
    require_learner_of(session.course, learner, actor.user)
    row = db.session.scalar(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id, SessionAttendance.user_id == learner.id))
    if row is None:
        row = SessionAttendance(session_id=session.id, user_id=learner.id)
        flush_or_raise(Conflict("Attendance was just recorded; reload."), add=[row])
    row.attended = attended
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "session_attendance", row.id,
                 {"user_id": learner.id, "attended": attended})
    return row


def rate_session(actor: Actor, session: CourseSession, rating: int) -> SessionAttendance:
    """A learner who attended rates the session 1-5; its instructor never does (their
    rating feeds their own teaching certificate). Raises ValidationFailed."""
    fields.integer(rating, "rating", min=1, max=5, message="Rate from 1 to 5.")
    if actor.user is not None and actor.user.id == session.instructor_id:
        raise ValidationFailed("You cannot rate your own session: the learners who attended "
                               "rate it.")
    row = db.session.scalar(select(SessionAttendance).where(
        SessionAttendance.session_id == session.id,
        SessionAttendance.user_id == (actor.user.id if actor.user else -1)))
    if row is None or not row.attended:
        raise ValidationFailed("Only someone who attended can rate a session.")
    lock(row)  # a double submit sees the first one's rating: audited once
    before = row.rating
    if before == rating:
        return row
    row.rating = rating
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "session_attendance", row.id,
                 {"rating": [before, rating]})
    return row



def sessions_to_rate(user_id: int) -> list[CourseSession]:
    """Sessions the user attended and has not rated yet."""
    return list(db.session.scalars(
        select(CourseSession).join(SessionAttendance)
        .options(selectinload(CourseSession.instructor))
        .where(SessionAttendance.user_id == user_id, SessionAttendance.attended.is_(True),
               SessionAttendance.rating.is_(None))
        .order_by(CourseSession.starts_at.desc()).limit(20)))
