"""Training rules: enrolment, roll-up, grading, attempts, completion, versions, readiness."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificationTrack,
    Course,
    Enrolment,
    Notification,
    ProgressStatus,
    QuizAttempt,
    Role,
    User,
)
from app.services import training
from app.services.context import Actor
from app.services.errors import Conflict, ValidationFailed
from tests.conftest import answers_scoring

P = ProgressStatus


def _actor():
    return Actor.system()


def _enrol(app, user, track):
    with app.app_context():
        enrolment = training.enrol(db.session.get(User, user.id),
                                   db.session.get(CertificationTrack, track.id), _actor())
        db.session.commit()
        return enrolment.id


def _exam(track) -> Course:
    return next(c for c in track.courses if c.has_exam)


def _reading(track) -> Course:
    return next(c for c in track.courses if not c.has_exam)


def test_enrol_creates_a_progress_row_per_course(app, make_track, make_user):
    track, user = make_track(), make_user()
    enrolment_id = _enrol(app, user, track)
    with app.app_context():
        enrolment = db.session.get(Enrolment, enrolment_id)
        assert enrolment.status == P.NOT_STARTED
        assert sorted(p.course_id for p in enrolment.course_progress) == sorted(
            c.id for c in track.courses)
        with pytest.raises(Conflict, match="already enrolled"):
            training.enrol(db.session.get(User, user.id),
                           db.session.get(CertificationTrack, track.id), _actor())


def test_inactive_tracks_cannot_be_joined(app, make_track, make_user):
    track = make_track(active=False)
    with app.app_context(), pytest.raises(ValidationFailed, match="not open"):
        training.enrol(db.session.get(User, make_user().id),
                       db.session.get(CertificationTrack, track.id), _actor())


def test_grading_boundary_79_9_fails_and_80_passes():
    questions = [{"id": str(i), "correct": [0], "options": ["a", "b"]} for i in range(1000)]
    right = {str(i): [0] for i in range(799)}
    assert training.grade(questions, right, 80).score == pytest.approx(79.9)
    assert training.grade(questions, right, 80).passed is False
    right["799"] = [0]
    assert training.grade(questions, right, 80).score == 80.0
    assert training.grade(questions, right, 80).passed is True


def test_grading_needs_exactly_the_correct_options():
    questions = [{"id": "m", "correct": [0, 2], "options": ["a", "b", "c"]}]
    assert training.grade(questions, {"m": [0, 2]}, 100).passed
    assert not training.grade(questions, {"m": [0]}, 100).passed
    assert not training.grade(questions, {"m": [0, 1, 2]}, 100).passed
    assert not training.grade(questions, {"m": ["x"]}, 100).passed
    assert training.grade(questions, {}, 100).wrong == ["m"]


def test_quiz_validation_names_each_problem():
    with pytest.raises(ValidationFailed) as excinfo:
        training.validate_questions([
            {"type": "single", "prompt": "", "options": ["a", "b"], "correct": [0]},
            {"type": "single", "prompt": "Two right?", "options": ["a", "b"], "correct": [0, 1]},
            {"type": "multiple", "prompt": "None right", "options": ["a", "b"], "correct": []},
            {"type": "single", "prompt": "Out of range", "options": ["a", "b"], "correct": [5]},
            {"type": "essay", "prompt": "Bad type", "options": ["a", "b"], "correct": [0]},
            {"type": "single", "prompt": "One option", "options": ["a"], "correct": [0]},
        ])
    fields = excinfo.value.fields
    assert fields["questions.1"] == ["Write the question."]
    assert "exactly one correct answer" in fields["questions.2"][0]
    assert fields["questions.3"] == ["Mark the correct answer."]
    assert "must be one of the options" in fields["questions.4"][0]
    assert "Choose single choice" in fields["questions.5"][0]
    assert "2 to 10 options" in fields["questions.6"][0]
    ok = training.validate_questions([{"type": "true_false", "prompt": "Sky is blue",
                                       "options": ["whatever"], "correct": [0]}])
    assert ok[0]["options"] == ["True", "False"] and len(ok[0]["id"]) == 8


def test_fail_then_pass_completes_the_track_and_requests_a_certificate(app, make_track,
                                                                        make_user):
    track, user = make_track(validity_months=12), make_user()
    enrolment_id = _enrol(app, user, track)
    with app.app_context():
        enrolment = db.session.get(Enrolment, enrolment_id)
        actor = Actor(db.session.get(User, user.id))
        training.complete_course(training.progress_for(enrolment, _reading(track)), actor)
        assert enrolment.status == P.IN_PROGRESS
        exam = db.session.get(Course, _exam(track).id)
        progress = training.progress_for(enrolment, exam)
        failed = training.submit_quiz_attempt(progress, answers_scoring(exam, 3), actor)
        assert failed.score == 60.0 and not failed.passed and progress.status == P.IN_PROGRESS
        assert enrolment.status == P.IN_PROGRESS
        passed = training.submit_quiz_attempt(progress, answers_scoring(exam, 4), actor)
        db.session.commit()
        assert passed.passed and passed.attempt_number == 2
        assert progress.status == P.COMPLETED and progress.exam_score == 80.0
        assert enrolment.status == P.COMPLETED and enrolment.completed_version == "1.0"
        assert enrolment.expires_at == training.add_months(date.today(), 12)
        certificate = db.session.scalar(select(Certificate))
        assert certificate.status == CertificateStatus.PENDING
        assert certificate.type.value == "COMPLETION" and certificate.track_id == track.id
        assert certificate.recipient_id == user.id
        with pytest.raises(Conflict, match="already passed"):
            training.submit_quiz_attempt(progress, answers_scoring(exam, 5), actor)


def test_the_attempt_limit_fails_the_course_and_the_track(app, make_track, make_user):
    track, user = make_track(attempt_limit=2), make_user()
    enrolment_id = _enrol(app, user, track)
    with app.app_context():
        enrolment = db.session.get(Enrolment, enrolment_id)
        exam = db.session.get(Course, _exam(track).id)
        progress = training.progress_for(enrolment, exam)
        for _ in range(2):
            training.submit_quiz_attempt(progress, {}, _actor(), allow_unanswered=True)
        assert progress.status == P.FAILED and training.attempts_left(progress) == 0
        assert enrolment.status == P.FAILED
        with pytest.raises(Conflict, match="No attempts are left"):
            training.submit_quiz_attempt(progress, answers_scoring(exam, 5), _actor())


def test_two_submissions_at_once_cannot_exceed_the_limit(make_app, make_track, make_user):
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    track, user = make_track(attempt_limit=1), make_user()
    enrolment_id = _enrol(app, user, track)
    outcomes: list[str] = []
    barrier = threading.Barrier(3)

    def submit():
        barrier.wait(timeout=30)  # all start together (on SQLite the write lock queues them)
        with app.app_context():
            progress = training.progress_for(db.session.get(Enrolment, enrolment_id),
                                             db.session.get(Course, _exam(track).id))
            try:
                training.submit_quiz_attempt(progress, {}, _actor(),
                                             allow_unanswered=True)
                db.session.commit()
                outcomes.append("recorded")
            except (Conflict, ValidationFailed):
                db.session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["recorded", "refused", "refused"]
    with app.app_context():
        assert db.session.scalar(select(func.count(QuizAttempt.id))) == 1


def test_exam_courses_are_not_marked_complete_by_hand(app, make_track, make_user):
    track, user = make_track(), make_user()
    enrolment_id = _enrol(app, user, track)
    with app.app_context():
        progress = training.progress_for(db.session.get(Enrolment, enrolment_id),
                                         db.session.get(Course, _exam(track).id))
        with pytest.raises(ValidationFailed, match="passing its quiz"):
            training.complete_course(progress, _actor())


def _complete(app, user, track):
    enrolment_id = _enrol(app, user, track)
    with app.app_context():
        enrolment = db.session.get(Enrolment, enrolment_id)
        training.complete_course(training.progress_for(enrolment, _reading(track)), _actor())
        exam = db.session.get(Course, _exam(track).id)
        training.submit_quiz_attempt(training.progress_for(enrolment, exam),
                                     answers_scoring(exam, 5), _actor())
        db.session.commit()
        assert enrolment.status == P.COMPLETED
    return enrolment_id


def test_minor_bump_keeps_holders_certified(app, make_track, make_user):
    track = make_track()
    enrolment_id = _complete(app, make_user(), track)
    with app.app_context():
        assert training.bump_version(db.session.get(CertificationTrack, track.id), _actor(),
                                     major=False) == 0
        db.session.commit()
        assert db.session.get(CertificationTrack, track.id).version == "1.1"
        assert db.session.get(Enrolment, enrolment_id).status == P.COMPLETED


def test_major_bump_sends_holders_back_with_fresh_attempts(app, make_track, make_user):
    track, holder = make_track(attempt_limit=1), make_user()
    enrolment_id = _complete(app, holder, track)
    other = _enrol(app, make_user(), track)  # not completed: untouched
    with app.app_context():
        assert training.bump_version(db.session.get(CertificationTrack, track.id), _actor(),
                                     major=True) == 1
        db.session.commit()
        enrolment = db.session.get(Enrolment, enrolment_id)
        assert db.session.get(CertificationTrack, track.id).version == "2.0"
        assert enrolment.status == P.IN_PROGRESS and enrolment.completed_version == "1.0"
        assert {p.status for p in enrolment.course_progress} == {P.NOT_STARTED}
        assert db.session.get(Enrolment, other).status == P.NOT_STARTED
        notice = db.session.scalar(select(Notification).where(Notification.user_id == holder.id,
                                                              Notification.type ==
                                                              "RECERTIFICATION_REQUIRED"))
        assert "2.0" in notice.title
        # The attempt limit counts afresh in the new cycle.
        exam = db.session.get(Course, _exam(track).id)
        progress = training.progress_for(enrolment, exam)
        assert training.attempts_left(progress) == 1
        attempt = training.submit_quiz_attempt(progress, answers_scoring(exam, 5), _actor())
        assert attempt.track_version == "2.0" and attempt.attempt_number == 1


def test_reorder_takes_the_full_list_and_refuses_other_tracks(app, make_track):
    track, other = make_track("A"), make_track("B")
    ids = [c.id for c in track.courses]
    with app.app_context():
        t = db.session.get(CertificationTrack, track.id)
        training.reorder_courses(t, list(reversed(ids)), _actor())
        db.session.commit()
        assert [c.id for c in db.session.get(CertificationTrack, track.id).courses] == list(
            reversed(ids))
        with pytest.raises(ValidationFailed, match="Not courses of this track"):
            training.reorder_courses(t, [ids[0], other.courses[0].id], _actor())
        with pytest.raises(ValidationFailed):
            training.reorder_courses(t, ids[:1], _actor())


def test_summary_counts(app, make_track, make_user):
    track = make_track()
    _complete(app, make_user(), track)
    _enrol(app, make_user(), track)
    _enrol(app, make_user(), track)
    with app.app_context():
        summary = training.track_summary(db.session.get(CertificationTrack, track.id))
        assert (summary.enrolled, summary.completed, summary.not_started) == (3, 1, 2)
        assert summary.completion_rate == 33.3


def test_readiness_counts_only_completions_valid_on_the_go_live_date(app, make_track,
                                                                     make_user, org):
    track = make_track(required_for_go_live=True, validity_months=1)
    optional = make_track("Optional", required_for_go_live=False)
    a, b = make_user(organization=org), make_user(organization=org)
    outsider = make_user()
    for user in (a, b, outsider):
        _complete(app, user, track)
    with app.app_context():
        soon = training.create_project(_actor(), name="Soon", organization_id=org.id,
                                       go_live_date=date.today() + timedelta(days=10))
        late = training.create_project(_actor(), name="Late", organization_id=org.id,
                                       go_live_date=date.today() + timedelta(days=60))
        for project in (soon, late):
            training.assign_training(project, db.session.get(CertificationTrack, track.id),
                                     _actor(), target_role="staff", required_completions=2)
            training.assign_training(project, db.session.get(CertificationTrack, optional.id),
                                     _actor(), required_completions=5)
        db.session.commit()
        ready = training.project_status(soon)
        assert ready.ready and not ready.overall_complete  # the optional track does not block
        assert ready.assignments[0].completed == 2  # the outsider does not count
        late_status = training.project_status(late)
        assert not late_status.ready
        blocking = late_status.blocking[0]
        assert blocking.completed == 0 and blocking.expiring == 2 and blocking.shortfall == 2
        with pytest.raises(Conflict):
            training.assign_training(soon, db.session.get(CertificationTrack, track.id),
                                     _actor(), target_role="staff")


def test_target_role_filters_completions(app, make_track, make_user, org):
    track = make_track(required_for_go_live=True)
    _complete(app, make_user(Role.ORG_ADMIN, org), track)
    with app.app_context():
        project = training.create_project(_actor(), name="P", organization_id=org.id,
                                          go_live_date=None)
        training.assign_training(project, db.session.get(CertificationTrack, track.id),
                                 _actor(), target_role="staff")
        assert training.project_status(project).assignments[0].completed == 0
        with pytest.raises(ValidationFailed):
            training.assign_training(project, db.session.get(CertificationTrack, track.id),
                                     _actor(), target_role="wizard")
