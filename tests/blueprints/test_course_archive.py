"""Archiving, restoring and deleting a course from the track page (/admin/tracks/<id>):
the rules (delete only what nothing refers to; archive hides a course from learners and
stops it counting toward the track, keeping its history), roles, audit."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    ContentType,
    Course,
    CourseProgress,
    Enrolment,
    ProgressStatus,
    Role,
)
from app.services import training
from app.services.context import Actor
from tests.conftest import HX


def _audits(app, action, resource_id):
    with app.app_context():
        return db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == action, AuditLog.resource_type == "course",
            AuditLog.resource_id == str(resource_id))) or 0


def _add_course(app, track, title="Optional extra", **values):
    with app.app_context():
        course = training.create_course(training.get_track(track.id), Actor.system(),
                                        title=title, content_type=ContentType.TEXT,
                                        content_body="Text.", **values)
        db.session.commit()
        return course.id


def test_an_unused_course_is_deleted_once_confirmed_and_audited(app, manager_client, make_track):
    track = make_track(exam=False)
    course_id = _add_course(app, track)
    page = manager_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True)
    assert 'aria-label="Delete Optional extra"' in page and "This cannot be undone." in page
    response = manager_client.post(f"/admin/courses/{course_id}/delete", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith('<div id="courses-table">')
    assert "Optional extra" not in html and "Reading" in html
    with app.app_context():
        assert db.session.get(Course, course_id) is None
    assert _audits(app, "DELETE", course_id) == 1
    again = manager_client.post(f"/admin/courses/{course_id}/delete", headers=HX)
    assert again.status_code == 404


def test_enrolled_but_not_started_does_not_block_delete(app, manager_client, make_track,
                                                        staff_user, staff_client):
    track = make_track(exam=False)
    course_id = _add_course(app, track)
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    response = manager_client.post(f"/admin/courses/{course_id}/delete", headers=HX)
    assert response.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(CourseProgress.id)).where(
            CourseProgress.course_id == course_id)) == 0


def test_a_course_with_progress_is_refused_with_archive_offered(app, manager_client,
                                                                 make_track, staff_client):
    track = make_track(exam=False)
    course = track.courses[0]
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    assert staff_client.post(f"/learn/courses/{course.id}/complete").status_code == 302
    page = manager_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True)
    # Refused before any confirmation: the button says why instead of asking.
    assert 'title="Cannot be deleted: learners have progress on it."' in page
    refused = manager_client.post(f"/admin/courses/{course.id}/delete", headers=HX)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "cannot be deleted: learners have progress on it. Archive it instead" in html
    with app.app_context():
        assert db.session.get(Course, course.id) is not None
    assert _audits(app, "DELETE", course.id) == 0


def test_a_course_named_by_a_certificate_is_not_deleted(app, make_track, make_user, issue):
    track = make_track(exam=False)
    course = track.courses[0]
    issue(make_user(), course=course)
    with app.app_context():
        reason = training.course_usage([course.id])[course.id]
        assert reason == "certificates name it"
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.course_id == course.id)) == 1


def test_archive_hides_the_course_from_learners_and_completes_the_track(
        app, manager_client, make_track, staff_user, staff_client):
    track = make_track(exam=False)
    extra_id = _add_course(app, track, title="Extra required", required=True)
    reading = track.courses[0]
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    assert staff_client.post(f"/learn/courses/{reading.id}/complete").status_code == 302
    assert "Extra required" in staff_client.get(f"/learn/tracks/{track.id}").get_data(
        as_text=True)
    response = manager_client.post(f"/admin/courses/{extra_id}/archive", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="archived-courses"' in html
    assert "Restore Extra required" in html
    assert _audits(app, "DEACTIVATE", extra_id) == 1
    # Hidden from the learner; the only missing required course left: the track completes.
    assert "Extra required" not in staff_client.get(f"/learn/tracks/{track.id}").get_data(
        as_text=True)
    assert staff_client.get(f"/learn/courses/{extra_id}").status_code == 404
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment).where(
            Enrolment.user_id == staff_user.id))
        assert enrolment.status == ProgressStatus.COMPLETED
        assert training.percent_complete(enrolment) == 100
        # History kept: the progress row is still there.
        assert db.session.scalar(select(func.count(CourseProgress.id)).where(
            CourseProgress.course_id == extra_id)) == 1
    # Twice: refused, nothing more audited.
    again = manager_client.post(f"/admin/courses/{extra_id}/archive", headers=HX)
    assert again.status_code == 409 and "archived already" in again.get_data(as_text=True)
    assert _audits(app, "DEACTIVATE", extra_id) == 1


def test_new_enrolments_skip_archived_courses_and_restore_brings_it_back(
        app, manager_client, make_track, make_user):
    track = make_track(exam=False)
    extra_id = _add_course(app, track)
    assert manager_client.post(f"/admin/courses/{extra_id}/archive", headers=HX).status_code == 200
    learner = make_user()
    with app.app_context():
        enrolment = training.enrol(db.session.get(type(learner), learner.id),
                                   training.get_track(track.id), Actor.system())
        assert extra_id not in [p.course_id for p in enrolment.course_progress]
        db.session.commit()
    restored = manager_client.post(f"/admin/courses/{extra_id}/restore", headers=HX)
    html = restored.get_data(as_text=True)
    assert restored.status_code == 200 and 'id="archived-courses"' not in html
    assert _audits(app, "REACTIVATE", extra_id) == 1
    with app.app_context():
        course = db.session.get(Course, extra_id)
        assert course.archived_at is None
        assert [c.id for c in training.get_track(track.id).courses][-1] == extra_id
    not_archived = manager_client.post(f"/admin/courses/{extra_id}/restore", headers=HX)
    assert not_archived.status_code == 409


def test_an_archived_course_takes_no_progress(app, make_track, staff_user, staff_client):
    track = make_track(exam=False)
    course = track.courses[0]
    assert staff_client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302
    with app.app_context():
        training.archive_course(db.session.get(Course, course.id), Actor.system())
        db.session.commit()
        enrolment = db.session.scalar(select(Enrolment).where(
            Enrolment.user_id == staff_user.id))
        row = training.progress_for(enrolment, db.session.get(Course, course.id))
        try:
            training.complete_course(row, Actor.system())
        except Exception as error:  # noqa: BLE001
            assert "archived" in str(error)
        else:
            raise AssertionError("an archived course was completed")


def test_archived_courses_cannot_be_moved(app, manager_client, make_track):
    track = make_track()
    course = track.courses[0]
    manager_client.post(f"/admin/courses/{course.id}/archive", headers=HX)
    moved = manager_client.post(f"/admin/courses/{course.id}/move", headers=HX,
                                data={"direction": "down"})
    assert moved.status_code == 409


def test_course_controls_refuse_other_roles(app, make_track, staff_client, org_admin_client,
                                            make_user, new_client):
    track = make_track()
    course = track.courses[0]
    for client in (staff_client, org_admin_client):
        for action in ("archive", "restore", "delete"):
            response = client.post(f"/admin/courses/{course.id}/{action}", headers=HX)
            assert response.status_code == 403, action
    with app.app_context():
        assert db.session.get(Course, course.id).archived_at is None
    instructor = new_client()
    instructor.login(make_user(Role.STAFF).email)
    assert instructor.post(f"/admin/courses/{course.id}/delete",
                           headers=HX).status_code == 403


def test_an_archived_course_is_not_offered_for_a_new_certificate(app, admin_client, make_track,
                                                                  make_user, issue):
    from app.models import Certificate, Course, Role
    from app.services.context import Actor

    track = make_track("Hoists")  # a reading and a quiz
    gone, kept = track.courses[0], track.courses[-1]
    holder = make_user(Role.STAFF)
    old = issue(holder, course=gone)
    with app.app_context():
        training.archive_course(db.session.get(Course, gone.id), Actor.system())
        db.session.commit()
    modal = admin_client.get("/admin/certificates/new", headers=HX).get_data(as_text=True)
    assert f'value="{kept.id}"' in modal and f'value="{gone.id}"' not in modal
    listing = admin_client.get("/admin/certificates?status=issued").get_data(as_text=True)
    assert f"{gone.title} (archived)" in listing  # old certificates can still be found
    refused = admin_client.post("/admin/certificates", headers=HX, data={
        "user_id": make_user(Role.STAFF).id, "course_id": gone.id, "type": "COMPLETION"})
    assert refused.status_code == 422 and "is archived" in refused.get_data(as_text=True)
    # Re-issuing the old one still works: it corrects, it certifies nothing new.
    assert admin_client.post(f"/admin/certificates/{old.id}/reissue",
                             headers=HX).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.course_id == gone.id)) == 2
