"""/admin/tracks, courses, quiz editor and projects: pages and htmx fragments."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import CertificationTrack, Course, ImplementationProject
from tests.conftest import HX

TRACK = {"name": "Platform Fundamentals", "audience": "CLIENT_EMPLOYEE", "level": "FOUNDATION",
         "active": "y", "required_for_go_live": "y", "estimated_hours": "4",
         "validity_months": "12"}


def test_managers_and_admins_may_open_the_catalogue(manager_client, admin_client, staff_client,
                                                    org_admin_client):
    assert manager_client.get("/admin/tracks").status_code == 200
    assert admin_client.get("/admin/tracks").status_code == 200
    assert staff_client.get("/admin/tracks").status_code == 403
    assert org_admin_client.get("/admin/projects").status_code == 403


def test_track_create_row_and_errors(app, manager_client):
    created = manager_client.post("/admin/tracks", data=TRACK, headers=HX)
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and 'id="track-new"' in html
    assert "Platform Fundamentals" in html and "Client Employee" in html and "Required" in html
    bad = manager_client.post("/admin/tracks", headers=HX, data={
        **TRACK, "name": "", "estimated_hours": "0", "audience": "ALIENS"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Enter a name." in text and "From 1 to 1000 hours." in text
    with app.app_context():
        assert db.session.scalars(select(CertificationTrack.name)).all() == [
            "Platform Fundamentals"]


def test_track_list_fragment_and_soft_delete(app, manager_client, make_track):
    track = make_track("Searchable track")
    fragment = manager_client.get("/admin/tracks?q=search", headers=HX).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="tracks-table">') and "Searchable track" in fragment
    off = manager_client.post(f"/admin/tracks/{track.id}/active", data={"active": "0"},
                              headers=HX)
    assert "Reactivate" in off.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CertificationTrack, track.id).active is False  # kept, hidden


def test_edit_track_row(app, manager_client, make_track):
    track = make_track()
    edit = manager_client.get(f"/admin/tracks/{track.id}/edit", headers=HX)
    assert f'id="track-{track.id}" class="editing"' in edit.get_data(as_text=True)
    saved = manager_client.post(f"/admin/tracks/{track.id}", headers=HX,
                                data={**TRACK, "name": "Renamed track"})
    assert saved.status_code == 200 and "Renamed track" in saved.get_data(as_text=True)


def test_track_page_courses_and_reorder(app, manager_client, make_track):
    track = make_track()
    page = manager_client.get(f"/admin/tracks/{track.id}").get_data(as_text=True)
    assert "Reading" in page and "Exam" in page and 'id="course-new"' in page
    first, second = [c.id for c in track.courses]
    moved = manager_client.post(f"/admin/courses/{second}/move", data={"direction": "up"},
                                headers=HX).get_data(as_text=True)
    assert moved.index(f'id="course-{second}"') < moved.index(f'id="course-{first}"')
    with app.app_context():
        assert [c.id for c in db.session.get(CertificationTrack, track.id).courses] == [
            second, first]


def test_add_course_and_its_content_rules(app, manager_client, make_track):
    track = make_track(exam=False)
    video_without_url = manager_client.post(f"/admin/tracks/{track.id}/courses", headers=HX,
                                            data={"title": "Clip", "content_type": "VIDEO",
                                                  "required": "y"})
    assert video_without_url.status_code == 422
    assert "needs its URL" in video_without_url.get_data(as_text=True)
    bad_url = manager_client.post(f"/admin/tracks/{track.id}/courses", headers=HX, data={
        "title": "Clip", "content_type": "VIDEO", "content_url": "javascript:alert(1)"})
    assert bad_url.status_code == 422
    ok = manager_client.post(f"/admin/tracks/{track.id}/courses", headers=HX, data={
        "title": "Clip", "content_type": "VIDEO", "content_url": "https://video.example/1",
        "required": "y"})
    assert ok.status_code == 200 and ok.headers["HX-Retarget"] == "#courses-table"
    assert "Clip" in ok.get_data(as_text=True)


def test_quiz_editor_round_trip_and_validation(app, manager_client, make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    page = manager_client.get(f"/admin/courses/{course_id}/quiz")
    assert page.status_code == 200 and "Add question" in page.get_data(as_text=True)
    blank = manager_client.get(f"/admin/courses/{course_id}/quiz/question?index=2", headers=HX)
    assert 'name="questions-2-prompt"' in blank.get_data(as_text=True)
    data = {"passing_score": "75", "attempt_limit": "2",
            "questions-0-kind": "single", "questions-0-prompt": "Pick one",
            "questions-0-options-0": "Yes", "questions-0-options-1": "No",
            "questions-0-correct": "0", "questions-0-explanation": "Because.",
            "questions-1-kind": "true_false", "questions-1-prompt": "Remove me",
            "questions-1-options-0": "True", "questions-1-options-1": "False",
            "questions-1-correct": "0", "questions-1-remove": "y"}
    saved = manager_client.post(f"/admin/courses/{course_id}/quiz", data=data, headers=HX)
    assert saved.status_code == 200 and "Quiz saved: 1 question." in saved.get_data(as_text=True)
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert course.has_exam and course.passing_score == 75 and course.attempt_limit == 2
        assert [q["prompt"] for q in course.questions] == ["Pick one"]
        assert course.questions[0]["correct"] == [0]
    bad = manager_client.post(f"/admin/courses/{course_id}/quiz", headers=HX, data={
        k: v for k, v in data.items() if k != "questions-0-correct"})
    assert bad.status_code == 422 and "Mark the correct answer." in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Course, course_id).questions[0]["prompt"] == "Pick one"


def test_version_bump_buttons(app, manager_client, make_track):
    track = make_track()
    minor = manager_client.post(f"/admin/tracks/{track.id}/version", data={"part": "minor"},
                                headers=HX)
    assert "v1.1" in minor.get_data(as_text=True)
    major = manager_client.post(f"/admin/tracks/{track.id}/version", data={"part": "major"},
                                headers=HX)
    assert "v2.0" in major.get_data(as_text=True) and "must re-certify" in major.get_data(
        as_text=True)


def test_enrol_learners_and_learner_table(app, manager_client, make_track, make_user):
    track = make_track()
    learner = make_user(name="Learner Lee")
    candidates = manager_client.get(f"/admin/tracks/{track.id}/candidates?q=lee", headers=HX)
    assert "Learner Lee" in candidates.get_data(as_text=True)
    enrolled = manager_client.post(f"/admin/tracks/{track.id}/enrol", headers=HX,
                                   data={"user_ids": [str(learner.id)]})
    assert enrolled.status_code == 200 and "Enrolled 1 learner." in enrolled.get_data(
        as_text=True)
    table = manager_client.get(f"/admin/tracks/{track.id}", headers=HX).get_data(as_text=True)
    assert table.strip().startswith('<div id="learners-table">') and "Learner Lee" in table
    assert "0/2" in table
    none = manager_client.post(f"/admin/tracks/{track.id}/enrol", headers=HX, data={})
    assert none.status_code == 422


def test_projects_create_assign_and_readiness(app, manager_client, make_track, org):
    track = make_track(required_for_go_live=True)
    invalid = manager_client.post("/admin/projects", headers=HX, data={"name": "",
                                                                       "organization_id": org.id})
    assert invalid.status_code == 422 and "Enter a name." in invalid.get_data(as_text=True)
    created = manager_client.post("/admin/projects", data={
        "name": "Acme go-live", "organization_id": str(org.id), "go_live_date": "2030-01-31"})
    assert created.status_code == 302
    with app.app_context():
        project = db.session.scalar(select(ImplementationProject))
    page = manager_client.get(f"/admin/projects/{project.id}").get_data(as_text=True)
    assert "Acme go-live" in page and "No training assigned yet." in page
    assigned = manager_client.post(f"/admin/projects/{project.id}/assignments", headers=HX, data={
        "track_id": str(track.id), "target_role": "any", "required_completions": "2"})
    html = assigned.get_data(as_text=True)
    assert assigned.status_code == 200 and "Not ready for go-live" in html
    assert "0 of 2 valid completions" in html
    again = manager_client.post(f"/admin/projects/{project.id}/assignments", headers=HX, data={
        "track_id": str(track.id), "target_role": "any", "required_completions": "2"})
    assert again.status_code == 409 and "Already assigned for that role." in again.get_data(as_text=True)
    assert manager_client.get("/admin/projects").status_code == 200


def test_staff_cannot_use_catalogue_writes(staff_client, make_track):
    track = make_track()
    assert staff_client.post(f"/admin/tracks/{track.id}/version",
                             data={"part": "major"}).status_code == 403


def test_roles_other_than_managers_are_refused_the_project_page(org_admin_client, app, org):
    from app.services import training
    from app.services.context import Actor

    with app.app_context():
        project = training.create_project(Actor.system(), name="P", organization_id=org.id,
                                          go_live_date=None)
        db.session.commit()
        project_id = project.id
    assert org_admin_client.get(f"/admin/projects/{project_id}").status_code == 403
