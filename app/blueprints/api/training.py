"""/api/v1/internal/training: seed 003's REST contract, on the pages' services.

Managers and admins change the catalogue and see everyone's progress; a learner sees
and changes only their own enrolments and progress.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.blueprints.api.routes import json_body, page_args, page_json
from app.blueprints.training.forms import (
    ASSIGN_API_FIELDS,
    COURSE_API_FIELDS,
    TRACK_API_FIELDS,
    AssignmentForm,
    CourseForm,
    TrackForm,
)
from app.extensions import csrf, db
from app.models import (
    CertificationTrack,
    Course,
    CourseProgress,
    Enrolment,
    ProgressStatus,
    Role,
    User,
)
from app.services import training
from app.services import users as user_service
from app.services.errors import NotFound, ValidationFailed
from app.services.fields import MAX_ID, parse_id
from app.services.pagination import paginate
from app.web.auth import allow_roles, current_actor, guard_blueprint
from app.web.forms import validate_json

bp = Blueprint("api_training", __name__, url_prefix="/api/v1/internal/training")
csrf.exempt(bp)
# Every signed-in role may call it; catalogue changes are narrowed per route below.
guard_blueprint(bp, list(Role), api=True)
MANAGERS = (Role.ADMIN, Role.MANAGER)


def _is_id(value: Any) -> bool:
    """A row id in a JSON body: an integer (not a bool) from 1 to MAX_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _is_manager() -> bool:
    return current_user.role in MANAGERS


def track_to_api(track: CertificationTrack, *, courses: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": track.id, "name": track.name, "description": track.description,
        "type": track.audience.value, "level": track.level.value, "version": track.version,
        "isActive": track.active, "requiredForGoLive": track.required_for_go_live,
        "estimatedHours": track.estimated_hours, "validityMonths": track.validity_months,
        "recertificationGraceDays": track.recertification_grace_days,
        "autoIssue": track.auto_issue,
        "majorVersionChangedAt": (track.major_version_changed_at.isoformat()
                                  if track.major_version_changed_at else None),
        "createdAt": track.created_at.isoformat(), "updatedAt": track.updated_at.isoformat(),
    }
    if courses:
        # Managers also see the archived courses (isArchived); learners only the live ones.
        listed = track.all_courses if _is_manager() else track.courses
        data["courses"] = [course_to_api(c) for c in listed]
    return data


def course_to_api(course: Course) -> dict[str, Any]:
    return {
        "id": course.id, "trackId": course.track_id, "name": course.title,
        "description": course.description, "contentType": course.content_type.value,
        "contentUrl": course.content_url, "contentBody": course.content_body,
        "estimatedMinutes": course.estimated_minutes, "sortOrder": course.sort_order,
        "isRequired": course.required, "hasExam": course.has_exam,
        "passingScore": course.passing_score, "attemptLimit": course.attempt_limit,
        "isArchived": course.archived,
        "archivedAt": course.archived_at.isoformat() if course.archived_at else None,
        # Learners never get the answers through the API either.
        "questions": (course.questions if _is_manager() else training.public_questions(course)),
    }


def progress_to_api(enrolment: Enrolment) -> dict[str, Any]:
    organization_id = enrolment.user.organization_id
    return {
        "id": enrolment.id, "userId": enrolment.user_id, "trackId": enrolment.track_id,
        # Seed 003's TrainingProgress: client users belong to an organization.
        "organizationId": organization_id,
        "userType": "CLIENT" if organization_id is not None else "INTERNAL",
        "status": enrolment.status.value, "percentComplete": training.percent_complete(enrolment),
        "startedAt": enrolment.started_at.isoformat() if enrolment.started_at else None,
        "completedAt": enrolment.completed_at.isoformat() if enrolment.completed_at else None,
        "completedVersion": enrolment.completed_version,
        "expiresAt": enrolment.expires_at.isoformat() if enrolment.expires_at else None,
        "courses": [{
            "id": p.id, "courseId": p.course_id, "status": p.status.value,
            "examScore": p.exam_score, "examAttempts": p.exam_attempts,
            "extraAttempts": p.extra_attempts, "attemptsLeft": training.attempts_left(p),
            "completedAt": p.completed_at.isoformat() if p.completed_at else None,
        } for p in sorted(enrolment.course_progress, key=lambda p: (p.course.sort_order, p.id))],
    }


def _own_or_manager(user_id: int) -> None:
    if user_id != current_user.id and not _is_manager():
        abort(403)


# --- Tracks and courses --------------------------------------------------------------

@bp.route("/tracks")
def list_tracks() -> Any:
    active = request.args.get("isActive")
    stmt = training.search_tracks(
        request.args.get("q", ""), audience=request.args.get("type", ""),
        active=True if not _is_manager() else (None if active is None else active == "true"))
    page = paginate(stmt, *page_args())
    return jsonify(page_json(page, [track_to_api(t) for t in page.items]))


@bp.route("/tracks/<int:track_id>")
def get_track(track_id: int) -> Any:
    track = training.get_track(track_id)
    if not track.active and not _is_manager():
        raise NotFound("Track not found.")
    return jsonify(track_to_api(track, courses=True))


@bp.route("/tracks", methods=["POST"])
@allow_roles(*MANAGERS)
def create_track() -> Any:
    payload = json_body()
    payload.setdefault("isActive", True)  # seed 003: isActive defaults to true
    form = validate_json(TrackForm, payload, aliases=TRACK_API_FIELDS)
    track = training.create_track(current_actor(), **form.values())
    return jsonify(track_to_api(track)), 201


@bp.route("/tracks/<int:track_id>", methods=["PATCH"])
@allow_roles(*MANAGERS)
def update_track(track_id: int) -> Any:
    track = training.get_track(track_id)
    form = validate_json(TrackForm, json_body(), partial=True, aliases=TRACK_API_FIELDS)
    training.update_track(track, current_actor(), **form.values())
    return jsonify(track_to_api(track))


@bp.route("/courses", methods=["POST"])
@allow_roles(*MANAGERS)
def create_course() -> Any:
    payload = json_body()
    track_id = payload.pop("trackId", None) if isinstance(payload, dict) else None
    if not _is_id(track_id):
        raise ValidationFailed("Which track?", fields={"trackId": ["Give the track's id."]})
    sort_order = _sort_order(payload)
    payload.setdefault("isRequired", True)  # seed 003: isRequired defaults to true
    track = training.get_track(track_id)
    form = validate_json(CourseForm, payload, aliases=COURSE_API_FIELDS)
    values = form.values()
    if sort_order is not None:
        values["sort_order"] = sort_order
    course = training.create_course(track, current_actor(), **values)
    return jsonify(course_to_api(course)), 201


def _sort_order(payload: dict[str, Any]) -> int | None:
    """Seed 003's sortOrder (taken out of the payload): a whole number 0-100000."""
    if "sortOrder" not in payload:
        return None
    value = payload.pop("sortOrder")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100_000:
        raise ValidationFailed("Some fields are not valid.",
                               fields={"sortOrder": ["A whole number from 0 to 100000."]})
    return value


@bp.route("/courses/<int:course_id>", methods=["PATCH"])
@allow_roles(*MANAGERS)
def update_course(course_id: int) -> Any:
    course = training.get_course(course_id)
    payload = json_body()
    questions = payload.pop("questions", None) if isinstance(payload, dict) else None
    sort_order = _sort_order(payload)
    form = validate_json(CourseForm, payload, partial=True, aliases=COURSE_API_FIELDS)
    values = form.values()
    if sort_order is not None:
        values["sort_order"] = sort_order
    training.update_course(course, current_actor(), **values)
    if questions is not None:
        training.save_quiz(course, questions, current_actor())
    return jsonify(course_to_api(course))


@bp.route("/courses/<int:course_id>", methods=["DELETE"])
@allow_roles(*MANAGERS)
def delete_course(course_id: int) -> Any:
    """Seed 003's deleteCourse: only a course nothing refers to (409 otherwise, offering
    archive)."""
    training.delete_course(training.get_course(course_id), current_actor())
    return "", 204


@bp.route("/courses/<int:course_id>/archive", methods=["POST"])
@allow_roles(*MANAGERS)
def archive_course(course_id: int) -> Any:
    course = training.archive_course(training.get_course(course_id), current_actor())
    return jsonify(course_to_api(course))


@bp.route("/courses/<int:course_id>/restore", methods=["POST"])
@allow_roles(*MANAGERS)
def restore_course(course_id: int) -> Any:
    course = training.restore_course(training.get_course(course_id), current_actor())
    return jsonify(course_to_api(course))


@bp.route("/tracks/<int:track_id>/courses/reorder", methods=["POST"])
@allow_roles(*MANAGERS)
def reorder(track_id: int) -> Any:
    track = training.get_track(track_id)
    payload = json_body()
    ids = payload.get("ids") if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(_is_id(i) for i in ids):
        raise ValidationFailed("Send {\"ids\": [course ids in order]}.",
                               fields={"ids": ["A list of course ids."]})
    training.reorder_courses(track, ids, current_actor())
    return jsonify({"trackId": track.id, "ids": [c.id for c in track.courses]})


# --- Enrolment and progress ----------------------------------------------------------

@bp.route("/enroll", methods=["POST"])
def enroll() -> Any:
    payload = json_body()
    user_id = payload.get("userId", current_user.id) if isinstance(payload, dict) else None
    track_id = payload.get("trackId") if isinstance(payload, dict) else None
    if not _is_id(user_id) or not _is_id(track_id):
        raise ValidationFailed("Send userId and trackId.",
                               fields={"trackId": ["Give the track's id."]})
    _own_or_manager(user_id)
    track = training.get_track(track_id)
    if not track.active and not _is_manager():
        raise NotFound("Track not found.")
    enrolment = training.enrol(user_service.get_user(user_id), track, current_actor())
    return jsonify(progress_to_api(enrolment)), 201


def _query_id(name: str, raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return parse_id(raw)
    except ValueError:
        raise ValidationFailed("Some filters are not valid.",
                               fields={name: ["A row id (a whole number)."]}) from None


@bp.route("/progress")
def list_progress() -> Any:
    """Seed 003's ProgressQueryDto (trackId, organizationId, status, userId), paginated.
    Managers and admins see everyone; an org admin their own organization's people (another
    organization is 404); anyone else only their own enrolments."""
    track_id = _query_id("trackId", request.args.get("trackId"))
    organization_id = _query_id("organizationId", request.args.get("organizationId"))
    user_id = _query_id("userId", request.args.get("userId"))
    status = request.args.get("status") or None
    if status is not None and status not in ProgressStatus.__members__:
        raise ValidationFailed("Unknown status.", fields={"status": [
            "One of NOT_STARTED, IN_PROGRESS, COMPLETED, FAILED."]})
    stmt = (select(Enrolment).join(User, User.id == Enrolment.user_id)
            .options(selectinload(Enrolment.user),
                     selectinload(Enrolment.course_progress).selectinload(CourseProgress.course),
                     selectinload(Enrolment.track).selectinload(CertificationTrack.courses))
            .order_by(Enrolment.id))
    if current_user.role == Role.ORG_ADMIN:
        # Without an organization of their own an org admin sees nobody (never "IS NULL":
        # the internal staff).
        if current_user.organization_id is None or (
                organization_id is not None and organization_id != current_user.organization_id):
            raise NotFound("Organization not found.")
        stmt = stmt.where(User.organization_id == current_user.organization_id)
    elif not _is_manager():
        if user_id is not None:
            _own_or_manager(user_id)
        stmt = stmt.where(Enrolment.user_id == current_user.id)
    if track_id is not None:
        stmt = stmt.where(Enrolment.track_id == track_id)
    if organization_id is not None:
        stmt = stmt.where(User.organization_id == organization_id)
    if user_id is not None:
        stmt = stmt.where(Enrolment.user_id == user_id)
    if status is not None:
        stmt = stmt.where(Enrolment.status == ProgressStatus(status))
    page = paginate(stmt, *page_args())
    return jsonify(page_json(page, [progress_to_api(e) for e in page.items]))


@bp.route("/progress/<int:user_id>/<int:track_id>")
def progress(user_id: int, track_id: int) -> Any:
    _own_or_manager(user_id)
    enrolment = training.find_enrolment(user_id, track_id)
    if enrolment is None:
        raise NotFound("Not enrolled in that track.")
    return jsonify(progress_to_api(enrolment))


def _course_progress(progress_id: int) -> CourseProgress:
    row = db.session.get(CourseProgress, progress_id)
    if row is None:
        raise NotFound("Course progress not found.")
    if row.enrolment.user_id != current_user.id and not _is_manager():
        raise NotFound("Course progress not found.")  # others' progress does not exist for you
    return row


@bp.route("/course-progress/<int:progress_id>", methods=["PATCH"])
def update_course_progress(progress_id: int) -> Any:
    row = _course_progress(progress_id)
    payload = json_body()
    status = payload.get("status") if isinstance(payload, dict) else None
    if not isinstance(status, str) or status not in ProgressStatus.__members__:
        raise ValidationFailed("Unknown status.", fields={"status": [
            "One of NOT_STARTED, IN_PROGRESS, COMPLETED, FAILED."]})
    score = payload.get("examScore")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise ValidationFailed("The exam score is a number.", fields={"examScore": ["A number."]})
    if _is_manager():
        training.set_course_progress(row, current_actor(), status=ProgressStatus(status),
                                     exam_score=score)
    else:
        # A learner can only complete a course without an exam; exams are graded here.
        if status != "COMPLETED" or score is not None:
            raise ValidationFailed("You can mark a course complete; quizzes are graded "
                                   "when you submit them.", fields={"status": ["COMPLETED only."]})
        training.complete_course(row, current_actor())
    return jsonify(progress_to_api(row.enrolment))


@bp.route("/course-progress/<int:progress_id>/quiz", methods=["POST"])
def submit_quiz(progress_id: int) -> Any:
    row = _course_progress(progress_id)
    if row.enrolment.user_id != current_user.id:
        abort(403)  # only the learner takes their own quiz
    payload = json_body()
    answers = payload.get("answers") if isinstance(payload, dict) else None
    training.check_answer_shape(row.course.questions or [], answers)
    # Unanswered questions: 422 naming them (fields.answers), nothing recorded, unless
    # "submitAnyway": true (they count as wrong), as the page's "Submit anyway" does.
    anyway = payload.get("submitAnyway", False) if isinstance(payload, dict) else False
    if not isinstance(anyway, bool):
        raise ValidationFailed("submitAnyway is true or false.",
                               fields={"submitAnyway": ["true or false."]})
    attempt = training.submit_quiz_attempt(row, answers, current_actor(),
                                           allow_unanswered=anyway)
    wrong = [q for q in row.course.questions if q["id"] in attempt.wrong_question_ids]
    return jsonify({
        "attempt": attempt.attempt_number, "score": attempt.score, "passed": attempt.passed,
        "passingScore": row.course.passing_score, "attemptsLeft": training.attempts_left(row),
        "wrong": [{"id": q["id"], "prompt": q["prompt"], "explanation": q["explanation"]}
                  for q in wrong],
        "progress": progress_to_api(row.enrolment),
    }), 201


def _attempts_to_api(row: CourseProgress) -> dict[str, Any]:
    return {"id": row.id, "courseId": row.course_id, "userId": row.enrolment.user_id,
            "status": row.status.value, "examScore": row.exam_score,
            "examAttempts": row.exam_attempts, "extraAttempts": row.extra_attempts,
            "attemptLimit": row.course.attempt_limit,
            "attemptsLeft": training.attempts_left(row)}


@bp.route("/course-progress/<int:progress_id>/grant-attempts", methods=["POST"])
@allow_roles(*MANAGERS)
def grant_attempts(progress_id: int) -> Any:
    """{"extraAttempts": 1-20, "expectedAttemptsLeft": n}: n is the attemptsLeft the
    caller last read; another value by now (a repeat, a new attempt) answers 409."""
    row = _course_progress(progress_id)
    payload = json_body()
    if not isinstance(payload, dict):
        payload = {}
    training.grant_attempts(row, current_actor(), extra=payload.get("extraAttempts"),
                            expected_left=payload.get("expectedAttemptsLeft"))
    return jsonify(_attempts_to_api(row))


@bp.route("/course-progress/<int:progress_id>/reset-attempts", methods=["POST"])
@allow_roles(*MANAGERS)
def reset_attempts(progress_id: int) -> Any:
    """{"expectedAttemptsLeft": n}: the full attempt limit again (a new cycle)."""
    row = _course_progress(progress_id)
    payload = json_body()
    if not isinstance(payload, dict):
        payload = {}
    training.reset_attempts(row, current_actor(),
                            expected_left=payload.get("expectedAttemptsLeft"))
    return jsonify(_attempts_to_api(row))


@bp.route("/tracks/<int:track_id>/summary")
@allow_roles(*MANAGERS)
def summary(track_id: int) -> Any:
    track = training.get_track(track_id)
    return jsonify(training.summary_to_api(track, training.track_summary(track)))


# --- Projects ------------------------------------------------------------------------

@bp.route("/projects/<int:project_id>/assign", methods=["POST"])
@allow_roles(*MANAGERS)
def assign(project_id: int) -> Any:
    project = training.get_project(project_id)
    form = validate_json(AssignmentForm, json_body(), aliases=ASSIGN_API_FIELDS,
                         track_choices=training.track_choices())
    assignment = training.assign_training(
        project, training.get_track(form.track_id.data), current_actor(),
        target_role=form.target_role.data, required_completions=form.required_completions.data,
        due_date=form.due_date.data)
    return jsonify({"id": assignment.id, "projectId": project.id, "trackId": assignment.track_id,
                    "targetRole": assignment.target_role,
                    "requiredCompletions": assignment.required_completions,
                    "dueDate": assignment.due_date.isoformat() if assignment.due_date else None}
                   ), 201


@bp.route("/projects/<int:project_id>/status")
@allow_roles(*MANAGERS)
def project_status(project_id: int) -> Any:
    project = training.get_project(project_id)
    return jsonify(training.project_status_to_api(training.project_status(project)))


@bp.route("/projects/<int:project_id>/go-live-readiness")
@allow_roles(*MANAGERS)
def readiness(project_id: int) -> Any:
    project = training.get_project(project_id)
    return jsonify(training.readiness_to_api(training.project_status(project)))
