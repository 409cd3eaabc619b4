"""Keyboard only: an admin adds a person inline in the users table with Tab and Enter,
filters the certificate workspace without losing the focus and opens a row, uses the
Issue Certificate dialog (Escape closes it and the focus returns), and a learner answers
and submits a quiz. After every htmx swap the focus is on the result, never on <body>."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from app.models import CertificateType, Role


def _focused(page) -> dict:
    return page.evaluate("""() => { const el = document.activeElement;
        return {tag: el.tagName, id: el.id, name: el.getAttribute('name') || '',
                text: (el.innerText || el.value || '').trim().slice(0, 200)}; }""")


def _tab_to(page, predicate, limit: int = 60) -> dict:
    """Press Tab until the focused element satisfies `predicate` (as a person would)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if predicate(focused):
            return focused
    raise AssertionError(f"Tab never reached the element; last focus: {_focused(page)}")


def test_admin_adds_a_person_inline_with_tab_and_enter(page, live_server, log_in, make_user,
                                                      org, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    log_in(admin.email)
    page.goto(f"{live_server}/admin/users")
    # Tab from the top of the page to the new row's Name field, then fill the row.
    _tab_to(page, lambda f: f["id"] == "user-new-name")
    page.keyboard.type("Kiri Keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("kiri@example.test")
    page.keyboard.press("Tab")  # Role: Staff is the first choice
    page.keyboard.press("Tab")  # Organization
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # Enter submits the inline row, as in a form
    row = page.locator("#users-rows tr", has_text="kiri@example.test")
    expect(row).to_be_visible()
    expect(row).to_be_focused()  # the focus is on the new person's row, not <body>
    expect(row).to_contain_text("Invited")
    expect(page.locator("#user-new-name")).to_have_value("")

    # A refused row: Enter again with the blank row puts the focus on the first bad field.
    page.locator("#user-new-email").focus()
    page.keyboard.type("not-an-email")
    page.keyboard.press("Enter")
    expect(page.locator("#user-new-name")).to_be_focused()
    expect(page.locator("#user-new-name")).to_have_attribute("aria-invalid", "true")

    # Edit by keyboard: Enter on Edit, the first field takes the focus; Enter saves.
    edit = row.get_by_role("button", name="Edit")
    edit.focus()
    page.keyboard.press("Enter")
    name = page.locator("tr.editing input[name=name]").last
    expect(name).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" Jr")
    page.keyboard.press("Enter")
    saved = page.locator("#users-rows tr", has_text="Kiri Keyboard Jr")
    expect(saved).to_be_focused()
    assert not page_errors, page_errors


def test_certificate_filters_keep_the_focus_and_a_row_opens_by_keyboard(
        page, live_server, log_in, make_user, org, make_track, issue, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Keyboard Fundamentals", exam=False)
    aroha = make_user(name="Aroha Completion", organization=org)
    mere = make_user(name="Mere Mastery", organization=org)
    issue(aroha, track=track)
    issue(mere, track=track, type_=CertificateType.MASTERY)
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates?status=issued")
    rows = page.locator("#certificate-results tbody tr")
    expect(rows).to_have_count(2)

    type_select = page.get_by_label("Type")
    type_select.focus()
    with page.expect_response(lambda r: "type=" in r.url):
        page.keyboard.press("ArrowDown")  # one step down the list: the list reloads
    expect(rows).to_have_count(1)
    expect(type_select).to_be_focused()  # the filter keeps the focus
    with page.expect_response(lambda r: "type=" in r.url):
        page.keyboard.press("ArrowDown")
    expect(page.locator("#certificate-results")).to_contain_text("Mere Mastery")
    expect(page.locator("#certificate-results")).not_to_contain_text("Aroha Completion")
    expect(type_select).to_be_focused()
    expect(page).to_have_url(re.compile(r"type=MASTERY"))
    expect(page.locator("#certificate-results")).not_to_have_attribute("aria-busy", "true")

    # Typing in the search box: the focus stays in it while the list follows.
    search = page.get_by_label("Recipient")
    search.focus()
    page.keyboard.type("zzz")
    expect(page.locator("#certificate-results")).to_contain_text("No issued certificates")
    expect(search).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    expect(page.locator("#certificate-results")).to_contain_text("Mere Mastery")
    expect(search).to_be_focused()

    # Open the row from the keyboard.
    _tab_to(page, lambda f: f["tag"] in ("A", "BUTTON") and f["text"].startswith("View"))
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_contain_text("Mere Mastery")
    page.wait_for_function("() => document.getElementById('detail').contains(document.activeElement)")
    assert not page_errors, page_errors


def test_issue_dialog_is_modal_escape_closes_it_and_the_focus_returns(
        page, live_server, log_in, make_user, org, make_track, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    make_track("Dialog Fundamentals", exam=False)
    make_user(name="Hemi Dialog", organization=org)
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates")
    opener = page.get_by_role("button", name="Issue Certificate")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Issue Certificate")
    expect(dialog).to_be_visible()
    assert dialog.evaluate("d => d.matches(':modal')"), "the dialog is opened with showModal()"
    search = dialog.get_by_label("Search recipients")
    expect(search).to_be_focused()  # the focus moved into the dialog
    screenshot("dialog-open")
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(opener).to_be_focused()  # and back to the button that opened it

    # Open it again and issue by keyboard: the result takes the focus, Close returns it.
    page.keyboard.press("Enter")
    expect(search).to_be_focused()
    page.keyboard.type("Hemi")
    choice = dialog.get_by_role("radio", name=re.compile("Hemi Dialog"))
    expect(choice).to_be_visible()
    page.keyboard.press("Tab")  # to the person found
    page.keyboard.press("Space")
    expect(choice).to_be_checked()
    page.keyboard.press("Tab")  # Course
    page.keyboard.press("ArrowDown")
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/admin/certificates")):
        page.get_by_role("button", name="Issue", exact=True).focus()
        page.keyboard.press("Enter")
    done = page.get_by_role("dialog", name="Certificate issued")
    expect(done).to_be_visible()
    expect(done.get_by_role("status")).to_be_focused()
    expect(done.get_by_role("status")).to_contain_text("Hemi Dialog")
    assert done.evaluate("d => d.matches(':modal')")
    screenshot("issued")
    page.keyboard.press("Escape")
    expect(done).to_have_count(0)
    expect(opener).to_be_focused()
    assert not page_errors, page_errors


def test_learner_answers_and_submits_the_quiz_by_keyboard(
        page, live_server, log_in, make_user, org, make_track, app, page_errors):
    from app.extensions import db
    from app.models import CertificationTrack, Course, User
    from app.services import training
    from app.services.context import Actor

    track = make_track("Quiz Keys")
    learner = make_user(name="Kahu Keys", organization=org)
    with app.app_context():
        training.enrol(db.session.get(User, learner.id),
                       db.session.get(CertificationTrack, track.id), Actor.system())
        db.session.commit()
        exam = db.session.scalar(db.select(Course).where(
            Course.track_id == track.id, Course.has_exam.is_(True)))
        questions = exam.questions
        exam_id = exam.id
    log_in(learner.email)
    page.goto(f"{live_server}/learn/courses/{exam_id}")
    first = page.locator("#quiz-form input").first
    first.focus()
    # Answer each question with the arrow keys (radios) and Tab to the next group.
    for q in questions:
        group = page.locator(f"#q-{q['id']} input")
        group.nth(0).focus()
        if q["type"] == "multiple":  # checkboxes: Tab through them, Space on each right one
            for j in range(len(q["options"])):
                if j in q["correct"]:
                    page.keyboard.press("Space")
                if j < len(q["options"]) - 1:
                    page.keyboard.press("Tab")
        else:  # radios: the arrow keys choose
            for _ in range(q["correct"][0]):
                page.keyboard.press("ArrowDown")
            page.keyboard.press("Space")
        for j in q["correct"]:
            expect(group.nth(j)).to_be_checked()
    page.keyboard.press("Tab")
    submit = page.get_by_role("button", name="Submit answers")
    submit.focus()
    page.keyboard.press("Enter")
    verdict = page.locator("#quiz-result h3")
    expect(verdict).to_contain_text("Passed")
    expect(verdict).to_be_focused()  # the result, not <body>
    assert not page_errors, page_errors


def test_inline_edit_rows_take_the_focus_and_enter_saves(page, live_server, log_in, make_user,
                                                         make_definition, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    definition = make_definition("Roof Keyboard Safety")
    log_in(admin.email)
    page.goto(f"{live_server}/admin/micro-credentials")
    row = page.locator(f"#definition-{definition.id}")
    row.get_by_role("button", name="Edit").focus()
    page.keyboard.press("Enter")
    title = page.locator(f"#definition-{definition.id} input").first
    expect(title).to_be_focused()  # the edit row's first field, not <body>
    page.keyboard.press("End")
    page.keyboard.type(" II")
    page.keyboard.press("Enter")
    saved = page.locator(f"#definition-{definition.id}")
    expect(saved).to_contain_text("Roof Keyboard Safety II")
    expect(saved.locator("input")).to_have_count(0)
    expect(saved).to_be_focused()  # the saved row (read out), not <body>
    assert not page_errors, page_errors


def test_reordering_courses_keeps_the_focus_on_the_move_button(page, live_server, log_in,
                                                               make_user, make_track,
                                                               page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Reorder Keys")
    log_in(admin.email)
    page.goto(f"{live_server}/admin/tracks/{track.id}")
    rows = page.locator("#courses-table tbody tr")
    expect(rows.first).to_contain_text("Reading")
    up = page.get_by_role("button", name="Move Exam up")
    up.focus()
    with page.expect_response(lambda r: r.request.method == "POST" and "/move" in r.url):
        page.keyboard.press("Enter")
    expect(rows.first).to_contain_text("Exam")
    # The same control on the redrawn table has the focus: Enter again moves it again.
    expect(page.get_by_role("button", name="Move Exam up")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Move Exam down")).to_be_focused()
    with page.expect_response(lambda r: r.request.method == "POST" and "/move" in r.url):
        page.keyboard.press("Enter")
    expect(rows.first).to_contain_text("Reading")
    expect(page.get_by_role("button", name="Move Exam down")).to_be_focused()
    assert not page_errors, page_errors


def test_a_field_clicked_before_the_edit_row_settles_keeps_the_focus(
        page, live_server, log_in, make_user, make_track, page_errors):
    """The edit row's first field takes the focus once the row has settled, unless the
    person is in one of its fields already (on a slow machine they can click in first):
    what they type stays where they put it, not at the start of the name."""
    manager = make_user(Role.MANAGER)
    track = make_track("Working at Heights", exam=False)
    log_in(manager.email)
    page.goto(f"{live_server}/admin/tracks")
    # The click into the grace field as soon as the row is in the page, before it settles.
    page.evaluate("""id => document.addEventListener("htmx:afterSwap", () => {
        const grace = document.getElementById(id);
        if (grace) { grace.focus(); }
    }, {once: true})""", f"track-{track.id}-grace")
    row = page.locator(f"#track-{track.id}")
    row.get_by_role("button", name="Edit").click()
    grace = row.get_by_label("Re-certification grace (days)")
    expect(grace).to_be_focused()
    page.wait_for_timeout(200)  # the settle (20 ms) and the focus move after it are over
    expect(grace).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    expect(row.get_by_label("Name")).to_have_value("Working at Heights")
    expect(grace).to_have_value("7")
    assert not page_errors, page_errors
