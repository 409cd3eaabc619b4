"""Retakes: a manager (or admin) gives one learner more tries at one course's quiz once
its attempt limit is used, either by granting extra attempts on top of the limit or by
resetting the count (a fresh cycle: earlier attempts stay on record, the limit counts
afresh and grants made before are dropped).

A change names the attempts left it expects to change (what the manager's page showed):
a second identical click, or a learner's submission in between, finds another number and
gets Conflict, so a double-click grants once. The row changes by one conditional UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditAction,
    Course,
    CourseProgress,
    Enrolment,
    NotificationType,
    ProgressStatus,
    QuizAttempt,
)
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.notifications import notify
from app.services.training.progress import _hold, attempts_left, progress_view, roll_up
from app.services.transitions import transition

P = ProgressStatus
MAX_GRANT = 20


def _check(progress: CourseProgress, actor: Actor, expected_left: Any, field: str) -> int:
    if actor.user is not None and actor.user.id == progress.enrolment.user_id:
        # Like instructors and their own sessions: nobody gives themselves another try.
        raise ValidationFailed("You cannot change your own attempts: ask another manager.")
    if progress.course.archived_at is not None:
        raise NotFound("That course is archived: it is no longer part of the track.")
    if progress.course.attempt_limit is None:
        raise ValidationFailed("This quiz has no attempt limit: there is nothing to grant.")
    expected = fields.Fields()
    value = expected.check(fields.integer, expected_left, field, min=0, max=10_000,
                           message="The attempts left the page showed, a whole number.")
    expected.done()
    if progress.status == P.COMPLETED:
        raise Conflict("The learner has passed this quiz already.")
    return value


def _apply(progress: CourseProgress, actor: Actor, expected: int, values: dict[str, Any],
           change: dict[str, Any]) -> CourseProgress:
    _hold(progress)  # the learner's submissions wait; the count read now is the count
    before = {"exam_attempts": progress.exam_attempts, "extra_attempts": progress.extra_attempts,
              "attempt_cycle": progress.attempt_cycle, "attempts_left": attempts_left(progress)}
    if before["attempts_left"] != expected or progress.status == P.COMPLETED:
        raise Conflict(f"Someone changed this a moment ago: {before['attempts_left']} attempt"
                       f"{'' if before['attempts_left'] == 1 else 's'} left now. Reload to see "
                       "the current count.")
    status = P.IN_PROGRESS if progress.status == P.FAILED else progress.status
    transition(progress, to=status, expected=progress.status,
               where=[CourseProgress.exam_attempts == progress.exam_attempts,
                      CourseProgress.extra_attempts == progress.extra_attempts,
                      CourseProgress.attempt_cycle == progress.attempt_cycle],
               values={**values, "completed_at": None})
    after = {"exam_attempts": progress.exam_attempts, "extra_attempts": progress.extra_attempts,
             "attempt_cycle": progress.attempt_cycle, "attempts_left": attempts_left(progress)}
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id,
                 {**change, **audit.changes_between(before, after)})
    roll_up(progress.enrolment, actor)  # a failed track is in progress again
    left = after["attempts_left"]
    notify(progress.enrolment.user, NotificationType.ATTEMPTS_GRANTED,
           f"Another try: {progress.course.title}",
           f"You can take the {progress.course.title} quiz again: {left} attempt"
           f"{'' if left == 1 else 's'} left.", link=f"/learn/courses/{progress.course_id}")
    return progress


def grant_attempts(progress: CourseProgress, actor: Actor, *, extra: Any,
                   expected_left: Any) -> CourseProgress:
    """Give the learner `extra` (1-20) more attempts at the course's quiz. A failed
    course is in progress again. Raises ValidationFailed (no limit, bad numbers), NotFound
    (an archived course), ValidationFailed (the actor is the learner: nobody grants
    themselves attempts) and Conflict (passed already; the attempts left are no longer
    `expected_left`)."""
    checked = fields.Fields()
    extra = checked.check(fields.integer, extra, "extraAttempts", min=1, max=MAX_GRANT,
                          message=f"From 1 to {MAX_GRANT} attempts.")
    checked.done()
    expected = _check(progress, actor, expected_left, "expectedAttemptsLeft")
    return _apply(progress, actor, expected,
                  {"extra_attempts": CourseProgress.extra_attempts + extra},
                  {"granted_attempts": extra})


def reset_attempts(progress: CourseProgress, actor: Actor, *,
                   expected_left: Any) -> CourseProgress:
    """Start the learner's attempts afresh: the full limit again, earlier grants dropped,
    earlier attempts kept on record (a new cycle). Raises as `grant_attempts`."""
    expected = _check(progress, actor, expected_left, "expectedAttemptsLeft")
    return _apply(progress, actor, expected,
                  {"exam_attempts": 0, "extra_attempts": 0,
                   "attempt_cycle": CourseProgress.attempt_cycle + 1},
                  {"reset_attempts": True})


@dataclass(frozen=True)
class CourseRecord:
    """One course of a learner's track as the manager sees it."""

    course: Course
    progress: CourseProgress  # a row not yet made shows as not started (not in the session)
    attempts: list[QuizAttempt]  # every attempt, every cycle, oldest first
    attempts_left: int | None

    @property
    def can_grant(self) -> bool:
        return (self.course.has_exam and self.course.attempt_limit is not None
                and self.progress.id is not None and self.progress.status != P.COMPLETED)


def learner_record(enrolment: Enrolment) -> list[CourseRecord]:
    """The learner's courses on the track (in order) with status, best score, every quiz
    attempt and the attempts left. Reads only."""
    rows = {p.course_id: p for p in enrolment.course_progress}
    attempts: dict[int, list[QuizAttempt]] = {}
    if rows:
        for attempt in db.session.scalars(
                select(QuizAttempt).where(QuizAttempt.course_progress_id.in_(
                    [p.id for p in rows.values()])).order_by(QuizAttempt.submitted_at,
                                                             QuizAttempt.id)):
            attempts.setdefault(attempt.course_progress_id, []).append(attempt)
    out = []
    for course in enrolment.track.courses:
        progress = progress_view(enrolment, course)
        out.append(CourseRecord(course, progress, attempts.get(progress.id, []) if progress.id
                                else [], attempts_left(progress)))
    return out


def enrolment_of(user_id: int, track_id: int) -> Enrolment:
    """The learner's enrolment on the track. Raises NotFound."""
    enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == user_id,
                                                          Enrolment.track_id == track_id))
    if enrolment is None:
        raise NotFound("That person is not enrolled in this track.")
    return enrolment


def course_progress(progress_id: int) -> CourseProgress:
    """Raises NotFound."""
    row = db.session.get(CourseProgress, progress_id)
    if row is None:
        raise NotFound("Course progress not found.")
    return row
