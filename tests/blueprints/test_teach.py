"""/teach: an instructor marks attendance of and recommends only the learners enrolled in
the course's track, never themselves; nobody rates their own session; refusals answer
in place (422) and never 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateType,
    CourseSession,
    SessionAttendance,
    User,
)
from app.models.base import utcnow
from app.services import teaching, training
from app.services.context import Actor
from tests.conftest import HX


@pytest.fixture
def world(app: Any, make_user: Any, make_track: Any, issue: Any, new_client: Any) -> dict:
    track = make_track(exam=False)
    course = track.courses[0]
    teacher = make_user(name="Tina Teacher")
    learner, outsider = make_user(name="Lee Learner"), make_user(name="Olive Outsider")
    issue(teacher, course=course, type_=CertificateType.TEACHING)
    with app.app_context():
        actor = Actor.system()
        training.enrol(db.session.get(User, learner.id), training.get_track(track.id), actor)
        # The instructor is enrolled too: still not their own learner.
        training.enrol(db.session.get(User, teacher.id), training.get_track(track.id), actor)
        session = teaching.create_session(Actor(db.session.get(User, teacher.id)),
                                          training.get_course(course.id), title="Morning",
                                          starts_at=utcnow() - timedelta(hours=2))
        db.session.commit()
        session_id = session.id
    client = new_client()
    client.login(teacher.email)
    return {"track": track, "course": course, "teacher": teacher, "learner": learner,
            "outsider": outsider, "session_id": session_id, "client": client}


def _count(app: Any, model: Any, *where: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)).where(*where)) or 0


def test_the_session_offers_enrolled_learners_only(world):
    page = world["client"].get(f"/teach/sessions/{world['session_id']}").get_data(as_text=True)
    assert "Lee Learner" in page
    assert "Olive Outsider" not in page and "Tina Teacher" not in page.split("<table")[1]


def test_attendance_of_an_enrolled_learner_is_recorded_and_audited(app, world):
    response = world["client"].post(f"/teach/sessions/{world['session_id']}/attendance",
                                    headers=HX, data={"user_id": world["learner"].id,
                                                      "attended": "1"})
    assert response.status_code == 200 and "Present ✓" in response.get_data(as_text=True)
    assert _count(app, SessionAttendance, SessionAttendance.attended.is_(True)) == 1
    assert _count(app, AuditLog, AuditLog.resource_type == "session_attendance") == 1


@pytest.mark.parametrize("who", ["outsider", "teacher"])
@pytest.mark.parametrize("headers", [HX, {}])
def test_attendance_of_others_is_refused_in_place(app, world, who, headers):
    response = world["client"].post(f"/teach/sessions/{world['session_id']}/attendance",
                                    headers=headers, data={"user_id": world[who].id,
                                                           "attended": "1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert ("not enrolled in Fundamentals" if who == "outsider" else "for yourself") in html
    assert _count(app, SessionAttendance) == 0


def test_recommend_an_enrolled_learner(app, world):
    response = world["client"].post(f"/teach/sessions/{world['session_id']}/recommend",
                                    headers=HX, data={"user_id": world["learner"].id})
    assert response.status_code == 200 and "Pending" in response.get_data(as_text=True)
    with app.app_context():
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.type == CertificateType.COMPLETION))
        assert certificate.recipient_id == world["learner"].id
        assert certificate.recommended_by_id == world["teacher"].id
    again = world["client"].post(f"/teach/sessions/{world['session_id']}/recommend",
                                 headers=HX, data={"user_id": world["learner"].id})
    assert again.status_code == 409 and "already has this certificate" in again.get_data(
        as_text=True)


@pytest.mark.parametrize("who", ["outsider", "teacher"])
def test_recommending_others_or_oneself_is_refused(app, world, who):
    response = world["client"].post(f"/teach/sessions/{world['session_id']}/recommend",
                                    headers=HX, data={"user_id": world[who].id})
    assert response.status_code == 422
    assert response.headers.get("HX-Retarget") == "#flashes"
    assert _count(app, Certificate, Certificate.type == CertificateType.COMPLETION) == 0


def test_an_instructor_cannot_rate_their_own_session(app, world, new_client):
    with app.app_context():
        # Even an attendance row for the instructor (made before the rule) gives no vote.
        db.session.add(SessionAttendance(session_id=world["session_id"],
                                         user_id=world["teacher"].id, attended=True))
        db.session.commit()
    response = world["client"].post(f"/teach/sessions/{world['session_id']}/rate",
                                    data={"rating": "5"}, follow_redirects=True)
    assert response.status_code == 200
    assert "cannot rate your own session" in response.get_data(as_text=True)
    assert _count(app, SessionAttendance, SessionAttendance.rating.is_not(None)) == 0


def test_an_attendee_rates_and_the_page_answers(app, world, new_client):
    world["client"].post(f"/teach/sessions/{world['session_id']}/attendance", headers=HX,
                         data={"user_id": world["learner"].id, "attended": "1"})
    learner = new_client()
    learner.login(world["learner"].email)
    me = learner.get("/me").get_data(as_text=True)
    assert "Morning" in me
    response = learner.post(f"/teach/sessions/{world['session_id']}/rate",
                            data={"rating": "4"}, follow_redirects=True)
    assert response.status_code == 200 and "Thank you for rating" in response.get_data(
        as_text=True)
    with app.app_context():
        assert db.session.scalar(select(SessionAttendance.rating)) == 4
    assert _count(app, AuditLog, AuditLog.resource_type == "session_attendance") == 2
    bad = learner.post(f"/teach/sessions/{world['session_id']}/rate", data={"rating": "9"},
                       follow_redirects=True)
    assert bad.status_code == 200 and "Rate from 1 to 5." in bad.get_data(as_text=True)


def test_another_instructors_session_is_not_found(app, world, make_user, issue, new_client):
    other = make_user()
    issue(other, course=world["course"], type_=CertificateType.TEACHING)
    client = new_client()
    client.login(other.email)
    assert client.get(f"/teach/sessions/{world['session_id']}").status_code == 404
    assert client.post(f"/teach/sessions/{world['session_id']}/attendance", headers=HX,
                       data={"user_id": world["learner"].id, "attended": "1"}
                       ).status_code == 404
    with app.app_context():
        assert db.session.get(CourseSession, world["session_id"]) is not None


def test_a_double_submitted_rating_is_audited_once(app, world, race):
    world["client"].post(f"/teach/sessions/{world['session_id']}/attendance", headers=HX,
                         data={"user_id": world["learner"].id, "attended": "1"})
    before = _count(app, AuditLog, AuditLog.resource_type == "session_attendance")
    responses = race(world["learner"], "POST", f"/teach/sessions/{world['session_id']}/rate",
                     n=6, data={"rating": "5"})
    assert all(r.status_code in (200, 302, 303) for r in responses)
    assert _count(app, AuditLog, AuditLog.resource_type == "session_attendance") == before + 1
