"""Bulk actions in a real browser: an admin ticks three pending certificates (one with
the keyboard), approves them at once, reads the summary (focused, role=status) and finds
them on the Issued tab; then narrows the Issued tab by a search, selects all matching
it and revokes them with one reason (after a confirmation: dismissed once, which sends
nothing; then reached and pressed with the keyboard and accepted), while a certificate
outside the filter stays."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateStatus, Role
from tests.browser.conftest import post_by_click
from tests.conftest import pending_certificate

S = CertificateStatus




def _statuses(app, ids):
    with app.app_context():
        return {c.id: c.status for c in db.session.scalars(
            select(Certificate).where(Certificate.id.in_(ids)))}


def test_admin_approves_three_then_revokes_all_matching_a_search(
        app, page, live_server, log_in, make_user, make_track, issue, screenshot,
        page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Roof Safety", exam=False)
    cohort = [make_user(Role.STAFF, name=f"Cohort Member {n}") for n in range(1, 6)]
    ids = [pending_certificate(app, person, track) for person in cohort]
    outsider = issue(make_user(Role.STAFF, name="Outside Olive"), track=track)
    log_in(admin.email)

    page.goto(f"{live_server}/admin/certificates")
    bar = page.locator("#bulk-form")
    count = page.locator("#bulk-count")
    expect(count).to_have_text("No certificates selected.")
    expect(count).to_have_attribute("aria-live", "polite")
    page.get_by_label("Select Cohort Member 1, Roof Safety").check()
    page.get_by_label("Select Cohort Member 2, Roof Safety").check()
    # The third with the keyboard: Tab (past the second card's links and buttons)
    # reaches it, Space ticks it.
    page.get_by_label("Select Cohort Member 2, Roof Safety").focus()
    focused = None
    for _ in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
        if focused == "Select Cohort Member 3, Roof Safety":
            break
    assert focused == "Select Cohort Member 3, Roof Safety", focused
    page.keyboard.press("Space")
    expect(count).to_have_text("3 certificates selected.")
    screenshot("three-selected")

    response = post_by_click(page, bar.get_by_role("button", name="Approve selected"),
                             "/admin/certificates/bulk-actions")
    assert response.status == 200
    summary = page.locator("#bulk-result [role=status]")
    expect(summary).to_have_text("3 approved.")
    expect(summary).to_be_focused()
    # The list refreshed: the two left are still waiting, the summary stayed.
    expect(page.locator("article.pending-card")).to_have_count(2)
    expect(page.locator("#pending-count")).to_have_text("2 pending")
    expect(summary).to_have_text("3 approved.")
    expect(count).to_have_text("No certificates selected.")
    screenshot("approved-summary")
    statuses = _statuses(app, ids)
    assert [statuses[i] for i in ids] == [S.ISSUED] * 3 + [S.PENDING] * 2

    page.locator("nav.tabs").get_by_role("link", name="Issued").click()
    expect(page).to_have_url(re.compile(r"[?&]status=issued(&|$)"))
    expect(summary).to_have_count(0)  # it was about the Pending tab
    table = page.locator("#certificates-list table")
    for n in (1, 2, 3):
        expect(table).to_contain_text(f"Cohort Member {n}")
    expect(table).to_contain_text("Outside Olive")

    # --- all matching a search: revoke with one reason ----------------------------------
    page.get_by_label("Recipient").fill("Cohort")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).not_to_contain_text("Outside Olive")
    page.get_by_label(re.compile(r"Select all 3 matching this filter")).check()
    expect(count).to_have_text("All 3 matching certificates selected.")
    bar.get_by_label("Reason for revoking the selected certificates").fill(
        "The cohort's assessor was not accredited.")
    bar.get_by_label("Revocation category").select_option(label="Requirements not met")
    screenshot("all-matching-selected")
    asked: list[str] = []
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    revoke = bar.get_by_role("button", name="Revoke selected")
    revoke.click()
    page.wait_for_timeout(300)
    assert asked and asked[0].startswith("Revoke the selected certificates?"), asked
    assert not posts, posts  # dismissed: nothing was sent
    assert set(_statuses(app, ids[:3]).values()) == {S.ISSUED}

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    # The keyboard: Tab from the category reaches the button, Enter presses it, and the
    # same confirmation asks.
    page.once("dialog", accept)
    bar.get_by_label("Revocation category").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Revoke selected"
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.split("?")[0]
                              .endswith("/admin/certificates/bulk-actions")) as info:
        page.keyboard.press("Enter")
    response = info.value
    assert len(asked) == 2 and asked[1] == asked[0]
    assert response.status == 200
    expect(summary).to_have_text("3 revoked.")
    expect(summary).to_be_focused()
    # Still styled as a notice after the list's refreshes (its stylesheet is not swapped).
    expect(summary).to_have_css("background-color", "rgb(232, 245, 233)")
    expect(page.locator("#certificates-list")).to_contain_text(
        "No issued certificates match these filters.")
    screenshot("revoked-summary")
    statuses = _statuses(app, ids + [outsider.id])
    assert [statuses[i] for i in ids[:3]] == [S.REVOKED] * 3
    assert statuses[outsider.id] == S.ISSUED
    assert not page_errors, page_errors


def test_a_large_all_matching_approval_shows_progress_then_the_summary(
        app, page, live_server, log_in, make_user, make_track, screenshot, page_errors,
        monkeypatch):
    from app.services.certificates import bulk

    monkeypatch.setattr(bulk, "INLINE_LIMIT", 2)  # 4 certificates make a job
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 1)
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Roof Safety", exam=False)
    ids = [pending_certificate(app, make_user(Role.STAFF, name=f"Crew {n}"), track) for n in range(4)]
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates")
    bar = page.locator("#bulk-form")
    page.get_by_label(re.compile(r"Select all 4 matching this filter")).check()
    expect(page.locator("#bulk-count")).to_have_text("All 4 matching certificates selected.")
    with page.expect_response(lambda r: "/admin/certificates/bulk-actions/" in r.url) as poll:
        bar.get_by_role("button", name="Approve selected").click()
        progress = page.locator("#bulk-result progress")
        expect(progress).to_have_attribute("max", "4")
        expect(page.locator("#bulk-result")).to_contain_text("Approving 4 certificates")
        screenshot("progress")
    assert poll.value.status == 200
    summary = page.locator("#bulk-result [role=status].bulk-summary")
    expect(summary).to_have_text("4 approved.")
    expect(page.locator("article.pending-card")).to_have_count(0)  # the list refreshed
    expect(page.locator("#pending-count")).to_have_text("0 pending")
    screenshot("job-summary")
    assert set(_statuses(app, ids).values()) == {S.ISSUED}
    assert not page_errors, page_errors


def test_a_bulk_approval_that_failed_midway_is_resumed_with_one_double_click(
        app, page, live_server, log_in, make_user, make_track, screenshot, page_errors,
        monkeypatch):
    from app.models import AuditLog
    from app.services.certificates import bulk

    monkeypatch.setattr(bulk, "INLINE_LIMIT", 2)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    real_apply = bulk.apply
    calls = {"n": 0}

    def dying(*args):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real_apply(*args)

    monkeypatch.setattr(bulk, "apply", dying)
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Roof Safety", exam=False)
    ids = [pending_certificate(app, make_user(Role.STAFF, name=f"Crew {n}"), track) for n in range(5)]
    log_in(admin.email)
    page.goto(f"{live_server}/admin/certificates")
    bar = page.locator("#bulk-form")
    page.get_by_label(re.compile(r"Select all 5 matching this filter")).check()
    bar.get_by_role("button", name="Approve selected").click()
    stopped = page.locator("#bulk-result [role=alert]")
    expect(stopped).to_contain_text("Approving stopped: Stopped after 2 of 5 (RuntimeError).")
    expect(stopped).to_contain_text("So far: 2 approved.")
    resume = page.locator("#bulk-result").get_by_role("button", name="Resume (3 left)")
    expect(resume).to_be_visible()
    # The list shows what it did before it stopped.
    expect(page.locator("#pending-count")).to_have_text("3 pending")
    expect(page.locator("article.pending-card")).to_have_count(3)
    screenshot("bulk-failed-resume")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url)
            if "/bulk-actions/" in r.url and r.method == "GET" else None)
    page.wait_for_timeout(1500)
    assert not polls, polls  # a failed run is not polled
    monkeypatch.setattr(bulk, "apply", real_apply)
    resume.dblclick()
    summary = page.locator("#bulk-result [role=status].bulk-summary")
    expect(summary).to_have_text("5 approved.")
    expect(page.locator("#pending-count")).to_have_text("0 pending")
    screenshot("bulk-resumed-summary")
    assert set(_statuses(app, ids).values()) == {S.ISSUED}
    with app.app_context():
        assert db.session.scalar(select(db.func.count(AuditLog.id)).where(
            AuditLog.resource_type == "bulk_action_run")) == 1
    assert not page_errors, page_errors


def test_admin_moves_two_holders_of_a_micro_credential_at_once(
        app, page, live_server, log_in, make_user, make_definition, make_credential,
        screenshot, page_errors):
    from app.models import CredentialStatus, StaffMicroCredential

    admin = make_user(Role.ADMIN, name="Ada Admin")
    definition = make_definition("Reroofing L5")
    holders = [make_credential(definition, make_user(Role.STAFF, name=f"Roofer {n}"))
               for n in (1, 2, 3)]
    log_in(admin.email)
    page.goto(f"{live_server}/admin/micro-credentials/{definition.id}/staff")
    bar = page.locator("#holders-bulk-form")
    count = page.locator("#holders-bulk-count")
    expect(count).to_have_text("No holders selected.")
    page.get_by_label("Select Roofer 1").check()
    page.get_by_label("Select Roofer 3").check()
    expect(count).to_have_text("2 holders selected.")
    bar.get_by_label("Move the selected holders to").select_option(label="In Training")
    response = post_by_click(page, bar.get_by_role("button", name="Move selected"),
                             f"/admin/micro-credentials/{definition.id}/bulk-move")
    assert response.status == 200
    summary = page.locator("#holders-bulk-result [role=status]")
    expect(summary).to_have_text("2 moved to In Training.")
    table = page.locator("#holders-table")
    expect(table.locator(f"tr#credential-{holders[0].id}")).to_contain_text("In Training")
    expect(table.locator(f"tr#credential-{holders[1].id}")).to_contain_text("Not Started")
    expect(count).to_have_text("No holders selected.")  # the table refreshed
    # ... and the refreshes of the table and the counts left the focus on the summary
    page.wait_for_load_state("networkidle")
    expect(summary).to_be_focused()
    screenshot("holders-moved")
    with app.app_context():
        statuses = {c.id: c.status for c in db.session.scalars(select(StaffMicroCredential))}
    assert [statuses[h.id] for h in holders] == [
        CredentialStatus.IN_TRAINING, CredentialStatus.NOT_STARTED, CredentialStatus.IN_TRAINING]
    # Moving back without the note is refused; the ticks and the chosen status stay, so
    # typing the note and clicking again moves them where the admin chose.
    page.get_by_label("Select Roofer 1").check()
    bar.get_by_label("Move the selected holders to").select_option(label="Not Started")
    post_by_click(page, bar.get_by_role("button", name="Move selected"),
                  f"/admin/micro-credentials/{definition.id}/bulk-move")
    expect(summary).to_contain_text("1 refused")
    expect(page.get_by_label("Select Roofer 1")).to_be_checked()
    expect(bar.get_by_label("Move the selected holders to")).to_have_value("NOT_STARTED")
    bar.get_by_label("Note for the selected holders").fill("Assessed too early")
    post_by_click(page, bar.get_by_role("button", name="Move selected"),
                  f"/admin/micro-credentials/{definition.id}/bulk-move")
    expect(summary).to_have_text("1 moved to Not Started.")
    expect(table.locator(f"tr#credential-{holders[0].id}")).to_contain_text("Not Started")
    assert not page_errors, page_errors
