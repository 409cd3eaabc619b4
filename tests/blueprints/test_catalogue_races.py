"""Deleting a course and removing a project's assignment under double-clicks and two
managers at once: of N identical requests one takes effect (one audit row), the others
get a clear 404. Really concurrent on PostgreSQL."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, ContentType, Course, Role, TrainingAssignment
from app.services import training
from app.services.context import Actor
from tests.conftest import HX

N = 8


def _count(app, *criteria, model=AuditLog):
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)).where(*criteria)) or 0


def test_parallel_course_deletes_delete_once(app, make_user, make_track, race):
    track = make_track(exam=False)
    with app.app_context():
        course = training.create_course(training.get_track(track.id), Actor.system(),
                                        title="Unused", content_type=ContentType.TEXT,
                                        content_body="x")
        db.session.commit()
        course_id = course.id
    responses = race(make_user(Role.MANAGER), "POST", f"/admin/courses/{course_id}/delete",
                     n=N, headers=HX)
    assert Counter(r.status_code for r in responses) == {200: 1, 404: N - 1}
    refused = next(r for r in responses if r.status_code == 404).get_data(as_text=True)
    assert "<html" not in refused
    assert _count(app, Course.id == course_id, model=Course) == 0
    assert _count(app, AuditLog.action == "DELETE", AuditLog.resource_type == "course",
                  AuditLog.resource_id == str(course_id)) == 1


def test_parallel_api_course_deletes_delete_once(app, make_user, make_track, bearer, race):
    track = make_track(exam=False)
    with app.app_context():
        course = training.create_course(training.get_track(track.id), Actor.system(),
                                        title="Unused", content_type=ContentType.TEXT,
                                        content_body="x")
        db.session.commit()
        course_id = course.id
    headers = bearer(make_user(Role.MANAGER))
    responses = race(None, "DELETE", f"/api/v1/internal/training/courses/{course_id}", n=N,
                     headers=headers)
    assert Counter(r.status_code for r in responses) == {204: 1, 404: N - 1}
    assert all(r.get_json()["error"]["code"] == "not_found"
               for r in responses if r.status_code == 404)
    assert _count(app, AuditLog.action == "DELETE", AuditLog.resource_type == "course",
                  AuditLog.resource_id == str(course_id)) == 1


def test_parallel_archives_archive_once(app, make_user, make_track, race):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    responses = race(make_user(Role.MANAGER), "POST", f"/admin/courses/{course_id}/archive",
                     n=N, headers=HX)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: N - 1}
    assert _count(app, AuditLog.action == "DEACTIVATE", AuditLog.resource_type == "course",
                  AuditLog.resource_id == str(course_id)) == 1


def test_parallel_assignment_removals_remove_once(app, make_user, make_track, org, race):
    track = make_track()
    with app.app_context():
        project = training.create_project(Actor.system(), name="P", organization_id=org.id,
                                          go_live_date=None)
        assignment = training.assign_training(project, training.get_track(track.id),
                                              Actor.system())
        db.session.commit()
        project_id, assignment_id = project.id, assignment.id
    responses = race(make_user(Role.MANAGER), "POST",
                     f"/admin/projects/{project_id}/assignments/{assignment_id}/delete",
                     n=N, headers=HX)
    assert Counter(r.status_code for r in responses) == {200: 1, 404: N - 1}
    refused = next(r for r in responses if r.status_code == 404).get_data(as_text=True)
    assert "<html" not in refused
    assert _count(app, TrainingAssignment.id == assignment_id, model=TrainingAssignment) == 0
    assert _count(app, AuditLog.action == "DELETE",
                  AuditLog.resource_type == "training_assignment",
                  AuditLog.resource_id == str(assignment_id)) == 1


def test_a_learner_starting_the_course_during_its_delete_keeps_it(app, make_user, make_track):
    """The delete checked "nobody started it" while a learner's first step was still
    uncommitted: the DELETE waits for that row, re-reads it, leaves it, and the delete is
    refused (the course, the progress and its certificate subject stay). PostgreSQL only:
    SQLite runs the two one after the other."""
    import threading
    import time

    import pytest
    from sqlalchemy import update

    from app.models import CourseProgress, Enrolment, ProgressStatus, User
    from app.services.errors import Conflict

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs two transactions at once")
    track = make_track(exam=False)
    learner = make_user()
    with app.app_context():
        course = training.create_course(training.get_track(track.id), Actor.system(),
                                        title="About to start", content_type=ContentType.TEXT,
                                        content_body="x")
        training.enrol(db.session.get(User, learner.id), training.get_track(track.id),
                       Actor.system())
        db.session.commit()
        course_id = course.id
        progress_id = db.session.scalar(select(CourseProgress.id).join(Enrolment).where(
            CourseProgress.course_id == course_id, Enrolment.user_id == learner.id))
        learner_step = db.engine.connect()  # the learner's transaction, not yet committed
        learner_step.execute(update(CourseProgress).where(CourseProgress.id == progress_id)
                             .values(status=ProgressStatus.IN_PROGRESS))
    outcome: list[BaseException | None] = []

    def delete_it() -> None:
        with app.app_context():
            try:
                training.delete_course(db.session.get(Course, course_id), Actor.system())
                db.session.commit()
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - the outcome is the assertion
                db.session.rollback()
                outcome.append(exc)

    deleting = threading.Thread(target=delete_it)
    deleting.start()
    time.sleep(0.5)  # the delete is waiting on the learner's row now
    learner_step.commit()
    learner_step.close()
    deleting.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    assert "started it a moment ago" in outcome[0].message
    assert _count(app, Course.id == course_id, model=Course) == 1
    assert _count(app, CourseProgress.id == progress_id, model=CourseProgress) == 1
