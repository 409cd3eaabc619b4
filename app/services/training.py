"""Training: tracks and courses, quizzes, enrolment and progress roll-up, version bumps,
implementation projects and go-live readiness."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from math import ceil
from typing import Any

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    CertificationTrack,
    Course,
    CourseProgress,
    Enrolment,
    ImplementationProject,
    Notification,
    NotificationType,
    ProgressStatus,
    QuizAttempt,
    Role,
    TrainingAssignment,
    User,
)
from app.models.base import utcnow
from app.services import audit, certificates
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.micro_credentials import add_months
from app.services.notifications import notify
from app.services.pagination import MAX_PER_PAGE, Page
from app.services.persistence import flush_or_raise

P = ProgressStatus
TRACK_FIELDS = ("name", "description", "audience", "level", "active", "required_for_go_live",
                "estimated_hours", "validity_months")
COURSE_FIELDS = ("title", "description", "content_type", "content_url", "content_body",
                 "estimated_minutes", "required", "has_exam", "passing_score", "attempt_limit")
QUESTION_TYPES = ("single", "multiple", "true_false")
TARGET_ROLES = ("any", Role.STAFF.value, Role.ORG_ADMIN.value)


def _today() -> date:
    return utcnow().date()


# --- Tracks --------------------------------------------------------------------------

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


def _set_fields(obj: Any, allowed: Sequence[str], values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name not in allowed:
            raise ValueError(f"cannot set {name!r}")
        if type(value) is str:  # not an enum member, which is a str too
            value = value.strip()
            if name not in ("name", "title"):
                value = value or None  # an emptied optional field is no value
        setattr(obj, name, value)


def create_track(actor: Actor, **values: Any) -> CertificationTrack:
    track = CertificationTrack()
    _set_fields(track, TRACK_FIELDS, values)
    db.session.add(track)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "track", track.id,
                 {**audit.snapshot(track, TRACK_FIELDS), "version": track.version})
    return track


def update_track(track: CertificationTrack, actor: Actor, **values: Any) -> CertificationTrack:
    before = audit.snapshot(track, TRACK_FIELDS)
    _set_fields(track, TRACK_FIELDS, values)
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
        if holders:
            db.session.execute(Notification.__table__.insert(), [{
                "user_id": user_id, "type": NotificationType.RECERTIFICATION_REQUIRED.value,
                "title": f"Re-certify: {track.name} {track.version}",
                "body": f"{track.name} has a new major version ({track.version}). Complete "
                        "its courses again to stay certified.",
                "link": f"/learn/tracks/{track.id}", "delivery": {}, "created_at": utcnow(),
            } for user_id in holders])
    else:
        track.version_minor += 1
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "track", track.id,
                 {"version": [old, track.version], "recertify": len(holders)})
    return len(holders)


# --- Courses -------------------------------------------------------------------------

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
    """Adds the course at the end of the track. Raises ValidationFailed (content missing)."""
    last = db.session.scalar(select(func.max(Course.sort_order)).where(
        Course.track_id == track.id))
    course = Course(track_id=track.id, sort_order=(last or 0) + 1, questions=[])
    _set_fields(course, COURSE_FIELDS, values)
    _check_content(course)
    db.session.add(course)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "course", course.id,
                 {**audit.snapshot(course, COURSE_FIELDS), "track_id": track.id})
    return course


def update_course(course: Course, actor: Actor, **values: Any) -> Course:
    """Raises ValidationFailed (content missing)."""
    before = audit.snapshot(course, COURSE_FIELDS)
    _set_fields(course, COURSE_FIELDS, values)
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


# --- Quizzes -------------------------------------------------------------------------

def validate_questions(raw: Any) -> list[dict[str, Any]]:
    """Check and normalise quiz questions; raises ValidationFailed naming each problem.

    Each question: type single|multiple|true_false, a prompt, 2-10 distinct options
    (true/false: exactly True and False), correct answers that are among the options
    (exactly one unless multiple choice), and an optional explanation.
    """
    if not isinstance(raw, list):
        raise ValidationFailed("Questions must be a list.", fields={"questions": ["Not a list."]})
    problems: dict[str, list[str]] = {}
    clean: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for number, question in enumerate(raw, start=1):
        key = f"questions.{number}"
        errors: list[str] = []
        if not isinstance(question, dict):
            problems[key] = ["Not a question."]
            continue
        kind = question.get("type")
        prompt = str(question.get("prompt") or "").strip()
        options = [str(o).strip() for o in (question.get("options") or [])]
        correct = question.get("correct") or []
        explanation = str(question.get("explanation") or "").strip()
        if kind not in QUESTION_TYPES:
            errors.append("Choose single choice, multiple choice or true/false.")
        if not prompt:
            errors.append("Write the question.")
        elif len(prompt) > 1000:
            errors.append("Keep the question under 1000 characters.")
        if kind == "true_false":
            options = ["True", "False"]
        if len(options) < 2 or len(options) > 10 or any(not o for o in options):
            errors.append("Give 2 to 10 options, none empty.")
        elif len(set(options)) != len(options):
            errors.append("Options must differ from one another.")
        try:
            correct = sorted({int(i) for i in correct})
        except (TypeError, ValueError):
            correct = []
            errors.append("Correct answers must be option numbers.")
        if not correct:
            errors.append("Mark the correct answer.")
        elif any(i < 0 or i >= len(options) for i in correct):
            errors.append("A correct answer must be one of the options.")
        elif kind in ("single", "true_false") and len(correct) != 1:
            errors.append("A single-choice question has exactly one correct answer.")
        if len(explanation) > 2000:
            errors.append("Keep the explanation under 2000 characters.")
        question_id = str(question.get("id") or "") or secrets.token_hex(4)
        while question_id in seen_ids:
            question_id = secrets.token_hex(4)
        seen_ids.add(question_id)
        if errors:
            problems[key] = errors
        else:
            clean.append({"id": question_id, "type": kind, "prompt": prompt, "options": options,
                          "correct": correct, "explanation": explanation})
    if problems:
        raise ValidationFailed("Some questions need fixing.", fields=problems)
    return clean


def save_quiz(course: Course, questions: Any, actor: Actor, *, passing_score: int | None = None,
              attempt_limit: int | None | str = "keep") -> Course:
    """Replace the course's questions (validated) and quiz settings; the course becomes
    an exam course. Raises ValidationFailed."""
    clean = validate_questions(questions)
    if passing_score is not None and not 1 <= passing_score <= 100:
        raise ValidationFailed("The pass mark is a percentage from 1 to 100.",
                               fields={"passing_score": ["From 1 to 100."]})
    if attempt_limit not in ("keep", None) and not 1 <= int(attempt_limit) <= 100:
        raise ValidationFailed("Allow 1 to 100 attempts, or leave it empty for no limit.",
                               fields={"attempt_limit": ["From 1 to 100, or empty."]})
    before = {"questions": len(course.questions or []), "passing_score": course.passing_score,
              "attempt_limit": course.attempt_limit, "has_exam": course.has_exam}
    course.questions = clean
    course.has_exam = True
    if passing_score is not None:
        course.passing_score = passing_score
    if attempt_limit != "keep":
        course.attempt_limit = attempt_limit  # type: ignore[assignment]
    db.session.flush()
    after = {"questions": len(clean), "passing_score": course.passing_score,
             "attempt_limit": course.attempt_limit, "has_exam": True}
    audit.record(actor, AuditAction.UPDATE, "course", course.id,
                 audit.changes_between(before, after))
    return course


def public_questions(course: Course) -> list[dict[str, Any]]:
    """What the browser may see before submission: no correct answers, no explanations."""
    return [{"id": q["id"], "type": q["type"], "prompt": q["prompt"], "options": q["options"]}
            for q in course.questions or []]


@dataclass(frozen=True)
class Grade:
    score: float
    passed: bool
    wrong: list[str]
    total: int


def grade(questions: Sequence[dict[str, Any]], answers: dict[str, Any],
          passing_score: int) -> Grade:
    """A question counts when exactly its correct options are chosen. The score is not
    rounded before it is compared: 79.9 fails a pass mark of 80, 80.0 passes."""
    wrong = []
    for question in questions:
        chosen = answers.get(question["id"]) or []
        if not isinstance(chosen, list):
            chosen = [chosen]
        try:
            picked = {int(c) for c in chosen}
        except (TypeError, ValueError):
            picked = set()
        if picked != set(question["correct"]):
            wrong.append(question["id"])
    total = len(questions)
    score = 100.0 * (total - len(wrong)) / total if total else 0.0
    return Grade(score=score, passed=score >= passing_score, wrong=wrong, total=total)


# --- Enrolment and progress ----------------------------------------------------------

def get_enrolment(enrolment_id: int) -> Enrolment:
    """Raises NotFound."""
    enrolment = db.session.get(Enrolment, enrolment_id)
    if enrolment is None:
        raise NotFound("Enrolment not found.")
    return enrolment


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


def progress_for(enrolment: Enrolment, course: Course) -> CourseProgress:
    """The learner's progress row for a course, made if the course was added later."""
    row = next((p for p in enrolment.course_progress if p.course_id == course.id), None)
    if row is None:
        row = CourseProgress(enrolment=enrolment, course_id=course.id)
        db.session.add(row)
        db.session.flush()
    return row


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
    """Mark a course without an exam complete. Raises ValidationFailed for an exam course."""
    if progress.course.has_exam:
        raise ValidationFailed("This course is completed by passing its quiz.")
    if progress.status != P.COMPLETED:
        now = utcnow()
        _start(progress, now)
        progress.status = P.COMPLETED
        progress.completed_at = now
        db.session.flush()
        audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id,
                     {"status": [P.IN_PROGRESS.value, P.COMPLETED.value]})
        roll_up(progress.enrolment, actor)
    return progress


def set_course_progress(progress: CourseProgress, actor: Actor, *, status: ProgressStatus,
                        exam_score: float | None = None) -> CourseProgress:
    """The API's PATCH: a manager may record any status and an externally graded score;
    the roll-up follows. Raises ValidationFailed for a score outside 0-100."""
    if exam_score is not None and not 0 <= exam_score <= 100:
        raise ValidationFailed("The exam score is a percentage.",
                               fields={"examScore": ["From 0 to 100."]})
    before = {"status": progress.status.value, "exam_score": progress.exam_score}
    now = utcnow()
    if status != P.NOT_STARTED:
        _start(progress, now)
    progress.status = status
    progress.completed_at = now if status == P.COMPLETED else None
    if exam_score is not None:
        progress.exam_score = exam_score
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id, audit.changes_between(
        before, {"status": status.value, "exam_score": progress.exam_score}))
    roll_up(progress.enrolment, actor)
    return progress


def attempts_left(progress: CourseProgress) -> int | None:
    limit = progress.course.attempt_limit
    return None if limit is None else max(0, limit - progress.exam_attempts)


def submit_quiz_attempt(progress: CourseProgress, answers: dict[str, Any], actor: Actor,
                        started_at: Any = None) -> QuizAttempt:
    """Grade a quiz submission on the server and record it.

    A pass completes the course (and may complete the track); failing the last allowed
    attempt fails the course. Raises ValidationFailed (no quiz, already passed, no
    attempts left) and Conflict when another submission took this attempt number.
    """
    course = progress.course
    if not course.has_exam or not course.questions:
        raise ValidationFailed("This course has no quiz.")
    if progress.status == P.COMPLETED:
        raise ValidationFailed("You have already passed this quiz.")
    left = attempts_left(progress)
    if left == 0:
        raise ValidationFailed("No attempts are left for this quiz.")
    if not isinstance(answers, dict):
        raise ValidationFailed("Answers must map question ids to chosen options.")
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
        progress.status = P.COMPLETED
        progress.completed_at = now
    elif attempts_left(progress) == 0:
        progress.status = P.FAILED
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "course_progress", progress.id,
                 {"quiz_attempt": attempt.attempt_number, "score": round(result.score, 2),
                  "passed": result.passed})
    roll_up(progress.enrolment, actor)
    return attempt


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
            enrolment.status = P.COMPLETED
            enrolment.completed_at = now
            enrolment.completed_version = track.version
            enrolment.expires_at = (add_months(now.date(), track.validity_months)
                                    if track.validity_months else None)
            db.session.flush()
            certificates.request_completion(enrolment, actor)
            notify(enrolment.user, NotificationType.TRAINING_COMPLETED,
                   f"Completed: {track.name}",
                   f"You completed {track.name} (version {track.version}). Your certificate "
                   "is waiting for approval.", link="/me")
    elif any(s == P.FAILED for s in statuses):
        enrolment.status = P.FAILED
    elif any(s != P.NOT_STARTED for s in statuses) or enrolment.started_at:
        enrolment.status = P.IN_PROGRESS
    if enrolment.status != old:
        db.session.flush()
        audit.record(actor, AuditAction.UPDATE, "enrolment", enrolment.id,
                     {"status": [old.value, enrolment.status.value]})
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


def last_attempt(progress: CourseProgress) -> QuizAttempt | None:
    return db.session.scalar(select(QuizAttempt).where(
        QuizAttempt.course_progress_id == progress.id).order_by(QuizAttempt.id.desc()).limit(1))


# --- Summary -------------------------------------------------------------------------

@dataclass(frozen=True)
class TrackSummary:
    enrolled: int
    completed: int
    in_progress: int
    not_started: int
    failed: int

    @property
    def completion_rate(self) -> float:
        return round(100.0 * self.completed / self.enrolled, 1) if self.enrolled else 0.0


def track_summary(track: CertificationTrack) -> TrackSummary:
    """Counts by status, in one grouped query."""
    counts = dict(db.session.execute(
        select(Enrolment.status, func.count(Enrolment.id))
        .where(Enrolment.track_id == track.id).group_by(Enrolment.status)).all())
    return TrackSummary(
        enrolled=sum(counts.values()), completed=counts.get(P.COMPLETED, 0),
        in_progress=counts.get(P.IN_PROGRESS, 0), not_started=counts.get(P.NOT_STARTED, 0),
        failed=counts.get(P.FAILED, 0))


def track_learners(track: CertificationTrack, *, status: str = "", q: str = "", page: int = 1,
                   per_page: int = 25) -> tuple[Page[Any], dict[int, int]]:
    """A page of (enrolment, user) rows and each enrolment's completed required courses.

    The count needs the users only when searching; the page is chosen among the users in
    name order (ix_users_name_id) that have an enrolment (the (user_id, track_id) unique
    index), so neither database sorts the track's whole list of full rows."""
    enrolled = select(Enrolment.id).where(Enrolment.user_id == User.id,
                                          Enrolment.track_id == track.id)
    count = select(func.count()).select_from(Enrolment).where(Enrolment.track_id == track.id)
    if status in P.__members__:
        enrolled = enrolled.where(Enrolment.status == P(status))
        count = count.where(Enrolment.status == P(status))
    people = select(User.id).where(enrolled.exists())
    if q.strip():
        pattern = q.strip().lower()
        match = or_(func.lower(User.name).contains(pattern, autoescape=True),
                    func.lower(User.email).contains(pattern, autoescape=True))
        people = people.where(match)
        count = count.join(User, User.id == Enrolment.user_id).where(match)
    total = db.session.scalar(count) or 0
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = min(max(1, page), max(1, ceil(total / per_page)))
    chosen = (people.order_by(User.name, User.id).limit(per_page)
              .offset((page - 1) * per_page).correlate(None))
    items = list(db.session.execute(
        select(Enrolment, User).join(User, User.id == Enrolment.user_id)
        .where(Enrolment.track_id == track.id, User.id.in_(chosen))
        .order_by(User.name, User.id)).all())
    page_rows: Page[Any] = Page(items=items, page=page, per_page=per_page, total=total)
    ids = [row[0].id for row in page_rows.items]
    done: dict[int, int] = {}
    if ids:
        done = dict(db.session.execute(
            select(CourseProgress.enrolment_id,
                   func.sum(case((CourseProgress.status == P.COMPLETED, 1), else_=0)))
            .join(Course, Course.id == CourseProgress.course_id)
            .where(CourseProgress.enrolment_id.in_(ids), Course.required.is_(True))
            .group_by(CourseProgress.enrolment_id)).all())
    return page_rows, {k: int(v or 0) for k, v in done.items()}


def summary_to_api(track: CertificationTrack, summary: TrackSummary) -> dict[str, Any]:
    return {"trackId": track.id, "trackName": track.name, "totalEnrolled": summary.enrolled,
            "completed": summary.completed, "inProgress": summary.in_progress,
            "notStarted": summary.not_started, "failed": summary.failed,
            "completionRate": summary.completion_rate}


# --- Projects and go-live readiness --------------------------------------------------

def get_project(project_id: int) -> ImplementationProject:
    """Raises NotFound."""
    project = db.session.get(ImplementationProject, project_id)
    if project is None:
        raise NotFound("Project not found.")
    return project


def create_project(actor: Actor, *, name: str, organization_id: int,
                   go_live_date: date | None) -> ImplementationProject:
    project = ImplementationProject(name=name.strip(), organization_id=organization_id,
                                    go_live_date=go_live_date)
    db.session.add(project)
    db.session.flush()
    audit.record(actor, AuditAction.CREATE, "project", project.id,
                 {"name": project.name, "organization_id": organization_id,
                  "go_live_date": go_live_date})
    return project


def assign_training(project: ImplementationProject, track: CertificationTrack, actor: Actor, *,
                    target_role: str = "any", required_completions: int = 1,
                    due_date: date | None = None) -> TrainingAssignment:
    """Raises ValidationFailed (bad role or count) or Conflict (already assigned)."""
    if target_role not in TARGET_ROLES:
        raise ValidationFailed("Unknown target role.",
                               fields={"target_role": [f"One of {', '.join(TARGET_ROLES)}."]})
    if required_completions < 1:
        raise ValidationFailed("At least one completion is required.",
                               fields={"required_completions": ["At least 1."]})
    assignment = TrainingAssignment(project_id=project.id, track_id=track.id,
                                    target_role=target_role,
                                    required_completions=required_completions, due_date=due_date)
    flush_or_raise(Conflict(f"{track.name} is already assigned to this project for that role.",
                            fields={"track_id": ["Already assigned for that role."]}),
                   add=[assignment])
    audit.record(actor, AuditAction.CREATE, "training_assignment", assignment.id,
                 {"project_id": project.id, "track_id": track.id, "target_role": target_role,
                  "required_completions": required_completions, "due_date": due_date})
    return assignment


@dataclass
class AssignmentStatus:
    assignment: TrainingAssignment
    completed: int  # valid on the go-live date
    expiring: int  # completed now, but expired by the go-live date
    enrolled: int

    @property
    def is_complete(self) -> bool:
        return self.completed >= self.assignment.required_completions

    @property
    def shortfall(self) -> int:
        return max(0, self.assignment.required_completions - self.completed)


@dataclass
class ProjectStatus:
    project: ImplementationProject
    assignments: list[AssignmentStatus] = field(default_factory=list)

    @property
    def overall_complete(self) -> bool:
        return all(a.is_complete for a in self.assignments)

    @property
    def blocking(self) -> list[AssignmentStatus]:
        return [a for a in self.assignments
                if a.assignment.track.required_for_go_live and not a.is_complete]

    @property
    def ready(self) -> bool:
        # Nothing assigned is not "ready": no one has checked what go-live needs.
        return bool(self.assignments) and not self.blocking


def project_status(project: ImplementationProject, as_of: date | None = None) -> ProjectStatus:
    """Each assignment's completions among the organization's people in the target role,
    counting only completions still valid on the go-live date (one grouped query)."""
    cutoff = project.go_live_date or as_of or _today()
    assignments = list(db.session.scalars(
        select(TrainingAssignment).options(selectinload(TrainingAssignment.track))
        .where(TrainingAssignment.project_id == project.id).order_by(TrainingAssignment.id)))
    status = ProjectStatus(project)
    if not assignments:
        return status
    track_ids = {a.track_id for a in assignments}
    valid = or_(Enrolment.expires_at.is_(None), Enrolment.expires_at >= cutoff)
    rows = db.session.execute(
        select(Enrolment.track_id, User.role,
               func.count(Enrolment.id),
               func.sum(case(((Enrolment.status == P.COMPLETED) & valid, 1), else_=0)),
               func.sum(case(((Enrolment.status == P.COMPLETED) & ~valid, 1), else_=0)))
        .join(User, User.id == Enrolment.user_id)
        .where(User.organization_id == project.organization_id, User.active.is_(True),
               Enrolment.track_id.in_(track_ids))
        .group_by(Enrolment.track_id, User.role)).all()
    for assignment in assignments:
        matching = [r for r in rows if r[0] == assignment.track_id and (
            assignment.target_role == "any" or r[1].value == assignment.target_role)]
        status.assignments.append(AssignmentStatus(
            assignment, completed=int(sum(r[3] or 0 for r in matching)),
            expiring=int(sum(r[4] or 0 for r in matching)),
            enrolled=int(sum(r[2] for r in matching))))
    return status


def project_status_to_api(status: ProjectStatus) -> dict[str, Any]:
    return {
        "projectId": status.project.id,
        "goLiveDate": status.project.go_live_date.isoformat()
        if status.project.go_live_date else None,
        "assignments": [{
            "trackId": a.assignment.track_id, "trackName": a.assignment.track.name,
            "targetRole": a.assignment.target_role,
            "required": a.assignment.required_completions, "completed": a.completed,
            "expiringBeforeGoLive": a.expiring, "isComplete": a.is_complete,
            "requiredForGoLive": a.assignment.track.required_for_go_live,
            "dueDate": a.assignment.due_date.isoformat() if a.assignment.due_date else None,
        } for a in status.assignments],
        "overallComplete": status.overall_complete,
    }


def readiness_to_api(status: ProjectStatus) -> dict[str, Any]:
    return {
        "projectId": status.project.id,
        "ready": status.ready,
        "blocking": [{
            "trackId": a.assignment.track_id, "trackName": a.assignment.track.name,
            "targetRole": a.assignment.target_role, "required": a.assignment.required_completions,
            "completed": a.completed, "shortfall": a.shortfall,
            "expiringBeforeGoLive": a.expiring,
        } for a in status.blocking],
    }


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
