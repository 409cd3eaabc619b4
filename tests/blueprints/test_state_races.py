"""Micro-credential moves, course completion, quiz submissions and enrolment under
double-clicks and parallel tabs: of N identical requests one takes effect, the rest are
refused with 409, and what they trigger (audit rows, notifications, a pending
certificate) happens once. Really concurrent on PostgreSQL (CI's second run)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    ContentType,
    CredentialStatus,
    Enrolment,
    Notification,
    NotificationType,
    ProgressStatus,
    QuizAttempt,
)
from tests.conftest import HX

N = 10


def _count(app: Any, *criteria: Any, model: Any = AuditLog) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(model.id)).where(*criteria)) or 0


def _enrol(client: Any, track: Any) -> None:
    assert client.post(f"/learn/tracks/{track.id}/enrol").status_code == 302


def test_parallel_awards_award_once(app, admin_user, make_definition, make_credential,
                                    staff_user, race):
    credential = make_credential(make_definition(), staff_user,
                                 CredentialStatus.ASSESSMENT_PENDING)
    responses = race(admin_user, "POST",
                     f"/admin/micro-credentials/credentials/{credential.id}/status", n=N,
                     headers=HX, data={"status": "AWARDED"})
    assert Counter(r.status_code for r in responses) == {200: 1, 409: N - 1}
    refused = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert "Already awarded" in refused and "<html" not in refused
    assert _count(app, AuditLog.action == "MCRED_AWARD",
                  AuditLog.resource_id == str(credential.id)) == 1
    assert _count(app, Notification.user_id == staff_user.id,
                  Notification.type == NotificationType.CREDENTIAL_STATUS_CHANGE,
                  Notification.title.contains("Awarded"), model=Notification) == 1


def test_parallel_course_completions_count_once(app, staff_user, staff_client, make_track,
                                                race):
    track = make_track(exam=False)
    _enrol(staff_client, track)
    course = track.courses[0]
    responses = race(staff_user, "POST", f"/learn/courses/{course.id}/complete", n=N)
    # A plain form: every answer redirects back to the track, the refusals with a message.
    assert {r.status_code for r in responses} == {302}
    assert _count(app, AuditLog.resource_type == "course_progress") == 1
    with app.app_context():
        (enrolment,) = db.session.scalars(select(Enrolment)).all()
        assert enrolment.status == ProgressStatus.COMPLETED
    assert _count(app, Certificate.recipient_id == staff_user.id, model=Certificate) == 1
    assert _count(app, Notification.type == NotificationType.TRAINING_COMPLETED,
                  model=Notification) == 1


def test_two_tabs_completing_the_last_two_courses_complete_the_track(
        app, staff_user, staff_client, make_track, race):
    track = make_track(exam=False)
    with app.app_context():
        from app.models import CertificationTrack
        from app.services import training
        from app.services.context import Actor

        second = training.create_course(db.session.get(CertificationTrack, track.id),
                                        Actor.system(), title="Practice",
                                        content_type=ContentType.TEXT, content_body="Do it.",
                                        required=True)
        db.session.commit()
        second_id = second.id
    _enrol(staff_client, track)
    first_id = track.courses[0].id
    responses = race(staff_user, calls=[
        ("POST", f"/learn/courses/{first_id}/complete", {}),
        ("POST", f"/learn/courses/{second_id}/complete", {})])
    assert {r.status_code for r in responses} == {302}
    with app.app_context():
        (enrolment,) = db.session.scalars(select(Enrolment)).all()
        # Each request saw the other's course done: neither missed the completed track.
        assert enrolment.status == ProgressStatus.COMPLETED
    assert _count(app, Certificate.recipient_id == staff_user.id, model=Certificate) == 1
    assert _count(app, Notification.type == NotificationType.TRAINING_COMPLETED,
                  model=Notification) == 1


def test_parallel_quiz_submissions_respect_the_attempt_limit(app, staff_user, staff_client,
                                                            make_track, race):
    track = make_track(attempt_limit=3)
    _enrol(staff_client, track)
    exam = track.courses[1]
    responses = race(staff_user, "POST", f"/learn/courses/{exam.id}/quiz", n=N, headers=HX,
                     data={"submit_anyway": "1"})
    assert Counter(r.status_code for r in responses) == {200: 3, 409: N - 3}, [
        r.get_data(as_text=True)[:300] for r in responses if r.status_code == 409]
    assert _count(app, model=QuizAttempt) == 3
    with app.app_context():
        from app.models import CourseProgress

        progress = db.session.scalar(select(CourseProgress).where(
            CourseProgress.course_id == exam.id))
        assert progress.exam_attempts == 3 and progress.status == ProgressStatus.FAILED


def test_parallel_enrolments_enrol_once(app, staff_user, make_track, race):
    track = make_track()
    responses = race(staff_user, "POST", f"/learn/tracks/{track.id}/enrol", n=N)
    assert {r.status_code for r in responses} == {302}
    assert _count(app, model=Enrolment) == 1
    assert _count(app, AuditLog.resource_type == "enrolment") == 1
