"""Dashboards in the browser (issue 14), one journey per role: log in, read the figures,
click one and land on the list behind it showing those rows (and not the others);
screenshots of every dashboard at 1280 and 390 px wide."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    CertificationTrack,
    CredentialStatus,
    Enrolment,
    ProgressStatus,
    Role,
    StaffMicroCredential,
    User,
)
from app.models.base import utcnow
from app.services import dates, training
from app.services.context import Actor
from tests.browser.conftest import axe_check

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _both_widths(page, screenshot, label: str) -> None:
    """Screenshots at 1280 and 390 px; at each, no wider than the screen and no critical
    or serious axe-core violation (the tables fallbacks opened too)."""
    for name, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{label} is {width}px wide at {size['width']}"
        axe_check(page, f"{label} at {name}")
        screenshot(f"{label}-{name}")
    tables = page.locator("details.chart-table summary")
    for i in range(tables.count()):
        tables.nth(i).click()
    # The opened tables, checked inside <main> (the header's search is another screen's).
    serious = page.evaluate("""async () => (await window.axe.run("main",
        {resultTypes: ["violations"]})).violations
        .filter(v => ["critical", "serious"].includes(v.impact))
        .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", "))""")
    assert not serious, f"{label}, tables open: {serious}"
    for i in range(tables.count()):
        tables.nth(i).click()
    page.set_viewport_size(DESKTOP)


@pytest.fixture
def issued(app, make_user, org):
    """Two certificates issued this month (one expiring in 45 days, one in 10), one
    revoked, and a verification check of the first."""
    people = [make_user(Role.STAFF, org, name=n) for n in ("Aroha Issued", "Ben Soon", "Cy Revoked")]
    today = dates.today()
    with app.app_context():
        rows = []
        for person, status, days, n in ((people[0], CertificateStatus.ISSUED, 45, 1),
                                        (people[1], CertificateStatus.ISSUED, 10, 2),
                                        (people[2], CertificateStatus.REVOKED, 45, 3)):
            rows.append(Certificate(type=CertificateType.COMPLETION, status=status,
                                    recipient_id=person.id, issued_at=utcnow(),
                                    number=f"CERT-{today.year}-9990{n}",
                                    expires_at=today + timedelta(days=days)))
        db.session.add_all(rows)
        db.session.flush()
        db.session.add(CertificateVerification(certificate_id=rows[0].id, channel="page"))
        db.session.commit()
    return people


def test_admin_reads_the_dashboard_and_follows_its_figures(page, log_in, make_user, issued,
                                                           screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    page.set_viewport_size(DESKTOP)
    log_in(admin.email)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    month = dates.today().strftime("%b %Y")
    chart = page.locator("#chart-issued")
    expect(chart).to_contain_text("Certificates issued per month")
    this_month = chart.get_by_role("link", name=f"{month}: 2 certificates")
    expect(this_month).to_be_visible()
    expect(page.locator("#chart-checks").get_by_role("link", name=re.compile(r": 1 check$"))).to_have_count(1)
    expect(page.locator("#stat-pending")).to_contain_text("0")
    _both_widths(page, screenshot, "admin-dashboard")

    this_month.click()
    expect(page).to_have_url(re.compile(r"/admin/certificates\?status=issued&from="))
    listed = page.locator("main")
    expect(listed).to_contain_text("Aroha Issued")
    expect(listed).to_contain_text("Ben Soon")
    expect(listed).not_to_contain_text("Cy Revoked")

    page.go_back()
    page.locator("#chart-expiring").get_by_role("link", name=re.compile("31–60 days")).click()
    expect(page).to_have_url(re.compile(r"expires_from="))
    expect(page.locator("main")).to_contain_text("Aroha Issued")
    expect(page.locator("main")).not_to_contain_text("Ben Soon")
    expect(page.locator("#certificate-expiry-filter")).to_contain_text("Expiring from")
    # Searching keeps the expiry filter: Ben's certificate expires in 10 days, not 31-60.
    page.locator("#certificate-q").fill("Ben")
    expect(page.locator("#certificate-results")).not_to_contain_text("Aroha Issued")
    expect(page.locator("#certificate-results")).not_to_contain_text("Ben Soon")
    page.locator("#certificate-q").fill("")
    expect(page.locator("#certificate-results")).to_contain_text("Aroha Issued")
    screenshot("admin-expiring-list")

    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.locator("nav[aria-label=Main] details").get_by_role("link", name="Dashboard").click()
    page.locator("#chart-checks").get_by_role("link", name=re.compile(r": 1 check$")).click()
    expect(page).to_have_url(re.compile(r"/admin/verifications\?from="))
    expect(page.locator("#verifications")).to_contain_text(f"CERT-{dates.today().year}-99901")
    screenshot("admin-verifications")
    assert not page_errors


def test_manager_reads_the_funnel_and_opens_the_completed_learners(
        app, page, log_in, make_user, make_track, org, screenshot, page_errors):
    manager = make_user(Role.MANAGER, name="Mana Manager")
    track = make_track("Roof Safety", required_for_go_live=True)
    people = [make_user(Role.STAFF, org, name=n) for n in ("Dana Done", "Ira Going", "Noa New")]
    with app.app_context():
        training.enrol_many(db.session.get(CertificationTrack, track.id),
                            [p.id for p in people], Actor.system())
        db.session.flush()
        rows = {e.user_id: e for e in db.session.scalars(
            db.select(Enrolment).where(Enrolment.track_id == track.id))}
        rows[people[0].id].status = ProgressStatus.COMPLETED
        rows[people[1].id].status = ProgressStatus.IN_PROGRESS
        project = training.create_project(Actor.system(), name="Wellington go-live",
                                          organization_id=org.id,
                                          go_live_date=dates.today() + timedelta(days=30))
        training.assign_training(project, db.session.get(CertificationTrack, track.id),
                                 Actor.system(), required_completions=2)
        db.session.commit()
    page.set_viewport_size(DESKTOP)
    log_in(manager.email)
    funnel = page.locator(f"#funnel-{track.id}")
    expect(funnel).to_contain_text("Roof Safety")
    expect(funnel.get_by_role("link", name=re.compile(r"Enrolled\s+3 learners"))).to_be_visible()
    projects = page.locator("#project-readiness")
    expect(projects).to_contain_text("Wellington go-live")
    expect(projects).to_contain_text("Not ready")
    _both_widths(page, screenshot, "manager-dashboard")

    funnel.get_by_role("link", name=re.compile(r"Completed\s+1 learner\b")).click()
    expect(page).to_have_url(re.compile(rf"/admin/tracks/{track.id}\?status=COMPLETED"))
    table = page.locator("#learners-table")
    expect(table).to_contain_text("Dana Done")
    expect(table).not_to_contain_text("Ira Going")
    expect(table).not_to_contain_text("Noa New")
    assert not page_errors


def test_org_admin_reads_their_dashboard_and_opens_the_staff_at_risk(
        app, page, log_in, make_user, make_org, org, make_definition, make_credential,
        screenshot, page_errors):
    org_admin = make_user(Role.ORG_ADMIN, org, name="Oriwa Org-Admin")
    soon, later = (make_user(Role.STAFF, org, name=n) for n in ("Sina Soon", "Lui Later"))
    outsider = make_user(Role.STAFF, make_org("Elsewhere Ltd"), name="Olaf Outsider")
    heights = make_definition("Working at Heights")
    today = dates.today()
    make_credential(heights, soon, CredentialStatus.AWARDED, expiry_date=today + timedelta(days=12))
    make_credential(heights, later, CredentialStatus.AWARDED, expiry_date=today + timedelta(days=200))
    make_credential(heights, outsider, CredentialStatus.AWARDED, expiry_date=today + timedelta(days=5))
    due = make_credential(heights, make_user(Role.STAFF, org, name="Dara Due"),
                          CredentialStatus.AWARDED, expiry_date=today + timedelta(days=30))
    with app.app_context():  # awarded, due today: not valid (the sweep has not run yet)
        db.session.get(StaffMicroCredential, due.id).expiry_date = today
        db.session.commit()
    page.set_viewport_size(DESKTOP)
    log_in(org_admin.email)
    page.locator("nav.org-tabs").get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/org/dashboard$"))
    expect(page.locator("#chart-compliance")).to_contain_text("Working at Heights (2 of 3)")
    expect(page.locator("#at-risk")).to_contain_text("Sina Soon")
    expect(page.locator("main")).not_to_contain_text("Olaf Outsider")
    _both_widths(page, screenshot, "org-dashboard")

    page.locator("#stat-soon").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/org\?status=AWARDED&expires_from="))
    matrix = page.locator("#org-matrix")
    expect(matrix).to_contain_text("Sina Soon")
    expect(matrix).not_to_contain_text("Lui Later")
    expect(matrix).not_to_contain_text("Olaf Outsider")
    expect(page.locator("#expiry-filter")).to_be_visible()

    page.go_back()
    later_month = (today + timedelta(days=200)).strftime("%b %Y")
    page.locator("#chart-forecast").get_by_role("link", name=f"{later_month}: 1 credential").click()
    expect(page.locator("#org-matrix")).to_contain_text("Lui Later")
    expect(page.locator("#org-matrix")).not_to_contain_text("Sina Soon")
    screenshot("org-forecast-list")

    # The compliance bar lists the people it counts (2 valid), not the award due today.
    page.go_back()
    page.locator("#chart-compliance").get_by_role(
        "link", name=re.compile(r"Working at Heights \(2 of 3\)")).click()
    expect(page.locator("#expiry-filter")).to_contain_text("awarded and in date")
    rows = page.locator("#org-matrix tbody tr[id^=staff-]")
    expect(rows).to_have_count(2)
    expect(page.locator("#org-matrix")).to_contain_text("Sina Soon")
    expect(page.locator("#org-matrix")).to_contain_text("Lui Later")
    expect(page.locator("#org-matrix")).not_to_contain_text("Dara Due")
    screenshot("org-compliance-list")
    # Its CSV holds the same credentials as the list.
    with page.expect_download() as info:
        page.locator("#org-matrix").get_by_role("link", name="Download CSV").click()
    exported = list(csv.DictReader(io.StringIO(
        open(info.value.path(), "rb").read().decode("utf-8-sig"))))
    assert sorted(r["Name"] for r in exported) == ["Lui Later", "Sina Soon"]
    assert not page_errors


def test_learner_sees_progress_and_what_is_due_next(app, page, log_in, make_user, make_track,
                                                     org, screenshot, page_errors):
    learner = make_user(Role.STAFF, org, name="Lee Learner")
    track = make_track("Scaffold Basics")
    with app.app_context():
        training.enrol(db.session.get(User, learner.id),
                       db.session.get(CertificationTrack, track.id), Actor.system())
        db.session.commit()
    page.set_viewport_size(DESKTOP)
    log_in(learner.email)
    due = page.locator("#due-next")
    expect(due).to_contain_text("Scaffold Basics")
    expect(due).to_contain_text("0 of 2 required courses done")
    _both_widths(page, screenshot, "learner-me")
    due.get_by_role("link", name="Reading").click()
    expect(page).to_have_url(re.compile(rf"/learn/courses/{track.courses[0].id}$"))
    expect(page.get_by_role("heading", name="Reading")).to_be_visible()
    assert not page_errors


def test_badge_art_shows_beside_definitions_and_tracks(page, log_in, make_user,
                                                       make_definition, make_track,
                                                       screenshot, page_errors):
    from app.models import TrackLevel

    admin = make_user(Role.ADMIN, name="Ada Admin")
    make_definition("Working at Heights", level=3)
    make_definition("Asbestos Removal", level=8)
    make_track("Roof Safety", level=TrackLevel.INTERMEDIATE)
    page.set_viewport_size(DESKTOP)
    log_in(admin.email)
    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.locator("nav[aria-label=Main] details").get_by_role("link", name="Micro-credentials").click()
    badge = page.locator('img.badge-art[data-badge="WH-L3"]')
    expect(badge).to_be_visible()
    assert badge.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot("definitions")
    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.locator("nav[aria-label=Main] details").get_by_role("link", name="Tracks").click()
    page.get_by_role("link", name="Roof Safety").first.click()
    expect(page.locator('h1 img.badge-art[data-badge="RS-INT"]')).to_be_visible()
    screenshot("track")
    assert not page_errors
