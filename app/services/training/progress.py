"""Progress through a track: completing a course without an exam, the manager's recorded
status and score, quiz attempts (graded on the server, counted by the database so racing
submissions stay honest, the last allowed failure failing the course), and the roll-up
that derives the enrolment's status: every required course completed completes it
(recording version and expiry, and requesting a pending COMPLETION certificate)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificateType,
    Course,
    CourseProgress,
    Enrolment,
    NotificationType,
    ProgressStatus,
    QuizAttempt,
)
from app.models.base import utcnow
from app.models.certificates import major_of
from app.services import audit
from app.services.certificates.lifecycle import approve, request_completion
from app.services.certificates.queries import live_certificate
from app.services.context import Actor
from app.services.dates import add_months
from app.services.errors import Conflict, ValidationFailed
from app.services.notifications import notify
from app.services.persistence import flush_or_raise
from app.services.training.quizzes import IncompleteAnswers, grade, unanswered
from app.services.transitions import lock, transition

P = ProgressStatus


def progress_for(enrolment: Enrolment, course: Course) -> CourseProgress:
    """The learner's progress row for a course, made if the course was added later (for a
    write: a page showing the course uses `progress_view`)."""
    row = next((p for p in enrolment.course_progress if p.course_id == course.id), None)
    if row is None:
        row = CourseProgress(enrolment=enrolment, course_id=course.id)
        db.session.add(row)
        db.session.flush()
    return row


def progress_view(enrolment: Enrolment, course: Course) -> CourseProgress:
    """The learner's progress on a course as a page shows it, writing nothing: a course
    added after enrolment has no row yet and shows as not started (its row is made by the
    first action on it)."""
    row = next((p for p in enrolment.course_progress if p.course_id == course.id), None)
    if row is not None:
        return row
    # Not added to the session (SQLAlchemy 2 does not cascade through the backref).
    return CourseProgress(enrolment_id=enrolment.id, course=course, status=P.NOT_STARTED,
                          exam_attempts=0, attempt_cycle=0, extra_attempts=0)


def _live(course: Course) -> None:
    """An archived course takes no more progress (its history stays)."""
    if course.archived_at is not None:
        raise Conflict(f"{course.title} is archived: it no longer counts toward the track.")


def _hold(progress: CourseProgress) -> CourseProgress:
    """Serialize every change on one enrolment: lock its row (until the transaction ends),
    then read the enrolment and its progress rows afresh. Two tabs completing two courses
    at once then cannot both miss that the track is complete, and a double-click sees
    what the first click did."""
    lock(progress.enrolment)
    db.session.expire(progress.enrolment, ["course_progress"])
    return lock(progress)


def _start(progress: CourseProgress, now: Any) -> None:
    if progress.started_at is None:
        progress.started_at = now
    if progress.status == P.NOT_STARTED:
        progress.status = P.IN_PROGRESS
    enrolment = progress.enrolment
    if enrolment.started_at is None:
        enrolment.started_at = now
    if enrolment.status == P.NOT_STARTED:
        enrolment.status = P.IN_PROGRESS


def complete_course(progress: CourseProgress, actor: Actor) -> CourseProgress:
    """Mark a course without an exam complete. Raises ValidationFailed for an exam course
    and Conflict when it is complete already (a double-click: the first one counts)."""
    if progress.course.has_exam:
        raise ValidationFailed("This course is completed by passing its quiz.")
    _live(progress.course)
    _hold(progress)
    before = progress.status
    now = utcnow()
    transition(progress, to=P.COMPLETED, expected=[P.NOT_STARTED, P.IN_PROGRESS, P.FAILED],
               values={"completed_at": now,
                       "started_at": func.coalesce(CourseProgress.started_at, now)},
               refused=lambda _row: f"{progress.course.title} is complete already.")
    _start(progress, now)
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id,
                 {"status": [before.value, P.COMPLETED.value]})
    roll_up(progress.enrolment, actor)
    return progress


def set_course_progress(progress: CourseProgress, actor: Actor, *, status: ProgressStatus,
                        exam_score: float | None = None) -> CourseProgress:
    """The API's PATCH: a manager may record any status and an externally graded score;
    the roll-up follows. Raises ValidationFailed for a score outside 0-100."""
    if exam_score is not None and not 0 <= exam_score <= 100:
        raise ValidationFailed("The exam score is a percentage.",
                               fields={"examScore": ["From 0 to 100."]})
    _hold(progress)
    before = {"status": progress.status.value, "exam_score": progress.exam_score}
    now = utcnow()
    values: dict[str, Any] = {"completed_at": now if status == P.COMPLETED else None}
    if exam_score is not None:
        values["exam_score"] = exam_score
    # The row is held: it is still in the state just read.
    transition(progress, to=status, expected=progress.status, values=values)
    if status != P.NOT_STARTED:
        _start(progress, now)
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id, audit.changes_between(
        before, {"status": status.value, "exam_score": progress.exam_score}))
    roll_up(progress.enrolment, actor)
    return progress


def attempts_left(progress: CourseProgress) -> int | None:
    """The course's limit plus what a manager granted, less the attempts used (None: no
    limit)."""
    limit = progress.course.attempt_limit
    if limit is None:
        return None
    return max(0, limit + (progress.extra_attempts or 0) - progress.exam_attempts)


def submit_quiz_attempt(progress: CourseProgress, answers: dict[str, Any], actor: Actor,
                        started_at: Any = None, *,
                        allow_unanswered: bool = False) -> QuizAttempt:
    """Grade a quiz submission on the server and record it.

    A pass completes the course (and may complete the track); failing the last allowed
    attempt fails the course. A question left unanswered refuses the submission (nothing
    is recorded, no attempt used) unless `allow_unanswered` (the learner chose "submit
    anyway"; the question then counts as wrong). Raises ValidationFailed (no quiz,
    answers not a mapping), IncompleteAnswers (a ValidationFailed naming the unanswered
    questions) and Conflict (already passed, no attempts left, another submission took
    this attempt number): a double-click is graded once.
    """
    course = progress.course
    _live(course)
    if not course.has_exam or not course.questions:
        raise ValidationFailed("This course has no quiz.")
    if not isinstance(answers, dict):
        raise ValidationFailed("Answers must map question ids to chosen options.")
    _hold(progress)  # what a submission a moment ago did is seen now
    if progress.status == P.COMPLETED:
        raise Conflict("You have already passed this quiz.")
    left = attempts_left(progress)
    if left == 0:
        raise Conflict("No attempts are left for this quiz.")
    missing = unanswered(course.questions, answers)
    if missing and not allow_unanswered:
        raise IncompleteAnswers(missing, len(course.questions))
    result = grade(course.questions, answers, course.passing_score)
    now = utcnow()
    attempt = QuizAttempt(
        course_progress_id=progress.id, cycle=progress.attempt_cycle,
        attempt_number=progress.exam_attempts + 1, track_version=course.track.version,
        answers={q["id"]: answers.get(q["id"]) for q in course.questions},
        score=result.score, passed=result.passed, wrong_question_ids=result.wrong,
        started_at=started_at, submitted_at=now,
    )
    flush_or_raise(Conflict("This attempt was already submitted. Reload to see the result."),
                   add=[attempt])
    # Counting with the database's own value keeps two racing requests honest.
    db.session.execute(update(CourseProgress).where(CourseProgress.id == progress.id)
                       .values(exam_attempts=CourseProgress.exam_attempts + 1))
    db.session.refresh(progress, ["exam_attempts"])
    _start(progress, now)
    progress.exam_score = max(progress.exam_score or 0.0, result.score)
    if result.passed:
        progress.completed_at = now
        transition(progress, to=P.COMPLETED, expected=progress.status)
    elif attempts_left(progress) == 0:
        transition(progress, to=P.FAILED, expected=progress.status)
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id,
                 {"quiz_attempt": attempt.attempt_number, "score": round(result.score, 2),
                  "passed": result.passed})
    roll_up(progress.enrolment, actor)
    return attempt


def completion_message(certificate: Certificate | None) -> str:
    """What the learner is told about their certificate on completing a track: a new
    pending one waits for approval (and, for a new major version, will replace the old
    one); a live one of this version already stands."""
    if certificate is None:
        return ""
    if certificate.status == CertificateStatus.ISSUED:
        return f"Your certificate {certificate.number} for this version stays valid."
    older = db.session.scalar(select(Certificate.number).where(
        Certificate.recipient_id == certificate.recipient_id,
        Certificate.track_id == certificate.track_id, Certificate.course_id.is_(None),
        Certificate.type == certificate.type, Certificate.status == CertificateStatus.ISSUED,
        Certificate.id != certificate.id).order_by(Certificate.id.desc()).limit(1))
    if older:
        return (f"Your certificate for version {certificate.track_version} is waiting for "
                f"approval; once approved it replaces {older}.")
    return "Your certificate is waiting for approval."


def completion_message_for(enrolment: Enrolment) -> str:
    """completion_message() about the enrolment's completion certificate (the live one of
    the version completed), for the page that says the track is complete."""
    return completion_message(live_certificate(
        enrolment.user_id, None, enrolment.track_id, CertificateType.COMPLETION,
        major_of(enrolment.completed_version)))


def auto_issue(certificate: Certificate, actor: Actor) -> bool:
    """The track's auto-issue rule: approve the pending completion certificate at once,
    through the same lifecycle (number, snapshot, Open Badge, PDF job, notification),
    by the system (audited as automatic). A certificate that cannot be issued (a newer
    major version's stands) stays pending for an admin. True when it was issued now."""
    if certificate.status != CertificateStatus.PENDING:
        return False
    try:
        with db.session.begin_nested():
            approve(certificate, Actor(user=None, ip=actor.ip), automatic=True)
    except Conflict:
        db.session.expire_all()  # the refused UPDATE's values: read afresh
        return False
    return True


def roll_up(enrolment: Enrolment, actor: Actor) -> Enrolment:
    """Derive the enrolment's status from its courses: every required course completed
    completes it (recording the version and expiry, and requesting a pending COMPLETION
    certificate); a failed required course fails it."""
    track = enrolment.track
    required = [c for c in track.courses if c.required]
    by_course = {p.course_id: p for p in enrolment.course_progress}
    statuses = [by_course[c.id].status if c.id in by_course else P.NOT_STARTED for c in required]
    old = enrolment.status
    if required and all(s == P.COMPLETED for s in statuses):
        if old != P.COMPLETED:
            now = utcnow()
            # Held by the caller (`_hold`): the enrolment is still `old`.
            transition(enrolment, to=P.COMPLETED, expected=old, values={
                "completed_at": now, "completed_version": track.version,
                "expires_at": (add_months(now.date(), track.validity_months)
                               if track.validity_months else None)})
            certificate = request_completion(enrolment, actor)
            from app.services.renewals import renew_on_completion  # (imports training)

            renewed = renew_on_completion(enrolment, certificate, actor)
            issued = renewed is not None or (track.auto_issue and auto_issue(certificate,
                                                                             actor))
            message = completion_message(certificate)
            if renewed is not None:
                message = (f"Your renewed certificate {renewed.number} is issued; it "
                           f"replaces {certificate.number}.")
            elif issued:
                message = f"Your certificate {certificate.number} is issued."
            notify(enrolment.user, NotificationType.TRAINING_COMPLETED,
                   f"Completed: {track.name}",
                   f"You completed {track.name} (version {track.version}). " + message,
                   link="/me")
    elif any(s == P.FAILED for s in statuses):
        transition(enrolment, to=P.FAILED, expected=old)
    elif any(s != P.NOT_STARTED for s in statuses) or enrolment.started_at:
        transition(enrolment, to=P.IN_PROGRESS, expected=old)
    if enrolment.status != old:
        audit.record(actor, AuditAction.UPDATE, "enrolment", enrolment.id,
                     {"status": [old.value, enrolment.status.value]})
    return enrolment


def last_attempt(progress: CourseProgress) -> QuizAttempt | None:
    return db.session.scalar(select(QuizAttempt).where(
        QuizAttempt.course_progress_id == progress.id).order_by(QuizAttempt.id.desc()).limit(1))
