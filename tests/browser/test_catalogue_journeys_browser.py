"""Implementation manager journeys 1 (without the quiz editor) and 3, in a real browser:
build a track inline, add courses, reorder them with the arrows, archive one and watch it
leave the learner's view, delete an unused one; create a project with a go-live date,
assign the track, see who blocks go-live, edit the date, remove the assignment."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, CertificationTrack, Course, ImplementationProject, Role
from app.models.base import utcnow
from tests.browser.conftest import log_in_page, post_by_click

TRACK = "Reroofing Basics"
COURSES = ["Measuring up", "Old roof off", "New roof on"]




def _accepting(page, messages: list[str]) -> None:
    def accept(dialog):
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)


def _one(app, stmt):
    with app.app_context():
        row = db.session.scalar(stmt)
        if row is not None:
            db.session.expunge(row)
        return row


def _add_course(page, track_id: int, title: str) -> None:
    row = page.locator("tr#course-new")
    row.locator('input[name="title"]').fill(title)
    row.locator('select[name="content_type"]').select_option("TEXT")
    row.locator('textarea[name="content_body"]').fill(f"All about {title.lower()}.")
    response = post_by_click(page, row.get_by_role("button", name="Add course"),
                     f"/admin/tracks/{track_id}/courses")
    assert response.status == 200
    expect(page.locator("#courses-table")).to_contain_text(title)
    expect(page.locator('tr#course-new input[name="title"]')).to_have_value("")


def _titles(page) -> list[str]:
    cells = page.locator("#courses-table tbody").first.locator("tr:not(#course-new) td:nth-child(2) strong")
    return [t.strip() for t in cells.all_inner_texts()]


def test_manager_builds_reorders_archives_and_deletes_courses(
        app, page, new_page, live_server, log_in, make_user, make_org, screenshot, page_errors):
    manager = make_user(Role.MANAGER, name="Mere Manager")
    staff = make_user(Role.STAFF, make_org("Kahu Roofing"), name="Hēmi Kahu")
    log_in(manager.email)

    # --- A track, inline in the list ----------------------------------------------------
    page.goto(f"{live_server}/admin/tracks")
    row = page.locator("tr#track-new")
    row.locator('input[name="name"]').fill(TRACK)
    row.locator('select[name="audience"]').select_option("CLIENT_EMPLOYEE")
    response = post_by_click(page, row.get_by_role("button", name="Add track"), "/admin/tracks")
    assert response.status == 200
    track = _one(app, select(CertificationTrack).where(CertificationTrack.name == TRACK))
    assert track is not None and track.active
    expect(page.locator(f"tr#track-{track.id}")).to_contain_text(TRACK)
    # Nothing stale under the row just added: the pagination no longer says "Nothing found".
    expect(page.locator("#tracks-table")).not_to_contain_text("Nothing found")
    screenshot("1-track-added")
    page.locator(f"tr#track-{track.id}").get_by_role("button", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{track.id}$"))

    # --- Three courses, inline ----------------------------------------------------------
    for title in COURSES:
        _add_course(page, track.id, title)
    assert _titles(page) == COURSES
    screenshot("2-courses-added")

    # --- Reorder with the arrows: the last course up twice --------------------------------
    last = _one(app, select(Course).where(Course.title == "New roof on"))
    for expected in (["Measuring up", "New roof on", "Old roof off"],
                     ["New roof on", "Measuring up", "Old roof off"]):
        post_by_click(page, page.get_by_role("button", name="Move New roof on up"),
              f"/admin/courses/{last.id}/move")
        expect(page.locator(f"tr#course-{last.id} td").first).to_have_text(
            str(expected.index("New roof on") + 1))
        assert _titles(page) == expected
    post_by_click(page, page.get_by_role("button", name="Move Measuring up down"), "/move")
    expect(page.locator("#courses-table tbody").first.locator("tr").nth(2)).to_contain_text(
        "Measuring up")
    assert _titles(page) == ["New roof on", "Old roof off", "Measuring up"]
    screenshot("3-reordered")

    # --- A learner enrols and sees every course -------------------------------------------
    learner = new_page()
    log_in_page(learner, live_server, staff.email)
    learner.goto(f"{live_server}/learn/tracks")
    learner.locator(f"#open-track-{track.id}").get_by_role("button", name="Enrol").click()
    expect(learner).to_have_url(re.compile(rf"/learn/tracks/{track.id}$"))
    for title in COURSES:
        expect(learner.get_by_role("link", name=title)).to_be_visible()
    learner.get_by_role("link", name="Old roof off").click()
    learner.get_by_role("button", name="Mark complete").click()
    expect(learner.get_by_role("status")).to_have_text("Old roof off is complete.")

    # --- Delete the started course: refused before any confirmation, archive offered ------
    started = _one(app, select(Course).where(Course.title == "Old roof off"))
    page.reload()
    dialogs: list[str] = []

    def refuse(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    response = post_by_click(page, page.get_by_role("button", name="Delete Old roof off"),
                     f"/admin/courses/{started.id}/delete")
    assert response.status == 409 and dialogs == []
    expect(page.locator(f"tr#course-{started.id} [role=alert]")).to_contain_text(
        "learners have progress on it. Archive it instead")
    screenshot("4-delete-refused")
    page.remove_listener("dialog", refuse)

    # --- Archive it: it leaves the learner's view and stops counting ----------------------
    page2_dialogs: list[str] = []
    _accepting(page, page2_dialogs)
    response = post_by_click(page, page.get_by_role("button", name="Archive Old roof off"),
                     f"/admin/courses/{started.id}/archive")
    assert response.status == 200 and "Learners no longer see it" in page2_dialogs[0]
    archived = page.locator("#archived-courses")
    expect(archived.locator(f"tr#course-{started.id}")).to_contain_text("Archived")
    expect(archived.get_by_role("button", name="Restore Old roof off")).to_be_visible()
    assert _titles(page) == ["New roof on", "Measuring up"]
    live = page.locator("#courses-table tbody").first.locator("tr:not(#course-new)")
    assert [n.strip() for n in live.locator("td:first-child").all_inner_texts()] == ["1", "2"]
    # The learner's completed course no longer counts: the learners table follows.
    expect(page.locator("#learners-table")).to_contain_text("0/2")
    screenshot("5-archived")
    learner.goto(f"{live_server}/learn/tracks/{track.id}")
    expect(learner.get_by_role("link", name="New roof on")).to_be_visible()
    expect(learner.get_by_role("link", name="Old roof off")).to_have_count(0)
    screenshot("6-learner-after-archive", on=learner)

    # --- Delete an unused course, confirming ------------------------------------------------
    unused = _one(app, select(Course).where(Course.title == "Measuring up"))
    confirmations: list[str] = []
    _accepting(page, confirmations)
    response = post_by_click(page, page.get_by_role("button", name="Delete Measuring up"),
                     f"/admin/courses/{unused.id}/delete")
    assert response.status == 200
    assert confirmations == ["Delete Measuring up? This cannot be undone."]
    expect(page.locator(f"tr#course-{unused.id}")).to_have_count(0)
    assert _titles(page) == ["New roof on"]
    with app.app_context():
        assert db.session.get(Course, unused.id) is None
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "DELETE", AuditLog.resource_type == "course")) == 1
    screenshot("7-deleted")
    learner.reload()
    expect(learner.get_by_role("link", name="Measuring up")).to_have_count(0)
    assert page_errors == []


def test_manager_runs_a_project_to_go_live(app, page, live_server, log_in, make_user, make_org,
                                           make_track, screenshot, page_errors):
    manager = make_user(Role.MANAGER, name="Mere Manager")
    org = make_org("Tāmaki Cladding")
    track = make_track("Cladding Compliance", exam=False, required_for_go_live=True)
    done = make_user(Role.STAFF, org, name="Aroha Done")
    make_user(Role.STAFF, org, name="Rangi Pending")
    with app.app_context():
        from app.models import User
        from app.services import training
        from app.services.context import Actor
        enrolment = training.enrol(db.session.get(User, done.id),
                                   training.get_track(track.id), Actor.system())
        training.complete_course(enrolment.course_progress[0], Actor.system())
        db.session.commit()
    log_in(manager.email)

    # --- Create the project with a go-live date ----------------------------------------
    page.goto(f"{live_server}/admin/projects")
    form = page.locator("#project-form")
    form.locator('input[name="name"]').fill("Tāmaki go-live")
    form.locator('select[name="organization_id"]').select_option(label=org.name)
    go_live = utcnow().date() + timedelta(days=30)
    form.locator('input[name="go_live_date"]').fill(go_live.isoformat())
    form.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(r"/admin/projects/\d+$"))
    project = _one(app, select(ImplementationProject).where(
        ImplementationProject.name == "Tāmaki go-live"))
    expect(page.locator("#go-live-date")).to_have_text(go_live.isoformat())
    screenshot("1-project-created")

    # --- Assign the track, two completions needed: one short -----------------------------
    assign = page.locator("form", has=page.get_by_role("button", name="Assign"))
    assign.locator('select[name="track_id"]').select_option(label=track.name)
    assign.locator('select[name="target_role"]').select_option("staff")
    assign.locator('input[name="required_completions"]').fill("2")
    response = post_by_click(page, assign.get_by_role("button", name="Assign"), "/assignments")
    assert response.status == 200
    expect(page.locator("#readiness h2")).to_have_text("✗ Not ready for go-live")
    expect(page.locator("#readiness")).to_contain_text(
        "Cladding Compliance (staff): 1 of 2 valid completions — 1 more needed")
    expect(page.locator("#project-status table")).to_contain_text("1/2 completed · 1 enrolled")
    screenshot("2-blocking")

    # --- Edit the date: a bad one is refused in place, then a good one --------------------
    page.get_by_text("Edit name or go-live date").click()
    edit = page.locator("#project-edit")
    edit.locator('input[name="name"]').fill("   ")
    response = post_by_click(page, edit.get_by_role("button", name="Save project"),
                     f"/admin/projects/{project.id}")
    assert response.status == 422
    expect(page.locator("#project-edit-name-errors")).to_have_text("Enter a name.")
    expect(page.locator("h1")).to_have_text("Tāmaki go-live")
    screenshot("3-edit-refused")
    later = go_live + timedelta(days=45)
    edit = page.locator("#project-edit")
    edit.locator('input[name="name"]').fill("Tāmaki go-live (phase 2)")
    edit.locator('input[name="go_live_date"]').fill(later.isoformat())
    response = post_by_click(page, edit.get_by_role("button", name="Save project"),
                     f"/admin/projects/{project.id}")
    assert response.status == 200
    expect(page.locator("h1")).to_have_text("Tāmaki go-live (phase 2)")
    expect(page.locator("#go-live-date")).to_have_text(later.isoformat())
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.locator("#readiness")).to_contain_text("1 of 2 valid completions")
    with app.app_context():
        assert db.session.get(ImplementationProject, project.id).go_live_date == later
    page.reload()
    expect(page.locator("#go-live-date")).to_have_text(later.isoformat())
    screenshot("4-date-edited")

    # --- Remove the assignment, confirming -------------------------------------------------
    messages: list[str] = []
    _accepting(page, messages)
    response = post_by_click(page, page.get_by_role("button", name="Remove Cladding Compliance"),
                     "/delete")
    assert response.status == 200
    assert messages and "no longer counts toward go-live readiness" in messages[0]
    assert "Cladding Compliance (" in messages[0]  # which assignment: the track and for whom
    expect(page.locator("#project-status table")).to_contain_text("No training assigned yet.")
    expect(page.locator("#readiness")).to_contain_text("No training is assigned")
    screenshot("5-assignment-removed")
    assert page_errors == []
