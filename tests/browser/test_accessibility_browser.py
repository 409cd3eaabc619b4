"""axe-core on every page of JOURNEYS.md, as each kind of person, on the demo data: no
critical and no serious violation, and none after the main htmx swaps either (add a user,
issue a certificate, approve, submit a quiz, mark a notification read)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import seed
from tests.browser.conftest import axe_failures, log_in_page

PHONE = {"width": 390, "height": 844}


def _log_in(page: Any, live_server: str, email: str) -> None:
    log_in_page(page, live_server, email, seed.DEMO_PASSWORD)


def _visit_all(page: Any, live_server: str, paths: list[str]) -> list[str]:
    reports = []
    for path in paths:
        response = page.goto(f"{live_server}{path}")
        expected = 404 if path.startswith("/verify/not-") else 200  # NOT FOUND, in words
        assert response is not None and response.status == expected, (
            f"{path}: {response and response.status}")
        report = axe_failures(page)
        if report:
            reports.append(report)
        # No filter form sits inside the region it refreshes (the swap would take the
        # focus out of the field being used).
        inside = page.evaluate("""() => [...document.querySelectorAll('form[hx-target]')]
            .filter(f => { const t = document.querySelector(f.getAttribute('hx-target'));
                           return t && t !== f && t.contains(f) && f.matches('[role=search]'); })
            .map(f => f.getAttribute('hx-target'))""")
        if inside:
            reports.append(f"{path}: filters inside the region they refresh: {inside}")
    return reports


def _pages(kind: str, ids: dict[str, Any]) -> list[str]:
    if kind == "admin":
        return [
            "/", "/admin/", "/admin/users", "/admin/organizations",
            "/admin/micro-credentials", f"/admin/micro-credentials/{ids['definition']}/staff",
            "/admin/micro-credentials/awarded",
            "/admin/tracks", f"/admin/tracks/{ids['track']}",
            f"/admin/courses/{ids['exam']}/quiz",
            "/admin/certificates", "/admin/certificates?status=issued",
            "/admin/certificates?status=revoked",
            f"/admin/certificates/{ids['certificate']}",
            "/admin/certificates/bulk", "/admin/certificate-templates",
            "/admin/projects", f"/admin/projects/{ids['project']}",
            "/admin/audit", "/admin/jobs", "/org", f"/people/{ids['user']}",
            f"/admin/tracks/{ids['track']}/learners/{ids['user']}",
        ]
    if kind == "manager":
        return ["/", "/admin/", "/admin/tracks", f"/admin/tracks/{ids['track']}",
                f"/admin/courses/{ids['exam']}/quiz", "/admin/projects",
                f"/admin/projects/{ids['project']}", "/teach"]
    if kind == "org_admin":
        return ["/", "/org", "/org/progress", "/org/certificates", "/org/projects",
                f"/org/projects/{ids['project']}", "/org/preferences", f"/people/{ids['staff']}"]
    if kind == "staff":
        return ["/", "/me", "/learn/tracks", f"/learn/tracks/{ids['track']}",
                f"/learn/courses/{ids['course']}", f"/learn/courses/{ids['exam']}",
                "/me/notifications", "/me/tokens"]
    return ["/login", "/forgot-password", "/verify", f"/verify/{ids['verification']}",
            "/verify/not-a-real-id"]


@pytest.mark.parametrize("kind,email", [
    ("admin", "admin@demo.test"), ("manager", "manager@demo.test"),
    ("org_admin", "orgadmin@demo.test"), ("staff", "zoe@demo.test"), ("anonymous", None),
])
def test_every_journey_page_has_no_serious_axe_violation(page, live_server, demo, kind, email):
    if email:
        _log_in(page, live_server, email)
    reports = _visit_all(page, live_server, _pages(kind, demo))
    assert not reports, "\n\n".join(reports)


@pytest.mark.parametrize("kind,email", [
    ("org_admin", "orgadmin@demo.test"), ("staff", "zoe@demo.test"), ("anonymous", None),
])
def test_phone_pages_have_no_serious_axe_violation(page, live_server, demo, kind, email):
    page.set_viewport_size(PHONE)
    if email:
        _log_in(page, live_server, email)
    reports = _visit_all(page, live_server, _pages(kind, demo))
    assert not reports, "\n\n".join(reports)


def test_no_serious_axe_violation_after_the_main_htmx_swaps(page, new_page, live_server, demo,
                                                           app, page_errors):
    """As a person does them: add a user, issue a certificate, approve one; a learner
    submits a quiz and marks a notification read. axe-core after each swap, and the focus
    is on the result (never <body>)."""
    from playwright.sync_api import expect

    reports = []
    _log_in(page, live_server, "admin@demo.test")
    # Add a user inline.
    page.goto(f"{live_server}/admin/users")
    page.locator("#user-new-name").fill("Axe Person")
    page.locator("#user-new-email").fill("axe.person@demo.test")
    page.locator("#user-new-organization").select_option(index=1)
    page.locator("#user-new").get_by_role("button", name="Add user").click()
    expect(page.locator("#users-rows tr", has_text="axe.person@demo.test")).to_be_focused()
    reports.append(axe_failures(page, "after adding a user"))
    # A refused row (field errors shown).
    page.locator("#user-new").get_by_role("button", name="Add user").click()
    expect(page.locator("#user-new [aria-invalid=true]").first).to_be_focused()
    reports.append(axe_failures(page, "after a refused user row"))

    # Issue a certificate from the modal.
    page.goto(f"{live_server}/admin/certificates")
    page.get_by_role("button", name="Issue Certificate").click()
    dialog = page.get_by_role("dialog", name="Issue Certificate")
    reports.append(axe_failures(page, "issue dialog open"))
    dialog.get_by_label("Search recipients").fill("Priya")
    dialog.get_by_role("radio", name=re.compile("Priya Raman")).check()
    dialog.locator("select[name=course_id]").select_option(index=1)
    dialog.get_by_role("button", name="Issue", exact=True).click()
    done = page.get_by_role("dialog", name="Certificate issued")
    expect(done.get_by_role("status")).to_be_focused()
    reports.append(axe_failures(page, "after issuing"))
    page.keyboard.press("Escape")

    # Approve a pending one (the instructor's recommendation of Zoë).
    page.goto(f"{live_server}/admin/certificates?status=pending")
    page.locator("#certificate-results").get_by_role("button", name="Approve", exact=True).first.click()
    expect(page.locator("#detail")).to_contain_text(re.compile("CERT-"))
    # The focus moves once the answer has settled (and the list behind has refreshed
    # without the approved card): wait for it, never read it at the swap itself.
    expect(page.locator("#certificate-detail-heading")).to_be_focused()
    reports.append(axe_failures(page, "after approving"))

    # The learner: submit the quiz (wrong answers), then mark a notification read.
    learner = new_page()
    _log_in(learner, live_server, "zoe@demo.test")
    learner.goto(f"{live_server}/learn/courses/{demo['exam']}")
    learner.locator("#quiz-form fieldset").first.locator("input").first.check()
    learner.get_by_role("button", name="Submit answers").click()
    expect(learner.locator("#quiz-unanswered")).to_be_focused()
    reports.append(axe_failures(learner, "quiz warned about unanswered questions"))
    learner.get_by_role("button", name="Submit anyway").click()
    expect(learner.locator("#quiz-result h3")).to_be_focused()
    reports.append(axe_failures(learner, "after submitting the quiz"))
    learner.goto(f"{live_server}/me/notifications")
    mark = learner.get_by_role("button", name="Mark read").first
    if mark.count():
        mark.click()
        expect(learner.locator("body")).not_to_be_focused()
        reports.append(axe_failures(learner, "after marking a notification read"))
    reports = [r for r in reports if r]
    assert not reports, "\n\n".join(reports)
