"""The quiz editor's controls: a "correct" checkbox (multiple choice) or radio (single,
true/false) per option, add and remove option buttons answered by the server, field
errors beside their question, and a preview of the quiz as a learner sees it."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Course, Role
from tests.conftest import HX


def _quiz(course_id: int) -> str:
    return f"/admin/courses/{course_id}/quiz"


def _question(n: int, kind: str, prompt: str, options: list[str], correct: list[int],
              **extra: str) -> dict:
    data = {f"questions-{n}-kind": kind, f"questions-{n}-prompt": prompt,
            f"questions-{n}-correct": [str(i) for i in correct],
            f"questions-{n}-explanation": extra.pop("explanation", "")}
    data.update({f"questions-{n}-options-{j}": o for j, o in enumerate(options)})
    data.update({f"questions-{n}-{k}": v for k, v in extra.items()})
    return data


def test_saved_questions_come_back_with_their_correct_options_marked(app, manager_client,
                                                                     make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    data = {"passing_score": "80", **_question(0, "multiple", "Pick two", ["a", "b", "c"],
                                               [0, 2]),
            **_question(1, "true_false", "Sky is green", ["True", "False"], [1])}
    saved = manager_client.post(_quiz(course_id), headers=HX, data=data)
    assert saved.status_code == 200 and "Quiz saved: 2 questions." in saved.get_data(
        as_text=True)
    with app.app_context():
        course = db.session.get(Course, course_id)
        assert [(q["type"], q["options"], q["correct"]) for q in course.questions] == [
            ("multiple", ["a", "b", "c"], [0, 2]), ("true_false", ["True", "False"], [1])]
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.resource_type == "course", AuditLog.resource_id == str(course_id))) >= 1
    html = manager_client.get(_quiz(course_id)).get_data(as_text=True)
    assert "*" not in re.sub(r"<[^>]+>", "", html.split('id="questions"')[1].split(
        "Add question")[0])
    checked = re.findall(r'type="(checkbox|radio)" name="questions-(\d)-correct" value="(\d)"\s*'
                         r'checked', html)
    assert checked == [("checkbox", "0", "0"), ("checkbox", "0", "2"), ("radio", "1", "1")]


def test_option_controls_add_remove_and_change_type(manager_client, make_track):
    track = make_track(exam=False)
    url = f"/admin/courses/{track.courses[0].id}/quiz/question/0"
    base = _question(0, "multiple", "Q", ["a", "b", "c"], [0, 2])
    added = manager_client.get(url, query_string={**base, "op": "add"}, headers=HX)
    html = added.get_data(as_text=True)
    assert added.status_code == 200
    assert 'name="questions-0-options-3"' in html and 'value="c"' in html
    removed = manager_client.get(url, query_string={**base, "op": "remove", "option": "0"},
                                 headers=HX).get_data(as_text=True)
    # "b" and "c" remain; the mark on "c" followed it to index 1.
    assert 'name="questions-0-options-2"' not in removed
    assert re.search(r'name="questions-0-options-1"[^>]*value="c"|value="c"[^>]*'
                     r'name="questions-0-options-1"', removed)
    assert re.findall(r'value="(\d)"\s*checked', removed) == ["1"]
    single = manager_client.get(url, query_string={**base, "questions-0-kind": "single",
                                                   "op": "kind"}, headers=HX)
    html = single.get_data(as_text=True)
    assert 'type="radio" name="questions-0-correct"' in html and "checkbox" not in html.split(
        "quiz-options")[1]
    assert re.findall(r'value="(\d)"\s*checked', html) == ["0"]  # one mark kept
    true_false = manager_client.get(url, query_string={**base, "questions-0-kind": "true_false",
                                                       "op": "kind"}, headers=HX)
    html = true_false.get_data(as_text=True)
    assert 'value="True"' in html and 'value="False"' in html and "Add option" not in html
    # A GET writes nothing; a hostile option number is ignored.
    odd = manager_client.get(url, query_string={**base, "op": "remove", "option": "²"},
                             headers=HX)
    assert odd.status_code == 200
    assert manager_client.get(f"/admin/courses/{track.courses[0].id}/quiz/question/500",
                              headers=HX).status_code == 404


def test_validation_puts_field_errors_beside_the_question(app, manager_client, make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    data = {"passing_score": "80",
            **_question(0, "single", "Removed one", ["x", "y"], [0], remove="y"),
            **_question(1, "single", "No mark", ["x", "y"], []),
            **_question(2, "single", "Blank option", ["x", ""], [0]),
            **_question(3, "single", "Fine", ["x", "y"], [1])}
    bad = manager_client.post(_quiz(course_id), headers=HX, data=data)
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    second = html.split('id="question-2"')[1].split("</fieldset>")[0]
    third = html.split('id="question-3"')[1].split("</fieldset>")[0]
    fourth = html.split('id="question-4"')[1].split("</fieldset>")[0]
    assert "Mark the correct answer." in second
    assert "none empty" in third and 'aria-invalid="true"' in third
    assert 'role="alert"' not in fourth
    with app.app_context():
        assert db.session.get(Course, course_id).questions == []


def test_preview_shows_the_quiz_as_a_learner_sees_it(app, manager_client, make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    data = {"passing_score": "70", "attempt_limit": "2",
            **_question(0, "multiple", "Pick two", ["alpha", "beta", "gamma"], [0, 2],
                        explanation="Secret reason")}
    preview = manager_client.post(f"{_quiz(course_id)}/preview", headers=HX, data=data)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Pick two" in html and "alpha" in html and "(choose all that apply)" in html
    assert "Pass mark 70%. 2 attempts left." in html
    assert "Secret reason" not in html and "checked" not in html and "correct" not in html
    with app.app_context():
        assert db.session.get(Course, course_id).questions == []  # nothing saved
    bad = manager_client.post(f"{_quiz(course_id)}/preview", headers=HX, data={
        "passing_score": "70", **_question(0, "single", "", ["a", "b"], [])})
    assert bad.status_code == 422 and "Question 1: Write the question." in bad.get_data(
        as_text=True)


def test_the_editor_refuses_learners(staff_client, org_admin_client, make_track):
    track = make_track(exam=False)
    course_id = track.courses[0].id
    for client in (staff_client, org_admin_client):
        assert client.get(_quiz(course_id)).status_code == 403
        assert client.post(f"{_quiz(course_id)}/preview", headers=HX, data={}).status_code == 403
        assert client.get(f"{_quiz(course_id)}/question/0", headers=HX).status_code == 403


def test_admin_may_edit_too(new_client, make_user, make_track):
    track = make_track(exam=False)
    admin = new_client()
    admin.login(make_user(Role.ADMIN).email)
    assert admin.get(_quiz(track.courses[0].id)).status_code == 200
