"""The training catalogue for managers and admins: tracks, courses, quizzes, learners,
implementation projects and go-live readiness."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, current_app, redirect, request, url_for
from sqlalchemy import select

from app.blueprints.training.forms import (
    AssignmentForm,
    CourseForm,
    ProjectEditForm,
    ProjectForm,
    QuizForm,
    TrackForm,
    edit_question,
    question_data,
)
from app.extensions import db
from app.models import (
    CertificationTrack,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    Role,
    User,
)
from app.services import organizations as org_service
from app.services import training
from app.services import users as user_service
from app.services.errors import ValidationFailed
from app.services.fields import parse_ids, parse_int
from app.services.pagination import clamp_page, paginate
from app.services.training.quizzes import MAX_OPTIONS, MAX_QUESTIONS
from app.services.training.tracks import SORTS as TRACK_SORTS
from app.services.training.tracks import recertification_holders
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt, submit
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("training", __name__, url_prefix="/admin")
guard_blueprint(bp, [Role.ADMIN, Role.MANAGER])

TRACK_ROW = "partials/training/track_row.html"
TRACK_HEADER = "partials/training/track_header.html"
TRACK_EDIT_ROW = "partials/training/track_edit_row.html"
COURSE_ROW = "partials/training/course_row.html"
COURSE_EDIT_ROW = "partials/training/course_edit_row.html"


def question_index(value: str) -> int:
    """?index= of a new question in the quiz editor: 0..MAX_QUESTIONS-1 (the form is built
    with index+1 entries, so neither negative nor huge)."""
    return parse_int(value, min=0, max=MAX_QUESTIONS - 1)


def url_parse_query(url: str) -> dict[str, str]:
    """The query string of a URL (htmx's HX-Current-URL) as a dict of first values."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def _page_size() -> int:
    return current_app.config["PAGE_SIZE"]


# --- Tracks --------------------------------------------------------------------------

@bp.route("/tracks")
def tracks() -> Any:
    q = request.args.get("q", "")
    sort = TRACK_SORTS.parse(request.args.get("sort"), request.args.get("dir"))
    page = paginate(training.search_tracks(q, sort=sort), clamp_page(request.args.get("page")),
                    _page_size())
    return render("training/tracks.html", "partials/training/tracks_table.html", page=page, q=q,
                  sort=sort, create_form=TrackForm(formdata=None))


@bp.route("/tracks", methods=["POST"])
def create_track() -> Any:
    form = TrackForm()
    track = submit(form, lambda: training.create_track(current_actor(), **form.values()))
    if track is None:
        return fragment_only(TRACK_EDIT_ROW, form=form, track=None, status=form.status)
    # The list as the page shows it (its search and page are in the page's URL).
    shown = url_parse_query(request.headers.get("HX-Current-URL", ""))
    page = paginate(training.search_tracks(shown.get("q", ""), sort=TRACK_SORTS.parse(
                        shown.get("sort"), shown.get("dir"))),
                    clamp_page(shown.get("page")), _page_size())
    return fragment_only("partials/training/track_created.html", track=track,
                         create_form=TrackForm(formdata=None), page=page)


@bp.route("/tracks/<int:track_id>/row")
def track_row(track_id: int) -> Any:
    track = training.get_track(track_id)
    if not wants_fragment():
        return redirect(url_for("training.track", track_id=track.id))
    return fragment_only(TRACK_ROW, track=track)


@bp.route("/tracks/<int:track_id>/edit")
def edit_track(track_id: int) -> Any:
    track = training.get_track(track_id)
    form = TrackForm(formdata=None, obj=track, audience=track.audience.value,
                     level=track.level.value)
    if not wants_fragment():
        return redirect(url_for("training.track", track_id=track.id))
    return fragment_only(TRACK_EDIT_ROW, form=form, track=track)


@bp.route("/tracks/<int:track_id>", methods=["POST"])
def update_track(track_id: int) -> Any:
    track = training.get_track(track_id)
    form = TrackForm()
    if submit(form, lambda: training.update_track(track, current_actor(), **form.values())):
        return fragment_only(TRACK_ROW, track=track)
    return fragment_only(TRACK_EDIT_ROW, form=form, track=track, status=form.status)


@bp.route("/tracks/<int:track_id>/active", methods=["POST"])
def set_track_active(track_id: int) -> Any:
    track = training.get_track(track_id)
    training.update_track(track, current_actor(), active=request.form.get("active") == "1")
    return fragment_only(TRACK_ROW, track=track)


@bp.route("/tracks/<int:track_id>/version", methods=["POST"])
def bump_version(track_id: int) -> Any:
    """A new minor or major version, from the version the page showed (`from_version`):
    a double-click bumps once; the second gets 409 and the header as it is now."""
    track = training.get_track(track_id)
    part = request.form.get("part", "")
    if part not in ("major", "minor"):
        return fragment_only(TRACK_HEADER, status=422, **_header_context(
            track, error="Choose a minor or a major version."))
    major = part == "major"
    count, error = attempt(lambda: training.bump_version(
        track, current_actor(), major=major, from_version=request.form.get("from_version")))
    if error is not None:
        return fragment_only(TRACK_HEADER, status=error.status,
                             **_header_context(track, error=error.message))
    message = (f"Version {track.version}: {count} holder(s) must re-certify." if major
               else f"Version {track.version}: holders stay certified.")
    return fragment_only(TRACK_HEADER, **_header_context(track, message=message))


def _header_context(track: CertificationTrack, **extra: Any) -> dict[str, Any]:
    """The track's header: its version controls and the holders of an older major version."""
    return {"track": track, "recertification": recertification_holders(track), **extra}


def _track_context(track: CertificationTrack) -> dict[str, Any]:
    status = request.args.get("status", "")
    q = request.args.get("q", "")
    learners, done = training.track_learners(track, status=status, q=q,
                                             page=clamp_page(request.args.get("page")),
                                             per_page=_page_size())
    return {**_header_context(track), "summary": training.track_summary(track),
            "learners": learners,
            "done": done, "required_count": sum(1 for c in track.courses if c.required),
            "status_filter": status, "q": q, "statuses": list(ProgressStatus),
            "course_form": CourseForm(formdata=None),
            "in_use": training.course_usage([c.id for c in track.all_courses])}


@bp.route("/tracks/<int:track_id>")
def track(track_id: int) -> Any:
    track = training.get_track(track_id)
    return render("training/track.html", "partials/training/learners_table.html",
                  **_track_context(track))


@bp.route("/tracks/<int:track_id>/candidates")
def candidates(track_id: int) -> Any:
    track = training.get_track(track_id)
    enrolled = select(Enrolment.user_id).where(Enrolment.track_id == track.id)
    stmt = (user_service.search_users(request.args.get("q", ""), status="active")
            .where(User.id.not_in(enrolled)).limit(50))
    return fragment_only("partials/training/candidates.html",
                         users=list(db.session.scalars(stmt)))


@bp.route("/tracks/<int:track_id>/enrol", methods=["POST"])
def enrol(track_id: int) -> Any:
    track = training.get_track(track_id)
    ids = parse_ids(request.form.getlist("user_ids"))
    if not ids:
        return fragment_only("partials/credentials/assign_result.html",
                             error="Choose at least one person.", status=422)
    count, error = attempt(lambda: training.enrol_many(track, ids, current_actor()))
    if error is not None:
        return fragment_only("partials/credentials/assign_result.html", error=error.message,
                             status=error.status)
    response = fragment_only("partials/training/enrol_result.html", count=count)
    response.headers["HX-Trigger"] = "learners-changed"
    return response


# --- Courses -------------------------------------------------------------------------

@bp.route("/tracks/<int:track_id>/courses", methods=["POST"])
def create_course(track_id: int) -> Any:
    track = training.get_track(track_id)
    form = CourseForm()
    if submit(form, lambda: training.create_course(track, current_actor(), **form.values())):
        # The create row asked to replace itself; the whole table is fresher.
        response = _courses_fragment(track)
        response.headers["HX-Retarget"] = "#courses-table"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return fragment_only(COURSE_EDIT_ROW, form=form, course=None, track=track,
                         status=form.status)


def _courses_fragment(track: CertificationTrack, *, status: int = 200,
                      row_errors: dict[int, str] | None = None) -> Any:
    db.session.refresh(track)
    return fragment_only("partials/training/courses_table.html", track=track,
                         course_form=CourseForm(formdata=None), status=status,
                         in_use=training.course_usage([c.id for c in track.all_courses]),
                         row_errors=row_errors or {})


def _course_row(course: Any) -> Any:
    return fragment_only(COURSE_ROW, course=course, in_use=training.course_usage([course.id]))


@bp.route("/courses/<int:course_id>/row")
def course_row(course_id: int) -> Any:
    course = training.get_course(course_id)
    if not wants_fragment():
        return redirect(url_for("training.track", track_id=course.track_id))
    return _course_row(course)


@bp.route("/courses/<int:course_id>/edit")
def edit_course(course_id: int) -> Any:
    course = training.get_course(course_id)
    if not wants_fragment():
        return redirect(url_for("training.track", track_id=course.track_id))
    form = CourseForm(formdata=None, obj=course, content_type=course.content_type.value)
    return fragment_only(COURSE_EDIT_ROW, form=form, course=course, track=course.track)


@bp.route("/courses/<int:course_id>", methods=["POST"])
def update_course(course_id: int) -> Any:
    course = training.get_course(course_id)
    form = CourseForm()
    if submit(form, lambda: training.update_course(course, current_actor(), **form.values())):
        return _course_row(course)
    return fragment_only(COURSE_EDIT_ROW, form=form, course=course, track=course.track,
                         status=form.status)


@bp.route("/courses/<int:course_id>/move", methods=["POST"])
def move_course(course_id: int) -> Any:
    course = training.get_course(course_id)
    training.move_course(course, -1 if request.form.get("direction") == "up" else 1,
                         current_actor())
    return _courses_fragment(course.track)


def _course_change(course_id: int, action: Any) -> Any:
    """Archive, restore or delete a course from its row; the table answers (numbers and
    sections change). A refusal shows in the course's row, with its status."""
    course = training.get_course(course_id)
    track = course.track
    _, error = attempt(lambda: action(course, current_actor()))
    if error is not None:
        if error.status == 404:
            raise error  # gone a moment ago: the message area says so
        return _courses_fragment(track, status=error.status,
                                 row_errors={course_id: error.message})
    response = _courses_fragment(track)
    response.headers["HX-Trigger"] = "learners-changed"  # their progress counts change
    return response


@bp.route("/courses/<int:course_id>/archive", methods=["POST"])
def archive_course(course_id: int) -> Any:
    return _course_change(course_id, training.archive_course)


@bp.route("/courses/<int:course_id>/restore", methods=["POST"])
def restore_course(course_id: int) -> Any:
    return _course_change(course_id, training.restore_course)


@bp.route("/courses/<int:course_id>/delete", methods=["POST"])
def delete_course(course_id: int) -> Any:
    return _course_change(course_id, training.delete_course)


# --- Quiz editor ---------------------------------------------------------------------

@bp.route("/courses/<int:course_id>/quiz")
def quiz(course_id: int) -> Any:
    course = training.get_course(course_id)
    form = QuizForm(formdata=None, passing_score=course.passing_score,
                    attempt_limit=course.attempt_limit,
                    questions=QuizForm.editor_data(course.questions or []))
    return render("training/quiz_editor.html", course=course, form=form)


def _question_fragment(course_id: int, index: int, data: dict[str, Any]) -> Any:
    """One question of the editor (its fields named for position `index`)."""
    blank = question_data("single", "", ["", ""], [])
    form = QuizForm(formdata=None, questions=[blank] * index + [data])
    return fragment_only("partials/training/question.html", entry=form.questions[index],
                         number=index + 1, errors=[], course_id=course_id)


@bp.route("/courses/<int:course_id>/quiz/question")
def blank_question(course_id: int) -> Any:
    training.get_course(course_id)
    index = request.args.get("index", 0, type=question_index)
    return _question_fragment(course_id, index, question_data("single", "", ["", ""], []))


@bp.route("/courses/<int:course_id>/quiz/question/<int:index>")
def question_controls(course_id: int, index: int) -> Any:
    """The question as the editor holds it, after one of its controls (add or remove an
    option, change the type): read from the question's own fields, nothing is saved."""
    training.get_course(course_id)
    if index >= MAX_QUESTIONS:
        abort(404)
    prefix = f"questions-{index}-"
    args = request.args
    options = [args.get(f"{prefix}options-{j}", "")[:1000] for j in range(MAX_OPTIONS)
               if f"{prefix}options-{j}" in args]
    data = question_data(args.get(f"{prefix}kind", "single"), args.get(f"{prefix}prompt", ""),
                         options, [], args.get(f"{prefix}explanation", ""),
                         args.get(f"{prefix}qid", ""))
    data["correct"] = args.getlist(f"{prefix}correct")
    option = args.get("option", None, type=lambda v: parse_int(v, min=0, max=MAX_OPTIONS - 1))
    return _question_fragment(course_id, index,
                              edit_question(data, args.get("op", ""), option))


def _numbered(form: QuizForm, errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The service numbers the questions it was given; the editor also shows the removed
    ones: each message goes to the question it is about."""
    kept = form.kept()
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        head, _, number = key.partition(".")
        if head == "questions" and number.isdigit() and 0 < int(number) <= len(kept):
            key = f"questions.{kept[int(number) - 1]}"
        out.setdefault(key, []).extend(messages)
    return out


@bp.route("/courses/<int:course_id>/quiz/preview", methods=["POST"])
def preview_quiz(course_id: int) -> Any:
    """The quiz being edited as a learner will see it (no correct answers); nothing is
    saved. Questions with problems are listed instead (422)."""
    course = training.get_course(course_id)
    form = QuizForm()
    form.validate()
    try:
        questions = training.validate_questions(form.question_dicts())
    except ValidationFailed as error:
        return fragment_only("partials/training/quiz_preview.html", course=course,
                             questions=[], problems=_numbered(form, error.fields), status=422)
    return fragment_only("partials/training/quiz_preview.html", course=course,
                         questions=training.public_questions_of(questions),
                         passing_score=form.passing_score.data or course.passing_score,
                         attempt_limit=form.attempt_limit.data, problems={})


@bp.route("/courses/<int:course_id>/quiz", methods=["POST"])
def save_quiz(course_id: int) -> Any:
    course = training.get_course(course_id)
    form = QuizForm()
    errors: dict[str, list[str]] = {}
    status = 422
    if form.validate():
        _, error = attempt(lambda: training.save_quiz(
            course, form.question_dicts(), current_actor(),
            passing_score=form.passing_score.data, attempt_limit=form.attempt_limit.data))
        if error is None:
            saved = QuizForm(formdata=None, passing_score=course.passing_score,
                             attempt_limit=course.attempt_limit,
                             questions=QuizForm.editor_data(course.questions))
            return render("training/quiz_editor.html", "partials/training/quiz_form.html",
                          course=course, form=saved, saved=True)
        # Question-level messages go beside their questions, keyed by field name.
        errors, status = _numbered(form, error.fields), error.status
        form.form_errors.append(error.message)
    return render("training/quiz_editor.html", "partials/training/quiz_form.html",
                  course=course, form=form, errors=errors, status=status)


# --- Projects ------------------------------------------------------------------------

def _project_form() -> ProjectForm:
    form = ProjectForm(formdata=None)
    form.organization_id.choices = [(o.id, o.name) for o in org_service.all_organizations()]
    return form


@bp.route("/projects")
def projects() -> Any:
    stmt = select(ImplementationProject).order_by(ImplementationProject.go_live_date,
                                                  ImplementationProject.name)
    page = paginate(stmt, clamp_page(request.args.get("page")), _page_size())
    return render("training/projects.html", page=page, form=_project_form())


@bp.route("/projects", methods=["POST"])
def create_project() -> Any:
    form = ProjectForm()
    form.organization_id.choices = [(o.id, o.name) for o in org_service.all_organizations()]
    project = submit(form, lambda: training.create_project(
        current_actor(), name=form.name.data, organization_id=form.organization_id.data,
        go_live_date=form.go_live_date.data))
    if project is not None:
        response = redirect(url_for("training.project", project_id=project.id))
        if wants_fragment():
            response.headers["HX-Redirect"] = url_for("training.project", project_id=project.id)
            # Not a 302 for htmx: the XHR would follow it and swap the project page's
            # fragment into the form; htmx only sees HX-Redirect on the final response.
            response.status_code = 204
        return response
    return fragment_only("partials/training/project_form.html", form=form, status=form.status)


def _assignment_form(submitted: bool = False) -> AssignmentForm:
    choices = training.track_choices()
    if submitted:
        return AssignmentForm(track_choices=choices)
    return AssignmentForm(formdata=None, track_choices=choices)


def _edit_form(project: ImplementationProject) -> ProjectEditForm:
    return ProjectEditForm(formdata=None, obj=project)


@bp.route("/projects/<int:project_id>")
def project(project_id: int) -> Any:
    project = training.get_project(project_id)
    return render("training/project.html", "partials/training/project_status.html",
                  project=project, readiness=training.project_status(project),
                  form=_assignment_form(), edit_form=_edit_form(project))


@bp.route("/projects/<int:project_id>", methods=["POST"])
def update_project(project_id: int) -> Any:
    """Rename the project or move its go-live date; the header answers, and the
    readiness (judged on the go-live date) is swapped in beside it."""
    project = training.get_project(project_id)
    form = ProjectEditForm()
    saved = submit(form, lambda: training.update_project(
        project, current_actor(), name=form.name.data, go_live_date=form.go_live_date.data))
    if saved is None:
        db.session.refresh(project)  # the header shows what is stored, the form what was typed
        if not wants_fragment():
            return render("training/project.html", project=project, status=form.status,
                          readiness=training.project_status(project),
                          form=_assignment_form(), edit_form=form)
        return fragment_only("partials/training/project_header.html", project=project,
                             edit_form=form, status=form.status)
    if not wants_fragment():
        return redirect(url_for("training.project", project_id=project.id))
    return fragment_only("partials/training/project_saved.html", project=project,
                         edit_form=_edit_form(project), saved=True,
                         readiness=training.project_status(project), form=_assignment_form())


@bp.route("/projects/<int:project_id>/assignments/<int:assignment_id>/delete",
          methods=["POST"])
def remove_assignment(project_id: int, assignment_id: int) -> Any:
    project = training.get_project(project_id)
    training.remove_assignment(training.get_assignment(project, assignment_id),
                               current_actor())
    return fragment_only("partials/training/project_status.html", project=project,
                         readiness=training.project_status(project), form=_assignment_form())


@bp.route("/projects/<int:project_id>/assignments", methods=["POST"])
def assign(project_id: int) -> Any:
    project = training.get_project(project_id)
    form = _assignment_form(submitted=True)
    assigned = submit(form, lambda: training.assign_training(
        project, training.get_track(form.track_id.data), current_actor(),
        target_role=form.target_role.data, required_completions=form.required_completions.data,
        due_date=form.due_date.data))
    status = form.status
    if assigned is not None:
        form = _assignment_form()
    return fragment_only("partials/training/project_status.html", project=project,
                         readiness=training.project_status(project), form=form, status=status)


# The manager's view of a learner and the retake controls (their own module).
from app.blueprints.training import learner_view  # noqa: E402,F401
