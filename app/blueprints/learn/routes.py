"""Learning: tracks to enrol in, course content, and the live quiz."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.models import CertificationTrack, Course, Enrolment, ProgressStatus
from app.services import training
from app.services.fields import DIGITS
from app.web.auth import current_actor
from app.web.boundary import attempt
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("learn", __name__, url_prefix="/learn")


@bp.before_request
@login_required
def _logged_in() -> None:
    return None


def _open_track(track_id: int) -> CertificationTrack:
    """Learners see active tracks only; an inactive one is as good as gone."""
    track = training.get_track(track_id)
    if not track.active:
        abort(404)
    return track


def _my_enrolment(course: Course) -> Enrolment:
    if course.archived:
        abort(404)  # an archived course is hidden from learners
    track = _open_track(course.track_id)
    enrolment = training.find_enrolment(current_user.id, track.id)
    if enrolment is None:
        abort(403)
    return enrolment


@bp.route("/tracks")
def tracks() -> Any:
    return render("learn/tracks.html", enrolments=training.learner_enrolments(current_user),
                  open_tracks=training.open_tracks(current_user))


@bp.route("/tracks/<int:track_id>")
def track(track_id: int) -> Any:
    track = _open_track(track_id)
    enrolment = training.find_enrolment(current_user.id, track.id)
    progress = {p.course_id: p for p in enrolment.course_progress} if enrolment else {}
    return render("learn/track.html", track=track, enrolment=enrolment, progress=progress,
                  percent=training.percent_complete(enrolment) if enrolment else 0)


@bp.route("/tracks/<int:track_id>/enrol", methods=["POST"])
def enrol(track_id: int) -> Any:
    track = _open_track(track_id)
    _, error = attempt(lambda: training.enrol(current_user._get_current_object(), track,
                                              current_actor()))
    if error is not None:
        flash(error.message, "warning")
    else:
        flash(f"You are enrolled in {track.name}.", "success")
    return redirect(url_for("learn.track", track_id=track.id))


@bp.route("/courses/<int:course_id>")
def course(course_id: int) -> Any:
    course = training.get_course(course_id)
    enrolment = _my_enrolment(course)
    progress = training.progress_view(enrolment, course)  # a GET writes nothing
    return render("learn/course.html", course=course, enrolment=enrolment, progress=progress,
                  attempts_left=training.attempts_left(progress),
                  last=training.last_attempt(progress),
                  questions=training.public_questions(course))


@bp.route("/courses/<int:course_id>/complete", methods=["POST"])
def complete(course_id: int) -> Any:
    course = training.get_course(course_id)
    enrolment = _my_enrolment(course)
    _, error = attempt(lambda: training.complete_course(training.progress_for(enrolment, course),
                                                        current_actor()))
    if error is not None:
        flash(error.message, "warning")
    else:
        flash(f"{course.title} is complete.", "success")
    return redirect(url_for("learn.track", track_id=course.track_id))


def _answers(course: Course) -> dict[str, list[int]]:
    """Form fields answer-<question id> (one or several option indexes) to a mapping."""
    answers: dict[str, list[int]] = {}
    for question in course.questions or []:
        # Option indexes in ASCII digits ("²" passes str.isdigit() but not int()).
        chosen = [int(v) for v in request.form.getlist(f"answer-{question['id']}")
                  if DIGITS.fullmatch(v)]
        if chosen:
            answers[question["id"]] = chosen
    return answers


@bp.route("/courses/<int:course_id>/quiz/progress", methods=["POST"])
def quiz_progress(course_id: int) -> Any:
    """'Answered 3 of 5' while the learner works; nothing is graded or stored."""
    course = training.get_course(course_id)
    _my_enrolment(course)
    return fragment_only("partials/learn/quiz_progress.html", answered=len(_answers(course)),
                         total=len(course.questions or []))


@bp.route("/courses/<int:course_id>/quiz", methods=["POST"])
def submit_quiz(course_id: int) -> Any:
    course = training.get_course(course_id)
    enrolment = _my_enrolment(course)
    progress = training.progress_for(enrolment, course)
    answers = _answers(course)
    # Questions left unanswered refuse the submission (no attempt used) until the
    # learner presses "Submit anyway" in the warning that answer shows.
    anyway = request.form.get("submit_anyway") == "1"
    graded, error = attempt(lambda: training.submit_quiz_attempt(
        progress, answers, current_actor(), allow_unanswered=anyway))
    if error is not None:
        missing = error.question_ids if isinstance(error, training.IncompleteAnswers) else []
        return render("learn/course.html", "partials/learn/quiz_error.html", course=course,
                      enrolment=enrolment, progress=progress,
                      error=None if missing else error.message, missing=missing, chosen=answers,
                      attempts_left=training.attempts_left(progress),
                      last=training.last_attempt(progress),
                      questions=training.public_questions(course), status=error.status)
    context = {"course": course, "enrolment": enrolment, "progress": progress, "last": graded,
               "attempts_left": training.attempts_left(progress),
               "questions": training.public_questions(course), "just_submitted": True}
    if not wants_fragment():
        return render("learn/course.html", **context)
    return fragment_only("partials/learn/quiz.html", **context,
                         track_completed=enrolment.status == ProgressStatus.COMPLETED)
