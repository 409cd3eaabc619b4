"""/api/v1/internal/training: seed 003's contract and its role guards."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Course, Role
from app.services.context import Actor
from tests.conftest import answers_scoring

BASE = "/api/v1/internal/training"


@pytest.fixture
def manager(bearer, make_user):
    return bearer(make_user(Role.MANAGER))


def test_anonymous_gets_401(client):
    assert client.get(f"{BASE}/tracks").status_code == 401


def test_learner_is_refused_catalogue_changes(client, bearer, make_user, make_track):
    track = make_track()
    learner = bearer(make_user())
    for method, path, body in [
        ("POST", "/tracks", {"name": "X", "type": "INTERNAL", "level": "FOUNDATION"}),
        ("PATCH", f"/tracks/{track.id}", {"name": "Y"}),
        ("POST", "/courses", {"trackId": track.id, "name": "C", "contentType": "TEXT"}),
        ("POST", f"/tracks/{track.id}/courses/reorder", {"ids": []}),
        ("GET", f"/tracks/{track.id}/summary", None),
        ("POST", "/projects/1/assign", {}),
        ("GET", "/projects/1/status", None),
        ("GET", "/projects/1/go-live-readiness", None),
    ]:
        response = client.open(BASE + path, method=method, json=body, headers=learner)
        assert response.status_code == 403, (method, path)
        assert response.get_json()["error"]["code"] == "forbidden"


def test_manager_builds_a_track(client, manager):
    created = client.post(f"{BASE}/tracks", headers=manager, json={
        "name": "API track", "type": "CLIENT_ADMIN", "level": "ADVANCED",
        "requiredForGoLive": True, "estimatedHours": 2})
    assert created.status_code == 201, created.get_json()
    track = created.get_json()
    assert track["version"] == "1.0" and track["requiredForGoLive"] is True
    course = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Lesson", "contentType": "TEXT",
        "contentBody": "Read", "isRequired": True})
    assert course.status_code == 201 and course.get_json()["name"] == "Lesson"
    bad = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "", "contentType": "PODCAST"})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"name", "contentType"}
    patched = client.patch(f"{BASE}/tracks/{track['id']}", headers=manager,
                           json={"isActive": False})
    assert patched.get_json()["isActive"] is False
    listed = client.get(f"{BASE}/tracks?isActive=false", headers=manager).get_json()
    assert [t["name"] for t in listed["data"]] == ["API track"]


def test_reorder_rejects_ids_of_another_track(client, manager, make_track):
    track, other = make_track("A"), make_track("B")
    ids = [c.id for c in track.courses]
    ok = client.post(f"{BASE}/tracks/{track.id}/courses/reorder", headers=manager,
                     json={"ids": list(reversed(ids))})
    assert ok.status_code == 200 and ok.get_json()["ids"] == list(reversed(ids))
    bad = client.post(f"{BASE}/tracks/{track.id}/courses/reorder", headers=manager,
                      json={"ids": [ids[0], other.courses[0].id]})
    assert bad.status_code == 422 and "Not courses of this track" in bad.get_json()["error"][
        "message"]


def test_learner_enrols_self_takes_quiz_and_sees_own_progress_only(app, client, bearer,
                                                                   make_user, make_track):
    track = make_track()
    me, someone = make_user(), make_user()
    mine = bearer(me)
    assert client.post(f"{BASE}/enroll", headers=mine,
                       json={"userId": someone.id, "trackId": track.id}).status_code == 403
    enrolled = client.post(f"{BASE}/enroll", headers=mine, json={"trackId": track.id})
    assert enrolled.status_code == 201
    progress = enrolled.get_json()
    assert client.post(f"{BASE}/enroll", headers=mine,
                       json={"trackId": track.id}).status_code == 409
    reading_row, exam_row = progress["courses"]
    exam_course = client.get(f"{BASE}/tracks/{track.id}", headers=mine).get_json()["courses"][1]
    assert all("correct" not in q for q in exam_course["questions"])
    # A learner completes a reading course but cannot set an exam result.
    assert client.patch(f"{BASE}/course-progress/{exam_row['id']}", headers=mine,
                        json={"status": "COMPLETED", "examScore": 100}).status_code == 422
    done = client.patch(f"{BASE}/course-progress/{reading_row['id']}", headers=mine,
                        json={"status": "COMPLETED"})
    assert done.status_code == 200
    with app.app_context():
        answers = answers_scoring(db.session.get(Course, exam_row["courseId"]), 4)
    result = client.post(f"{BASE}/course-progress/{exam_row['id']}/quiz", headers=mine,
                         json={"answers": answers})
    assert result.status_code == 201
    body = result.get_json()
    assert body["score"] == 80.0 and body["passed"] is True
    assert body["progress"]["status"] == "COMPLETED" and body["progress"]["percentComplete"] == 100
    assert client.get(f"{BASE}/progress/{me.id}/{track.id}", headers=mine).status_code == 200
    assert client.get(f"{BASE}/progress/{someone.id}/{track.id}",
                      headers=mine).status_code == 403
    theirs = bearer(someone)
    assert client.patch(f"{BASE}/course-progress/{reading_row['id']}", headers=theirs,
                        json={"status": "COMPLETED"}).status_code == 404


def test_manager_records_progress_and_reads_summary_and_readiness(app, client, manager,
                                                                  bearer, make_user,
                                                                  make_track, org):
    from app.services import training

    track = make_track(required_for_go_live=True)
    learner = make_user(organization=org)
    enrolment = client.post(f"{BASE}/enroll", headers=manager,
                            json={"userId": learner.id, "trackId": track.id}).get_json()
    with app.app_context():
        project = training.create_project(Actor.system(), name="P", organization_id=org.id,
                                          go_live_date=None)
        db.session.commit()
        project_id = project.id
    assign = client.post(f"{BASE}/projects/{project_id}/assign", headers=manager,
                         json={"trackId": track.id, "targetRole": "any",
                               "requiredCompletions": 1})
    assert assign.status_code == 201
    readiness = client.get(f"{BASE}/projects/{project_id}/go-live-readiness",
                           headers=manager).get_json()
    assert readiness["ready"] is False and readiness["blocking"][0]["shortfall"] == 1
    for row in enrolment["courses"]:
        response = client.patch(f"{BASE}/course-progress/{row['id']}", headers=manager,
                                json={"status": "COMPLETED", "examScore": 90})
        assert response.status_code == 200
    assert client.patch(f"{BASE}/course-progress/{row['id']}", headers=manager,
                        json={"status": "DONE"}).status_code == 422
    summary = client.get(f"{BASE}/tracks/{track.id}/summary", headers=manager).get_json()
    assert summary["completed"] == 1 and summary["completionRate"] == 100.0
    status = client.get(f"{BASE}/projects/{project_id}/status", headers=manager).get_json()
    assert status["overallComplete"] is True and status["assignments"][0]["completed"] == 1
    assert client.get(f"{BASE}/projects/{project_id}/go-live-readiness",
                      headers=manager).get_json()["ready"] is True
    bad_assign = client.post(f"{BASE}/projects/{project_id}/assign", headers=manager,
                             json={"trackId": 999999, "requiredCompletions": 0})
    assert bad_assign.status_code == 422
