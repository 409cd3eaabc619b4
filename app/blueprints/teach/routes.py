"""/teach: instructors (active TEACHING certificate holders) run course sessions, mark
attendance and recommend certificates; learners rate the sessions they attended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.models import (
    CertificateType,
    Course,
    CourseSession,
    Enrolment,
    SessionAttendance,
    User,
)
from app.models.base import utcnow
from app.services import certificates as cert_service
from app.services import teaching, training
from app.services import users as user_service
from app.services.errors import ServiceError, ValidationFailed
from app.services.fields import parse_id, parse_int
from app.web.auth import current_actor
from app.web.boundary import attempt
from app.web.htmx import fragment_only, render

bp = Blueprint("teach", __name__, url_prefix="/teach")


@bp.before_request
@login_required
def _logged_in() -> None:
    return None


def _taught(course_id: int) -> Course:
    course = training.get_course(course_id)
    if not teaching.is_instructor(current_user, course):
        abort(403)
    return course


def _session(session_id: int) -> CourseSession:
    session = db.session.get(CourseSession, session_id)
    if session is None or session.instructor_id != current_user.id:
        abort(404)
    return session


@bp.route("")
def index() -> Any:
    courses = teaching.taught_courses(current_user)
    sessions = list(db.session.scalars(
        select(CourseSession).where(CourseSession.instructor_id == current_user.id)
        .order_by(CourseSession.starts_at.desc()).limit(50)))
    return render("teach/index.html", courses=courses, sessions=sessions)


@bp.route("/courses/<int:course_id>/sessions", methods=["POST"])
def create_session(course_id: int) -> Any:
    course = _taught(course_id)
    try:
        starts_at = datetime.fromisoformat(request.form.get("starts_at", "")).replace(
            tzinfo=utcnow().tzinfo)
    except ValueError:
        flash("Give the session's date and time.", "warning")
        return redirect(url_for("teach.index"))
    session = teaching.create_session(current_actor(), course,
                                          title=request.form.get("title", "")[:200],
                                          starts_at=starts_at,
                                          location=request.form.get("location", "")[:200])
    return redirect(url_for("teach.session", session_id=session.id))


def _learners(session: CourseSession) -> list[tuple[User, SessionAttendance | None, Any]]:
    """The course's learners (enrolled in its track) with their attendance and any live
    certificate for the course."""
    users = list(db.session.scalars(
        select(User).join(Enrolment, Enrolment.user_id == User.id)
        .where(Enrolment.track_id == session.course.track_id, User.id != session.instructor_id)
        .order_by(User.name)))
    attendance = {a.user_id: a for a in session.attendance}
    return [(u, attendance.get(u.id), cert_service.live_certificate(
        u.id, session.course_id, None, CertificateType.COMPLETION)) for u in users]


@bp.route("/sessions/<int:session_id>")
def session(session_id: int) -> Any:
    session = _session(session_id)
    return render("teach/session.html", session=session, learners=_learners(session))


def _row_answer(session: CourseSession, learner: User, error: ServiceError | None) -> Any:
    """The learner's row again (with a refusal's message in it). Someone the page does not
    list (not enrolled in the track, the instructor) has no row: the service refused them,
    and the refusal goes to the page's message area (the error handler)."""
    row = next((r for r in _learners(session) if r[0].id == learner.id), None)
    if row is None:
        raise error or ValidationFailed(f"{learner.name} is not one of this course's learners.")
    return fragment_only("partials/teach/learner_row.html", session=session, row=row,
                         error=error.message if error else None,
                         status=error.status if error else 200)


@bp.route("/sessions/<int:session_id>/attendance", methods=["POST"])
def attendance(session_id: int) -> Any:
    session = _session(session_id)
    learner = user_service.get_user(request.form.get("user_id", type=parse_id) or 0)
    _, error = attempt(lambda: teaching.mark_attendance(
        current_actor(), session, learner, request.form.get("attended") == "1"))
    return _row_answer(session, learner, error)


@bp.route("/sessions/<int:session_id>/recommend", methods=["POST"])
def recommend(session_id: int) -> Any:
    session = _session(session_id)
    learner = user_service.get_user(request.form.get("user_id", type=parse_id) or 0)
    _, error = attempt(lambda: teaching.recommend(
        current_actor(), session.course, learner, notes=request.form.get("notes", "")[:1000]))
    return _row_answer(session, learner, error)


@bp.route("/sessions/<int:session_id>/rate", methods=["POST"])
def rate(session_id: int) -> Any:
    """A learner rates a session they attended (1-5)."""
    session = db.session.get(CourseSession, session_id) or abort(404)
    _, error = attempt(lambda: teaching.rate_session(
        current_actor(), session, request.form.get("rating", type=parse_int) or 0))
    if error is not None:
        flash(error.message, "warning")
    else:
        flash("Thank you for rating the session.", "success")
    return redirect(url_for("main.me"))
