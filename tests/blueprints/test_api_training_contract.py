"""Seed 003's contract points on /api/v1/internal/training, with the seed's field names:
sortOrder on courses, the DTO defaults (isActive, isRequired true), the progress list
(ProgressQueryDto: trackId, organizationId, status, userId), deleteCourse (and archive),
quiz answers as JSON numbers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Role
from app.services import training
from app.services.context import Actor

BASE = "/api/v1/internal/training"


@pytest.fixture
def manager(bearer, make_user):
    return bearer(make_user(Role.MANAGER))


def _track(client, manager, **extra):
    response = client.post(f"{BASE}/tracks", headers=manager,
                           json={"name": "Seed track", "type": "INTERNAL", **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_track_without_is_active_is_active_and_a_course_without_is_required_required(
        client, manager):
    track = _track(client, manager)
    assert track["isActive"] is True
    off = _track(client, manager, isActive=False)
    assert off["isActive"] is False
    course = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Intro", "contentType": "TEXT", "contentBody": "x"})
    assert course.status_code == 201 and course.get_json()["isRequired"] is True
    optional = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Extra", "contentType": "TEXT", "contentBody": "x",
        "isRequired": False})
    assert optional.get_json()["isRequired"] is False
    assert course.get_json()["hasExam"] is False  # the seed's default stays false


def test_courses_accept_sort_order(client, manager):
    track = _track(client, manager)
    first = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Second", "contentType": "TEXT", "contentBody": "x",
        "sortOrder": 20}).get_json()
    second = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "First", "contentType": "TEXT", "contentBody": "x",
        "sortOrder": 10}).get_json()
    assert (first["sortOrder"], second["sortOrder"]) == (20, 10)
    listed = client.get(f"{BASE}/tracks/{track['id']}", headers=manager).get_json()
    assert [c["name"] for c in listed["courses"]] == ["First", "Second"]
    # Without sortOrder: at the end.
    last = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Last", "contentType": "TEXT", "contentBody": "x"})
    assert last.get_json()["sortOrder"] == 21
    moved = client.patch(f"{BASE}/courses/{second['id']}", headers=manager,
                         json={"sortOrder": 30})
    assert moved.status_code == 200 and moved.get_json()["sortOrder"] == 30
    for bad in (-1, 100_001, "3", 1.5, True, None, [1]):
        response = client.post(f"{BASE}/courses", headers=manager, json={
            "trackId": track["id"], "name": "Bad", "contentType": "TEXT", "contentBody": "x",
            "sortOrder": bad})
        assert response.status_code == 422, bad
        assert list(response.get_json()["error"]["fields"]) == ["sortOrder"]


def test_delete_course_answers_204_then_404_and_is_audited(app, client, manager):
    track = _track(client, manager)
    course = client.post(f"{BASE}/courses", headers=manager, json={
        "trackId": track["id"], "name": "Unused", "contentType": "TEXT",
        "contentBody": "x"}).get_json()
    deleted = client.delete(f"{BASE}/courses/{course['id']}", headers=manager)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    again = client.delete(f"{BASE}/courses/{course['id']}", headers=manager)
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "not_found"
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "DELETE", AuditLog.resource_type == "course",
            AuditLog.resource_id == str(course["id"]))) == 1


def test_delete_of_a_started_course_is_409_offering_archive(app, client, manager, bearer,
                                                            make_user, make_track):
    track = make_track(exam=False)
    learner = make_user()
    mine = bearer(learner)
    enrolled = client.post(f"{BASE}/enroll", headers=mine, json={"trackId": track.id})
    row = enrolled.get_json()["courses"][0]
    assert client.patch(f"{BASE}/course-progress/{row['id']}", headers=mine,
                        json={"status": "COMPLETED"}).status_code == 200
    refused = client.delete(f"{BASE}/courses/{row['courseId']}", headers=manager)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "conflict" and "Archive it instead" in error["message"]
    archived = client.post(f"{BASE}/courses/{row['courseId']}/archive", headers=manager)
    assert archived.status_code == 200 and archived.get_json()["isArchived"] is True
    assert archived.get_json()["archivedAt"]
    # The learner no longer sees it; the manager does, marked archived.
    learner_view = client.get(f"{BASE}/tracks/{track.id}", headers=mine).get_json()
    assert row["courseId"] not in [c["id"] for c in learner_view["courses"]]
    manager_view = client.get(f"{BASE}/tracks/{track.id}", headers=manager).get_json()
    assert {c["id"]: c["isArchived"] for c in manager_view["courses"]}[row["courseId"]] is True
    twice = client.post(f"{BASE}/courses/{row['courseId']}/archive", headers=manager)
    assert twice.status_code == 409
    restored = client.post(f"{BASE}/courses/{row['courseId']}/restore", headers=manager)
    assert restored.status_code == 200 and restored.get_json()["isArchived"] is False


def test_course_removal_is_for_managers_only(client, bearer, make_user, make_track):
    track = make_track()
    course_id = track.courses[0].id
    for role in (Role.STAFF, Role.ORG_ADMIN):
        headers = bearer(make_user(role))
        for method, path in (("DELETE", f"/courses/{course_id}"),
                             ("POST", f"/courses/{course_id}/archive"),
                             ("POST", f"/courses/{course_id}/restore")):
            response = client.open(BASE + path, method=method, headers=headers, json={})
            assert response.status_code == 403, (role, method, path)
    assert client.delete(f"{BASE}/courses/{course_id}").status_code == 401


# --- the progress list (ProgressQueryDto) -------------------------------------------------

@pytest.fixture
def people(app, make_org, make_user, make_track):
    """Two organizations' learners on two tracks, one completion."""
    north, south = make_org("North"), make_org("South")
    track_a, track_b = make_track("Track A", exam=False), make_track("Track B", exam=False)
    ann, bob, cat = make_user(organization=north), make_user(organization=north), \
        make_user(organization=south)
    with app.app_context():
        actor = Actor.system()
        a = training.get_track(track_a.id)
        b = training.get_track(track_b.id)
        from app.models import User
        enrolments = {}
        for user, track in ((ann, a), (bob, a), (cat, a), (ann, b)):
            enrolments[(user.id, track.id)] = training.enrol(db.session.get(User, user.id),
                                                             track, actor)
        done = enrolments[(ann.id, a.id)]
        training.complete_course(training.progress_for(done, a.courses[0]), actor)
        db.session.commit()
    return {"north": north, "south": south, "a": track_a, "b": track_b,
            "ann": ann, "bob": bob, "cat": cat}


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return sorted((row["userId"], row["trackId"]) for row in response.get_json()["data"])


def test_managers_filter_progress_by_track_organization_status_and_user(client, manager,
                                                                       people):
    p = people
    everything = client.get(f"{BASE}/progress", headers=manager)
    assert len(_ids(everything)) == 4
    body = everything.get_json()
    assert body["pagination"]["total"] == 4
    row = next(r for r in body["data"] if r["userId"] == p["cat"].id)
    assert row["organizationId"] == p["south"].id and row["userType"] == "CLIENT"
    assert {"status", "percentComplete", "courses", "completedAt"} <= set(row)
    assert _ids(client.get(f"{BASE}/progress?trackId={p['b'].id}", headers=manager)) == [
        (p["ann"].id, p["b"].id)]
    assert _ids(client.get(f"{BASE}/progress?organizationId={p['south'].id}",
                           headers=manager)) == [(p["cat"].id, p["a"].id)]
    assert _ids(client.get(f"{BASE}/progress?status=COMPLETED", headers=manager)) == [
        (p["ann"].id, p["a"].id)]
    assert _ids(client.get(f"{BASE}/progress?userId={p['ann'].id}&trackId={p['a'].id}",
                           headers=manager)) == [(p["ann"].id, p["a"].id)]
    paged = client.get(f"{BASE}/progress?limit=3&page=2", headers=manager).get_json()
    assert len(paged["data"]) == 1 and paged["pagination"]["pages"] == 2


def test_bad_progress_filters_answer_422(client, manager, people):
    for query, field in (("status=DONE", "status"), ("status=completed", "status"),
                         ("trackId=abc", "trackId"), ("organizationId=0", "organizationId"),
                         ("userId=-1", "userId"), ("trackId=99999999999", "trackId")):
        response = client.get(f"{BASE}/progress?{query}", headers=manager)
        assert response.status_code == 422, query
        assert list(response.get_json()["error"]["fields"]) == [field]


def test_an_org_admin_sees_only_their_organization(client, bearer, make_user, people):
    p = people
    org_admin = bearer(make_user(Role.ORG_ADMIN, p["north"]))
    assert _ids(client.get(f"{BASE}/progress", headers=org_admin)) == sorted(
        [(p["ann"].id, p["a"].id), (p["bob"].id, p["a"].id), (p["ann"].id, p["b"].id)])
    other = client.get(f"{BASE}/progress?organizationId={p['south'].id}", headers=org_admin)
    assert other.status_code == 404
    # Naming someone of another organization finds nothing.
    assert _ids(client.get(f"{BASE}/progress?userId={p['cat'].id}", headers=org_admin)) == []
    # An org admin left without an organization sees nobody (not the internal staff).
    orphan = bearer(make_user(Role.ORG_ADMIN))
    assert client.get(f"{BASE}/progress", headers=orphan).status_code == 404


def test_a_learner_sees_only_their_own_progress(client, bearer, people):
    p = people
    ann = bearer(p["ann"])
    assert _ids(client.get(f"{BASE}/progress", headers=ann)) == sorted(
        [(p["ann"].id, p["a"].id), (p["ann"].id, p["b"].id)])
    assert client.get(f"{BASE}/progress?userId={p['bob'].id}", headers=ann).status_code == 403
    assert _ids(client.get(f"{BASE}/progress?organizationId={p['south'].id}",
                           headers=ann)) == []
    assert client.get(f"{BASE}/progress").status_code == 401


# --- quiz answers as JSON --------------------------------------------------------------

def _quiz_row(client, mine, track):
    enrolled = client.post(f"{BASE}/enroll", headers=mine, json={"trackId": track.id})
    exam = next(c for c in track.courses if c.has_exam)
    return next(r for r in enrolled.get_json()["courses"] if r["courseId"] == exam.id), exam


def test_a_zero_sent_as_a_number_is_an_answer(client, bearer, make_user, make_track):
    track = make_track()
    mine = bearer(make_user())
    row, exam = _quiz_row(client, mine, track)
    # One right option: sent as a bare number (Q1 and Q5's is option 0); several: a list.
    answers = {q["id"]: q["correct"][0] if len(q["correct"]) == 1 else q["correct"]
               for q in exam.questions}
    assert list(answers.values()).count(0) == 2
    response = client.post(f"{BASE}/course-progress/{row['id']}/quiz", headers=mine,
                           json={"answers": answers})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["score"] == 100 and response.get_json()["passed"] is True


@pytest.mark.parametrize("value", ["0", True, 1.0, {"a": 1}, [0, "1"], [None], 99, -1])
def test_answers_of_the_wrong_type_answer_422_and_use_no_attempt(app, client, bearer, make_user,
                                                                 make_track, value):
    track = make_track()
    learner = make_user()
    mine = bearer(learner)
    row, exam = _quiz_row(client, mine, track)
    first = exam.questions[0]["id"]
    answers = {q["id"]: q["correct"] for q in exam.questions}
    answers[first] = value
    response = client.post(f"{BASE}/course-progress/{row['id']}/quiz", headers=mine,
                           json={"answers": answers})
    assert response.status_code == 422, value
    assert list(response.get_json()["error"]["fields"]) == [f"answers.{first}"]
    unknown = client.post(f"{BASE}/course-progress/{row['id']}/quiz", headers=mine,
                          json={"answers": {**answers, first: 0, "nope": 0}})
    assert unknown.status_code == 422
    assert "answers.nope" in unknown.get_json()["error"]["fields"]
    not_object = client.post(f"{BASE}/course-progress/{row['id']}/quiz", headers=mine,
                             json={"answers": [0, 1]})
    assert not_object.status_code == 422
    progress = client.get(f"{BASE}/progress/{learner.id}/{track.id}", headers=mine).get_json()
    assert next(c for c in progress["courses"] if c["id"] == row["id"])["examAttempts"] == 0
