"""Training in a real browser: a manager builds a track with a text course and a quiz,
assigns it to an implementation project; a staff member enrols, completes the course,
fails then passes the live quiz; the project turns ready for go-live."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import CertificationTrack, Course, Role
from app.models.base import utcnow
from tests.browser.conftest import log_in_page, post_by_click

TRACK = "Site Safety Induction"
READING = "Working safely on roofs"
READING_BODY = ("Always clip on before you climb.\n\nCheck the weather before you start; "
                "wet iron is slippery.")
QUIZ_COURSE = "Site safety check"
QUESTIONS = [
    # (prompt, options with * before the right one, explanation)
    ("When do you clip on your harness?",
     "* Before you climb\nAt the top of the ladder\nOnly in wind",
     "Clip on before your feet leave the ground."),
    ("What makes roofing iron slippery?",
     "Sunshine\n* Rain or dew\nA new ladder",
     "Wet iron is slippery: check for rain and dew first."),
]




def _track(app, name: str) -> CertificationTrack | None:
    with app.app_context():
        track = db.session.scalar(select(CertificationTrack)
                                  .where(CertificationTrack.name == name))
        if track is not None:
            db.session.expunge(track)
        return track


def _course(app, title: str) -> Course | None:
    with app.app_context():
        course = db.session.scalar(select(Course).where(Course.title == title))
        if course is not None:
            db.session.expunge(course)
        return course


def test_manager_builds_a_track_with_a_quiz_staff_completes_it_and_the_project_is_ready(
        app, page, new_page, live_server, log_in, make_user, make_org, screenshot,
        page_errors):
    manager = make_user(Role.MANAGER, name="Mere Manager")
    org = make_org("Ōtautahi Roofing")
    staff = make_user(Role.STAFF, org, name="Tāne Ngāti Pōneke")
    log_in(manager.email)

    # --- A new track, inline ------------------------------------------------------------
    page.goto(f"{live_server}/admin/tracks")
    expect(page.get_by_role("heading", name="Certification tracks")).to_be_visible()
    row = page.locator("tr#track-new")
    expect(row.locator('input[name="active"]')).to_be_checked()
    row.locator('input[name="name"]').fill(TRACK)
    row.locator('textarea[name="description"]').fill("What everyone on site must know.")
    row.locator('select[name="audience"]').select_option("CLIENT_EMPLOYEE")
    row.locator('select[name="level"]').select_option("FOUNDATION")
    row.locator('input[name="required_for_go_live"]').check()
    row.locator('input[name="estimated_hours"]').fill("2")
    row.locator('input[name="validity_months"]').fill("24")
    response = post_by_click(page, row.get_by_role("button", name="Add track"), "/admin/tracks")
    assert response.status == 200
    track = _track(app, TRACK)
    assert track is not None and track.active and track.required_for_go_live
    track_row = page.locator(f"tr#track-{track.id}")
    expect(track_row).to_contain_text("Required")
    expect(track_row).to_contain_text("24 months")
    expect(page.locator('tr#track-new input[name="name"]')).to_have_value("")
    track_row.get_by_role("button", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{track.id}$"))
    expect(page.get_by_role("heading", name=re.compile(TRACK))).to_be_visible()

    # --- Two courses: a text course, then one with an exam ------------------------------
    row = page.locator("tr#course-new")
    row.locator('input[name="title"]').fill(READING)
    row.locator('textarea[name="description"]').fill("Harness and weather basics.")
    row.locator('select[name="content_type"]').select_option("TEXT")
    row.locator('textarea[name="content_body"]').fill(READING_BODY)
    row.locator('input[name="estimated_minutes"]').fill("15")
    expect(row.locator('input[name="required"]')).to_be_checked()
    response = post_by_click(page, row.get_by_role("button", name="Add course"),
                     f"/admin/tracks/{track.id}/courses")
    assert response.status == 200
    reading = _course(app, READING)
    assert reading is not None
    expect(page.locator(f"#courses-table tr#course-{reading.id}")).to_contain_text(
        f"{len(READING_BODY)} characters")

    row = page.locator("tr#course-new")
    expect(row.locator('input[name="title"]')).to_have_value("")
    row.locator('input[name="title"]').fill(QUIZ_COURSE)
    row.locator('select[name="content_type"]').select_option("TEXT")
    row.locator('textarea[name="content_body"]').fill("Answer both questions.")
    row.locator('input[name="has_exam"]').check()
    row.locator('input[name="passing_score"]').fill("80")
    row.locator('input[name="attempt_limit"]').fill("3")
    response = post_by_click(page, row.get_by_role("button", name="Add course"),
                     f"/admin/tracks/{track.id}/courses")
    assert response.status == 200
    quiz_course = _course(app, QUIZ_COURSE)
    assert quiz_course is not None and quiz_course.has_exam
    quiz_row = page.locator(f"#courses-table tr#course-{quiz_course.id}")
    expect(quiz_row).to_contain_text("0 questions, pass 80%, 3 attempts")
    expect(page.locator("#courses-table tbody > tr")).to_have_count(3)  # two + the create row
    screenshot("track-courses")

    # --- The quiz editor --------------------------------------------------------------------
    quiz_row.get_by_role("button", name="Quiz").click()
    expect(page).to_have_url(re.compile(rf"/admin/courses/{quiz_course.id}/quiz$"))
    expect(page.locator('input[name="passing_score"]')).to_have_value("80")
    expect(page.locator('input[name="attempt_limit"]')).to_have_value("3")
    for n, (prompt, options, explanation) in enumerate(QUESTIONS):
        page.get_by_role("button", name="Add question").click()
        question = page.locator(f"#question-{n + 1}")
        expect(question).not_to_have_class(re.compile(r"htmx-(added|settling|swapping)"))
        # A new question is single choice already: nothing to re-render.
        expect(question.locator(f'select[name="questions-{n}-kind"]')).to_have_value("single")
        question.locator(f'textarea[name="questions-{n}-prompt"]').fill(prompt)
        texts = [o.lstrip("* ") for o in options.splitlines()]
        for _ in range(len(texts) - 2):  # a new question has two option boxes
            count = question.locator(".option-row").count()
            question.get_by_role("button", name="Add option").click()
            expect(question.locator(".option-row")).to_have_count(count + 1)
            expect(question).not_to_have_class(re.compile(r"htmx-(added|settling|swapping)"))
        for j, text in enumerate(texts):
            question.get_by_label(f"Option {j + 1} of question {n + 1}", exact=True).fill(text)
        right = next(j for j, o in enumerate(options.splitlines()) if o.startswith("*"))
        question.locator(f"#question-{n + 1}-option-{right}").get_by_label("Correct").check()
        question.locator(f'textarea[name="questions-{n}-explanation"]').fill(explanation)
    response = post_by_click(page, page.get_by_role("button", name="Save quiz"),
                     f"/admin/courses/{quiz_course.id}/quiz")
    assert response.status == 200
    expect(page.get_by_role("status")).to_have_text("Quiz saved: 2 questions.")
    # Saved questions come back with their correct options still marked.
    expect(page.get_by_label("Option 2 of question 2", exact=True)).to_have_value("Rain or dew")
    expect(page.locator("#question-2-option-1").get_by_label("Correct")).to_be_checked()
    expect(page.locator("#question-2-option-0").get_by_label("Correct")).not_to_be_checked()
    screenshot("quiz-editor")

    # --- A project that needs the track -------------------------------------------------
    page.goto(f"{live_server}/admin/projects")
    form = page.locator("#project-form")
    form.locator('input[name="name"]').fill("Ōtautahi go-live")
    form.locator('select[name="organization_id"]').select_option(label=org.name)
    go_live = utcnow().date() + timedelta(days=60)
    form.locator('input[name="go_live_date"]').fill(go_live.isoformat())
    form.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/admin/projects/\d+$"))
    project_url = page.url
    expect(page.get_by_role("heading", name="Ōtautahi go-live")).to_be_visible()
    expect(page.get_by_text(f"go-live {go_live.isoformat()}")).to_be_visible()
    assign = page.locator("form", has=page.get_by_role("button", name="Assign"))
    assign.locator('select[name="track_id"]').select_option(label=TRACK)
    assign.locator('select[name="target_role"]').select_option("any")
    assign.locator('input[name="required_completions"]').fill("1")
    response = post_by_click(page, assign.get_by_role("button", name="Assign"), "/assignments")
    assert response.status == 200
    expect(page.locator("#readiness h2")).to_have_text("✗ Not ready for go-live")
    expect(page.locator("#readiness")).to_contain_text(f"{TRACK} (any): 0 of 1")
    expect(page.locator("#project-status table")).to_contain_text("0/1 completed · 0 enrolled")

    # --- The staff member enrols and reads the first course -----------------------------
    learner = new_page()
    log_in_page(learner, live_server, staff.email)
    learner.goto(f"{live_server}/learn/tracks")
    learner.locator(f"#open-track-{track.id}").get_by_role("button", name="Enrol").click()
    expect(learner).to_have_url(re.compile(rf"/learn/tracks/{track.id}$"))
    expect(learner.get_by_role("status")).to_have_text(f"You are enrolled in {TRACK}.")
    learner.get_by_role("link", name=READING).click()
    expect(learner).to_have_url(re.compile(rf"/learn/courses/{reading.id}$"))
    expect(learner.locator(".course-body")).to_contain_text("Always clip on before you climb.")
    learner.get_by_role("button", name="Mark complete").click()
    expect(learner).to_have_url(re.compile(rf"/learn/tracks/{track.id}$"))
    expect(learner.get_by_role("status")).to_have_text(f"{READING} is complete.")
    expect(learner.locator(f"tr#learn-course-{reading.id} .badge")).to_have_text("Completed")
    expect(learner.locator("#enrolment-status")).to_have_text("In Progress")

    # --- The live quiz: progress without a reload, no answers in the page ---------------
    learner.get_by_role("link", name=QUIZ_COURSE).click()
    expect(learner).to_have_url(re.compile(rf"/learn/courses/{quiz_course.id}$"))
    learner.evaluate("window.__marker = 1")
    progress = learner.locator("#quiz-progress")
    expect(progress).to_have_text("Answered 0 of 2")
    expect(learner.locator("#quiz")).to_contain_text("3 attempts left")
    html = learner.content()
    for _, _, explanation in QUESTIONS:
        assert explanation not in html, "an explanation is in the page before submission"
    assert "*" not in learner.locator("#quiz-form").inner_text()
    assert "correct" not in html.lower()

    first = learner.locator("fieldset.quiz-question").nth(0)
    second = learner.locator("fieldset.quiz-question").nth(1)
    first.get_by_label("Before you climb").check()
    expect(progress).to_have_text("Answered 1 of 2")
    screenshot("quiz-midway", on=learner)
    second.get_by_label("Sunshine").check()  # wrong
    expect(progress).to_have_text("Answered 2 of 2")
    assert learner.evaluate("window.__marker") == 1, "the quiz reloaded the page"
    response = post_by_click(learner, learner.get_by_role("button", name="Submit answers"),
                     f"/learn/courses/{quiz_course.id}/quiz")
    assert response.status == 200
    result = learner.locator("#quiz-result")
    expect(result.locator("h3")).to_have_text("Not passed: 50.0%")
    expect(result).to_contain_text("Attempt 1; 2 attempts left.")
    expect(result).to_contain_text(QUESTIONS[1][0])
    expect(result).to_contain_text(QUESTIONS[1][2])
    expect(result).not_to_contain_text(QUESTIONS[0][2])  # the right answer needs no review
    expect(learner.locator("#course-status")).to_have_text("In Progress")
    screenshot("quiz-failed", on=learner)

    result.get_by_role("button", name="Try again").click()
    expect(progress).to_have_text("Answered 0 of 2")
    expect(learner.locator("#quiz")).to_contain_text("Last attempt: 50.0%")
    expect(learner.locator("#quiz")).to_contain_text("2 attempts left")
    first.get_by_label("Before you climb").check()
    second.get_by_label("Rain or dew").check()
    expect(progress).to_have_text("Answered 2 of 2")
    response = post_by_click(learner, learner.get_by_role("button", name="Submit answers"),
                     f"/learn/courses/{quiz_course.id}/quiz")
    assert response.status == 200
    expect(result.locator("h3")).to_have_text("Passed: 100.0%")
    expect(result).to_contain_text(f"You have completed {TRACK}!")
    expect(result).not_to_contain_text("Questions to review")
    expect(result).not_to_contain_text("attempt left")
    expect(learner.locator("#course-status")).to_have_text("Completed")  # the header too
    screenshot("quiz-passed", on=learner)

    # --- The learner's page: track completed, certificate pending -----------------------
    learner.goto(f"{live_server}/me")
    my_track = learner.locator("#my-tracks tr", has_text=TRACK)
    expect(my_track.locator(".badge")).to_have_text("Completed")
    expect(my_track).to_contain_text("100%")
    certificate = learner.locator("#my-certificates tbody tr", has_text=TRACK)
    expect(certificate).to_contain_text(f"Completion — {TRACK}")
    expect(certificate.locator(".badge")).to_have_text("Pending")
    screenshot("learner-me", on=learner)

    # --- The project is ready ----------------------------------------------------------
    page.goto(project_url)
    expect(page.locator("#readiness h2")).to_have_text("✓ Ready for go-live")
    expect(page.locator("#project-status table")).to_contain_text("1/1 completed · 1 enrolled")
    screenshot("project-ready")

    assert page_errors == []
