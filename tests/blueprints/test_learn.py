"""/learn: enrolment, course content, the live quiz."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, Course, Enrolment, ProgressStatus
from tests.conftest import HX, answers_scoring


def _form(answers: dict[str, list[int]]) -> dict[str, list[str]]:
    return {f"answer-{qid}": [str(i) for i in chosen] for qid, chosen in answers.items()}


def test_open_tracks_and_enrolment(app, staff_client, staff_user, make_track):
    track = make_track("Open to all")
    hidden = make_track("Retired", active=False)
    page = staff_client.get("/learn/tracks").get_data(as_text=True)
    assert "Open to all" in page and "Retired" not in page
    assert staff_client.get(f"/learn/tracks/{hidden.id}").status_code == 404
    response = staff_client.post(f"/learn/tracks/{track.id}/enrol")
    assert response.status_code == 302
    again = staff_client.post(f"/learn/tracks/{track.id}/enrol", follow_redirects=True)
    assert "already enrolled" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Enrolment.user_id)) == staff_user.id


def test_course_pages_need_enrolment(staff_client, make_track):
    track = make_track()
    assert staff_client.get(f"/learn/courses/{track.courses[0].id}").status_code == 403


def test_text_is_rendered_escaped_and_mark_complete(app, staff_client, make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    with app.app_context():
        course = db.session.get(Course, course_id)
        course.content_body = "Line one <script>alert(1)</script>\n\nSecond paragraph"
        db.session.commit()
    staff_client.post(f"/learn/tracks/{track.id}/enrol")
    page = staff_client.get(f"/learn/courses/{course_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "<p>Second paragraph</p>" in page
    staff_client.post(f"/learn/courses/{course_id}/complete")
    with app.app_context():
        enrolment = db.session.scalar(select(Enrolment))
        assert enrolment.status == ProgressStatus.COMPLETED


def test_live_quiz_hides_answers_counts_and_grades(app, staff_client, make_track):
    track = make_track(attempt_limit=2)
    staff_client.post(f"/learn/tracks/{track.id}/enrol")
    reading, exam = track.courses
    staff_client.post(f"/learn/courses/{reading.id}/complete")
    page = staff_client.get(f"/learn/courses/{exam.id}").get_data(as_text=True)
    assert "Answered 0 of 5" in page
    assert "Because one." not in page and '"correct"' not in page  # nothing leaks
    with app.app_context():
        course = db.session.get(Course, exam.id)
        wrong, right = answers_scoring(course, 3), answers_scoring(course, 5)
        first_id = course.questions[0]["id"]
    progress = staff_client.post(f"/learn/courses/{exam.id}/quiz/progress", headers=HX,
                                 data={f"answer-{first_id}": "0"})
    assert "Answered 1 of 5" in progress.get_data(as_text=True)
    failed = staff_client.post(f"/learn/courses/{exam.id}/quiz", headers=HX, data=_form(wrong))
    html = failed.get_data(as_text=True)
    assert "Not passed: 60.0%" in html and "1 attempt left" in html
    assert "It is false." not in html or "Q3" in html  # explanations only for wrong answers
    assert re.search(r"Q4", html) and "Because one." not in html
    passed = staff_client.post(f"/learn/courses/{exam.id}/quiz", headers=HX, data=_form(right))
    assert "Passed: 100.0%" in passed.get_data(as_text=True)
    assert "You have completed Fundamentals!" in passed.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Certificate.status)).value == "PENDING"
    me = staff_client.get("/me").get_data(as_text=True)
    assert "Completed" in me and "Pending" in me


def test_full_page_quiz_submission_without_htmx(app, staff_client, make_track):
    track = make_track()
    staff_client.post(f"/learn/tracks/{track.id}/enrol")
    exam = track.courses[1]
    response = staff_client.post(f"/learn/courses/{exam.id}/quiz", data={"submit_anyway": "1"})
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)
    assert "Not passed: 0.0%" in response.get_data(as_text=True)


def test_attempt_limit_is_shown_and_enforced(app, staff_client, make_track):
    track = make_track(attempt_limit=1)
    staff_client.post(f"/learn/tracks/{track.id}/enrol")
    exam = track.courses[1]
    staff_client.post(f"/learn/courses/{exam.id}/quiz", headers=HX, data={"submit_anyway": "1"})
    refused = staff_client.post(f"/learn/courses/{exam.id}/quiz", headers=HX,
                                data={"submit_anyway": "1"})
    assert refused.status_code == 409  # refused: the last result shows, no new attempt
    assert "No attempts are left" in refused.get_data(as_text=True)
    with app.app_context():
        from app.models import QuizAttempt

        assert len(db.session.scalars(select(QuizAttempt)).all()) == 1


def test_someone_elses_progress_is_not_reachable(new_client, make_user, make_track):
    track = make_track()
    owner, other = new_client(), new_client()
    owner.login(make_user().email)
    other.login(make_user().email)
    owner.post(f"/learn/tracks/{track.id}/enrol")
    assert other.post(f"/learn/courses/{track.courses[0].id}/complete").status_code == 403
