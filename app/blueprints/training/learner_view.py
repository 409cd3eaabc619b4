"""The manager's view of one learner on one track: every course with its status and best
score, every quiz attempt (score, time), the attempts left, and the controls that give
another try (grant extra attempts, reset the count).

Stable URL: /admin/tracks/<track_id>/learners/<user_id> (endpoint training.learner);
the person page and the track's learner list link here.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, request, url_for

from app.blueprints.training.routes import bp
from app.models import CourseProgress, Enrolment
from app.services import training
from app.services.errors import NotFound, ServiceError
from app.services.fields import parse_int
from app.web.auth import current_actor
from app.web.boundary import attempt
from app.web.htmx import render, wants_fragment

COURSE_CARD = "partials/training/learner_course.html"


def _enrolment(track_id: int, user_id: int) -> Enrolment:
    try:
        return training.enrolment_of(user_id, track_id)
    except NotFound:
        abort(404)


def _number(name: str) -> Any:
    """A form number as an int for the service, or the raw text (the service refuses it
    with a field error); missing is None."""
    raw = request.form.get(name)
    if raw is None:
        return None
    try:
        return parse_int(raw, min=0, max=10_000)
    except ValueError:
        return raw


@bp.route("/tracks/<int:track_id>/learners/<int:user_id>")
def learner(track_id: int, user_id: int) -> Any:
    enrolment = _enrolment(track_id, user_id)
    return render("training/learner.html", enrolment=enrolment,
                  records=training.learner_record(enrolment))


def _change(progress_id: int, action: str) -> Any:
    try:
        row: CourseProgress = training.course_progress(progress_id)
    except NotFound:
        abort(404)
    enrolment = row.enrolment
    if action == "grant":
        _, error = attempt(lambda: training.grant_attempts(
            row, current_actor(), extra=_number("extra_attempts"),
            expected_left=_number("expected_attempts_left")))
    else:
        _, error = attempt(lambda: training.reset_attempts(
            row, current_actor(), expected_left=_number("expected_attempts_left")))
    if isinstance(error, NotFound):  # an archived course: not on the learner's track now
        raise error  # a 404 that says so (in place for htmx)
    page_url = url_for("training.learner", track_id=enrolment.track_id, user_id=enrolment.user_id)
    if error is None and not wants_fragment():
        return redirect(page_url)  # a plain form: back to the learner, freshly read
    return _answer(enrolment, row, error)


def _answer(enrolment: Enrolment, row: CourseProgress, error: ServiceError | None) -> Any:
    records = training.learner_record(enrolment)
    record = next((r for r in records if r.progress.id == row.id), None)
    if record is None:
        # Its course was archived (the refusal was about the numbers sent, checked first):
        # there is no card to answer with, and nothing to grant on it any more.
        raise NotFound("That course is archived: it is no longer part of the track.")
    done = None if error else (
        "Attempts reset: the full limit again." if request.path.endswith("/reset")
        else f"Granted. {record.attempts_left} attempt"
             f"{'' if record.attempts_left == 1 else 's'} left now.")
    return render("training/learner.html", COURSE_CARD, enrolment=enrolment, records=records,
                  record=record, changed_id=row.id, error=error, done=done,
                  status=error.status if error else 200)


@bp.route("/course-progress/<int:progress_id>/grant", methods=["POST"])
def grant_attempts(progress_id: int) -> Any:
    return _change(progress_id, "grant")


@bp.route("/course-progress/<int:progress_id>/reset", methods=["POST"])
def reset_attempts(progress_id: int) -> Any:
    return _change(progress_id, "reset")
