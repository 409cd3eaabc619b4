"""Journeys (../shared/JOURNEYS.md): Implementation manager 1's quiz part and 2, Staff 1-2
with the unanswered-question warning and a retake granted by a manager, Instructor 1.
Each does what the person does: types, ticks, clicks and reads; no request is sent to
the URL a control should request."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    ContentType,
    Course,
    QuizAttempt,
    Role,
    SessionAttendance,
    TrackAudience,
    User,
)
from app.models.base import utcnow
from app.services import training
from app.services.context import Actor
from tests.browser.conftest import log_in_page, open_main_menu, post_by_click

PHONE = {"width": 390, "height": 844}
TRACK = "Roof Access Basics"
READING = "Ladders and edges"
EXAM = "Roof access check"
# (prompt, kind, options, correct indexes)
QUIZ = [
    ("Where does a ladder rest?", "single", ["On firm, level ground", "On a pallet", "On a bucket"],
     [0]),
    ("Which make a roof edge safe?", "multiple", ["Edge protection", "A harness", "Good luck"],
     [0, 1]),
    ("Wet iron is slippery.", "true_false", ["True", "False"], [0]),
]


def _track_with_courses(app, attempt_limit: int = 2):
    """A track with a reading course and an exam course without questions yet."""
    with app.app_context():
        actor = Actor.system()
        track = training.create_track(actor, name=TRACK, audience=TrackAudience.CLIENT_EMPLOYEE)
        training.create_course(track, actor, title=READING, content_type=ContentType.TEXT,
                               content_body="Three points of contact.", required=True)
        exam = training.create_course(track, actor, title=EXAM, content_type=ContentType.TEXT,
                                      content_body="Three questions.", required=True,
                                      has_exam=True, attempt_limit=attempt_limit)
        db.session.commit()
        return track.id, exam.id


def _write_quiz(app, course_id: int) -> None:
    with app.app_context():
        course = db.session.get(Course, course_id)
        training.save_quiz(course, [{"type": kind, "prompt": prompt, "options": options,
                                     "correct": correct, "explanation": f"About: {prompt}"}
                                    for prompt, kind, options, correct in QUIZ], Actor.system())
        db.session.commit()


def _settled(locator) -> None:
    """Wait until htmx has swapped and settled the element (its controls are live)."""
    expect(locator).to_be_visible()
    expect(locator).not_to_have_class(re.compile(r"htmx-(added|settling|swapping)"))




def test_manager_writes_a_quiz_with_controls_and_previews_it(app, page, live_server, log_in,
                                                             make_user, screenshot,
                                                             page_errors):
    manager = make_user(Role.MANAGER, name="Mere Manager")
    track_id, exam_id = _track_with_courses(app)
    log_in(manager.email)
    page.goto(f"{live_server}/admin/tracks/{track_id}")
    page.locator(f"tr#course-{exam_id}").get_by_role("button", name="Quiz").click()
    expect(page).to_have_url(re.compile(rf"/admin/courses/{exam_id}/quiz$"))

    for n, (prompt, kind, options, correct) in enumerate(QUIZ, start=1):
        page.get_by_role("button", name="Add question").click()
        question = page.locator(f"#question-{n}")
        _settled(question)
        # Changing the type re-renders the question on the server: wait for it.
        with page.expect_response(lambda r: "/quiz/question/" in r.url):
            question.get_by_label("Type").select_option(kind)
        _settled(question)
        if kind == "true_false":
            expect(question.get_by_label(f"Option 1 of question {n}", exact=True)).to_have_value(
                "True")
            expect(question.get_by_role("button", name="Add option")).to_have_count(0)
        question.get_by_label("Question", exact=True).fill(prompt)
        if kind != "true_false":
            # One box too many, then removed again: the other boxes keep their text.
            for _ in range(len(options) - 1):
                count = question.locator(".option-row").count()
                question.get_by_role("button", name="Add option").click()
                expect(question.locator(".option-row")).to_have_count(count + 1)
                _settled(question)
            for j, text in enumerate(options):
                question.get_by_label(f"Option {j + 1} of question {n}", exact=True).fill(text)
            question.get_by_role("button", name=f"Remove option {len(options) + 1} of "
                                                f"question {n}").click()
            expect(question.locator(".option-row")).to_have_count(len(options))
            _settled(question)
            expect(question.get_by_label(f"Option 1 of question {n}", exact=True)).to_have_value(
                options[0])
        if kind == "multiple":
            expect(question.locator('input[type="checkbox"][name$="-correct"]')).to_have_count(3)
        else:
            expect(question.locator('input[type="radio"][name$="-correct"]')).to_have_count(
                len(options))
        if n == 1:
            screenshot("editor-first-question")
            continue  # its correct option is forgotten at first
        for j in correct:
            question.locator(f"#question-{n}-option-{j}").get_by_label("Correct").check()

    # Saving with a question whose correct option is not marked: told beside it.
    response = post_by_click(page, page.get_by_role("button", name="Save quiz"),
                     f"/admin/courses/{exam_id}/quiz")
    assert response.status == 422
    first = page.locator("#question-1")
    expect(first.get_by_role("alert")).to_contain_text("Mark the correct answer.")
    expect(page.locator("#question-2").get_by_role("alert")).to_have_count(0)
    screenshot("editor-field-error")
    first.locator("#question-1-option-0").get_by_label("Correct").check()

    # The preview: the quiz as a learner sees it, no answers marked.
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#quiz-preview")
    expect(preview).to_contain_text("Preview")
    expect(preview.locator("fieldset.quiz-question")).to_have_count(3)
    expect(preview).to_contain_text("Where does a ladder rest?")
    expect(preview).to_contain_text("(choose all that apply)")
    expect(preview.locator("input:checked")).to_have_count(0)
    expect(preview).not_to_contain_text("About:")
    expect(preview).not_to_contain_text("Correct")
    preview.scroll_into_view_if_needed()
    screenshot("preview")

    response = post_by_click(page, page.get_by_role("button", name="Save quiz"),
                     f"/admin/courses/{exam_id}/quiz")
    assert response.status == 200
    expect(page.get_by_role("status")).to_have_text("Quiz saved: 3 questions.")
    # Beside the Save button, focused and on screen (it used to land above the viewport).
    saved = page.locator("#quiz-saved")
    expect(saved).to_be_focused()
    expect(saved).to_be_in_viewport()
    expect(page.get_by_role("button", name="Save quiz")).to_be_in_viewport()  # no jump
    second = page.locator("#question-2")
    expect(second.locator("#question-2-option-0").get_by_label("Correct")).to_be_checked()
    expect(second.locator("#question-2-option-1").get_by_label("Correct")).to_be_checked()
    expect(second.locator("#question-2-option-2").get_by_label("Correct")).not_to_be_checked()
    screenshot("saved")
    with app.app_context():
        course = db.session.get(Course, exam_id)
        assert [(q["type"], q["options"], q["correct"]) for q in course.questions] == [
            (kind, options, correct) for _, kind, options, correct in QUIZ]
    assert not page_errors, page_errors


def _answer(page, picks: dict[int, list[int]]) -> None:
    """Tick options by their text, question by question (1-based question numbers)."""
    questions = page.locator("#quiz-form fieldset.quiz-question")
    for n, chosen in picks.items():
        _, _, options, _ = QUIZ[n - 1]
        for j in chosen:
            questions.nth(n - 1).get_by_label(options[j], exact=True).check()


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_learner_is_warned_fails_uses_up_attempts_and_a_manager_grants_one_more(
        app, page, new_page, live_server, log_in, make_user, make_org, screenshot,
        page_errors, viewport):
    org = make_org("Kāpiti Roofing")
    learner = make_user(Role.STAFF, org, name="Aroha Learner")
    manager = make_user(Role.MANAGER, name="Mere Manager")
    track_id, exam_id = _track_with_courses(app, attempt_limit=2)
    _write_quiz(app, exam_id)

    # --- Staff 1: log in, see progress per track -----------------------------------------
    if viewport:
        page.set_viewport_size(viewport)  # the learner's journeys also run on a phone
    log_in(learner.email)
    open_main_menu(page)
    page.get_by_role("link", name="Learn").first.click()
    page.locator("article", has_text=TRACK).get_by_role("button", name="Enrol").click()
    expect(page.get_by_role("status")).to_contain_text(f"You are enrolled in {TRACK}.")
    page.get_by_role("link", name=READING).click()
    page.get_by_role("button", name="Mark complete").click()
    expect(page.get_by_role("status")).to_contain_text(f"{READING} is complete.")
    open_main_menu(page)
    page.get_by_role("link", name="My page").click()
    my_track = page.locator("#my-tracks tr", has_text=TRACK)
    expect(my_track).to_contain_text("50%")
    expect(my_track.locator(".badge")).to_have_text("In Progress")
    screenshot("learner-progress-per-track")
    my_track.get_by_role("link", name=TRACK).click()
    page.get_by_role("link", name=EXAM).click()
    expect(page.locator("#quiz")).to_contain_text("2 attempts left.")

    # --- Warned with questions unanswered, back to the first, answer ---------------------
    _answer(page, {1: [1]})  # only the first question, wrongly
    page.get_by_role("button", name="Submit answers").click()
    warning = page.locator("#quiz-unanswered")
    expect(warning).to_contain_text("2 of 3 questions are unanswered.")
    expect(page.locator("#quiz")).to_contain_text("2 attempts left.")  # none used
    screenshot("warned-unanswered")
    warning.get_by_role("link", name="Go to the first unanswered question").click()
    expect(page).to_have_url(re.compile(r"#q-"))
    second = page.locator("#quiz-form fieldset.quiz-question").nth(1)
    expect(second).to_be_in_viewport()
    expect(second).to_contain_text("Not answered yet.")
    expect(page.locator("#quiz-form fieldset.quiz-question").nth(0).get_by_label(
        QUIZ[0][2][1], exact=True)).to_be_checked()  # the answer given is kept
    _answer(page, {2: [2], 3: [1]})  # all answered now, all wrong
    page.get_by_role("button", name="Submit answers").click()
    result = page.locator("#quiz-result")
    expect(result.locator("h3")).to_have_text("Not passed: 0.0%")
    expect(result).to_contain_text("Attempt 1; 1 attempt left.")
    expect(result).to_contain_text("About: Where does a ladder rest?")
    expect(page.locator("#quiz")).to_have_count(1)
    screenshot("failed-once")

    # --- The last attempt goes too: no attempts left --------------------------------------
    result.get_by_role("button", name="Try again").click()
    expect(page.locator("#quiz")).to_contain_text("1 attempt left.")
    _answer(page, {1: [0], 2: [0], 3: [1]})  # one of three right
    page.get_by_role("button", name="Submit answers").click()
    expect(result.locator("h3")).to_have_text("Not passed: 33.3%")
    expect(result).to_contain_text("No attempts are left. Ask your training manager")
    expect(result.get_by_role("button", name="Try again")).to_have_count(0)
    screenshot("no-attempts-left")

    # --- Implementation manager 2: open the learner from the track, grant one more -------
    boss = new_page()
    log_in_page(boss, live_server, manager.email)
    boss.goto(f"{live_server}/admin/tracks")
    boss.locator("tr", has_text=TRACK).get_by_role("button", name="Open").click()
    boss.locator("#learners-table").get_by_role("link", name="Aroha Learner").click()
    expect(boss).to_have_url(re.compile(rf"/admin/tracks/{track_id}/learners/{learner.id}$"))
    card = boss.locator(f"#learner-course-{exam_id}")
    expect(card).to_contain_text("Failed")
    expect(card).to_contain_text("0 attempts left")
    expect(card.locator("table.quiz-attempts tbody tr")).to_have_count(2)
    expect(card.locator("table.quiz-attempts")).to_contain_text("33.3%")
    screenshot("manager-sees-attempts", on=boss)
    card.get_by_label("Extra attempts").fill("1")
    response = post_by_click(boss, card.get_by_role("button", name="Grant"),
                     "/grant")
    assert response.status == 200
    expect(card.get_by_role("status")).to_have_text("Granted. 1 attempt left now.")
    expect(card).to_contain_text("In Progress")
    expect(boss.locator("#learner-enrolment-status")).to_have_text("In Progress")
    screenshot("manager-granted", on=boss)

    # --- The learner tries again and passes -----------------------------------------------
    page.reload()
    expect(page.locator("#quiz")).to_contain_text("1 attempt left.")
    expect(page.locator("#quiz")).to_contain_text("including 1 more your training manager "
                                                  "gave you")
    _answer(page, {1: [0], 2: [0, 1], 3: [0]})
    page.get_by_role("button", name="Submit answers").click()
    expect(result.locator("h3")).to_have_text("Passed: 100.0%")
    expect(page.locator("#course-status")).to_have_text("Completed")
    screenshot("passed-after-retake")
    page.reload()
    expect(page.locator("#quiz")).to_have_count(1)
    expect(page.get_by_role("heading", name="Quiz")).to_have_count(1)
    with app.app_context():
        assert len(db.session.scalars(select(QuizAttempt)).all()) == 3
    assert not page_errors, page_errors


def test_instructor_marks_enrolled_learners_and_recommends_but_not_themselves(
        app, page, live_server, log_in, make_user, issue, screenshot, page_errors):
    track_id, _ = _track_with_courses(app)
    with app.app_context():
        reading = db.session.scalar(select(Course).where(Course.title == READING))
        db.session.expunge(reading)
    instructor = make_user(Role.STAFF, name="Tina Teacher")
    enrolled = make_user(Role.STAFF, name="Lee Learner")
    make_user(Role.STAFF, name="Olive Outsider")  # not enrolled: not offered
    issue(instructor, course=reading, type_=CertificateType.TEACHING)
    with app.app_context():
        for user in (enrolled, instructor):  # the instructor is enrolled too
            training.enrol(db.session.get(User, user.id), training.get_track(track_id),
                           Actor.system())
        db.session.commit()

    log_in(instructor.email)
    page.get_by_role("link", name="Teach").click()
    course = page.locator(f"#taught-course-{reading.id}")
    course.get_by_label("Session title").fill("Ladder yard session")
    starts = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    course.get_by_label("Starts").fill(starts)
    course.get_by_label("Location").fill("Yard 2")
    course.get_by_role("button", name="Schedule session").click()
    expect(page.get_by_role("heading", name="Ladder yard session")).to_be_visible()
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)  # only the enrolled learner: no outsider, not themselves
    expect(rows.first).to_contain_text("Lee Learner")
    expect(page.locator("table")).not_to_contain_text("Olive Outsider")
    expect(page.locator("table")).not_to_contain_text("Tina Teacher")
    screenshot("session-learners")
    row = page.locator(f"tr#learner-{enrolled.id}")
    row.get_by_role("button", name="Mark present").click()
    expect(row.get_by_role("button", name="Present ✓")).to_be_visible()
    row.get_by_role("button", name="Recommend for completion").click()
    expect(row.locator(".badge")).to_have_text("Pending")
    screenshot("attended-and-recommended")
    with app.app_context():
        attendance = db.session.scalars(select(SessionAttendance)).all()
        assert [(a.user_id, a.attended) for a in attendance] == [(enrolled.id, True)]
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.type == CertificateType.COMPLETION))
        assert certificate.recipient_id == enrolled.id
        assert certificate.status == CertificateStatus.PENDING
        assert certificate.recommended_by_id == instructor.id and certificate.sessions_attended == 1
    assert not page_errors, page_errors
