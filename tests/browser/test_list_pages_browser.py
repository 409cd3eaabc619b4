"""An admin pages through the certificate list and the audit trail by clicking Older and
Newer: other rows each time, the address follows (a reload shows the same page), the
search stays on, and Newer leads back to the first page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType, Role
from app.services import audit
from app.services.context import Actor


@pytest.fixture
def app(make_app):
    return make_app(PAGE_SIZE=3)


def _numbers(page) -> list[str]:
    return re.findall(r"CERT-2026-\d{5}", page.locator("#certificates-list tbody").inner_text())


def test_admin_clicks_older_and_newer_on_the_certificate_list_and_the_audit_trail(
        app, page, live_server, log_in, make_user, org, make_track, screenshot, page_errors):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    track = make_track("Paging Fundamentals", exam=False)
    whina = make_user(name="Whina Whitlock", organization=org)
    other = make_user(name="Aroha Smith", organization=org)
    base = datetime(2026, 5, 1, 8, tzinfo=UTC)
    with app.app_context():
        db.session.add_all(
            Certificate(type=CertificateType.COMPLETION, status=CertificateStatus.ISSUED,
                        recipient_id=(whina if i % 3 else other).id, track_id=track.id,
                        number=f"CERT-2026-{i + 1:05d}", issued_at=base - timedelta(days=i))
            for i in range(8))
        for i in range(6):
            audit.record(Actor.system(), "UPDATE", "organization", str(org.id),
                         {"name": [f"Name {i}", f"Name {i + 1}"]})
        db.session.commit()
    log_in(admin.email)

    # --- Certificates: Issued tab, newest first, three a page ---------------------------
    page.goto(f"{live_server}/admin/certificates")
    page.locator("nav.tabs").get_by_role("link", name="Issued").click()
    expect(page.locator("#certificates-list tbody tr")).to_have_count(3)
    assert _numbers(page) == ["CERT-2026-00001", "CERT-2026-00002", "CERT-2026-00003"]
    pager = page.locator("#certificates-list nav.pagination")
    expect(pager).to_contain_text("3 shown of 8 certificates")
    expect(pager.get_by_role("link", name=re.compile("Newer"))).to_have_count(0)
    screenshot("certificates-first-page")

    pager.get_by_role("link", name=re.compile("Older")).click()
    expect(page).to_have_url(re.compile(r"[?&]after="))
    expect(page.locator("#certificates-list")).to_contain_text("CERT-2026-00004")
    assert _numbers(page) == ["CERT-2026-00004", "CERT-2026-00005", "CERT-2026-00006"]
    page.reload()  # the address is the page
    assert _numbers(page) == ["CERT-2026-00004", "CERT-2026-00005", "CERT-2026-00006"]
    pager.get_by_role("link", name=re.compile("Older")).click()
    expect(page.locator("#certificates-list")).to_contain_text("CERT-2026-00008")
    assert _numbers(page) == ["CERT-2026-00007", "CERT-2026-00008"]
    expect(pager.get_by_role("link", name=re.compile("Older"))).to_have_count(0)
    screenshot("certificates-last-page")
    pager.get_by_role("link", name=re.compile("Newer")).click()
    expect(page.locator("#certificates-list")).to_contain_text("CERT-2026-00004")
    assert _numbers(page) == ["CERT-2026-00004", "CERT-2026-00005", "CERT-2026-00006"]
    pager.get_by_role("link", name=re.compile("Newer")).click()
    expect(page.locator("#certificates-list")).to_contain_text("CERT-2026-00001")
    assert _numbers(page) == ["CERT-2026-00001", "CERT-2026-00002", "CERT-2026-00003"]

    # --- A search stays on across pages --------------------------------------------------
    page.get_by_label("Recipient").fill("whitlock")
    expect(page).to_have_url(re.compile(r"[?&]q=whitlock"))
    expect(page.locator("#certificates-list")).not_to_contain_text("Aroha Smith")
    expect(pager).to_contain_text("3 shown of 5 certificates")
    pager.get_by_role("link", name=re.compile("Older")).click()
    expect(page).to_have_url(re.compile(r"[?&]after="))
    expect(page.locator("#certificates-list tbody tr")).to_have_count(2)
    expect(page.locator("#certificates-list")).to_contain_text("Whina Whitlock")
    expect(page.locator("#certificates-list")).not_to_contain_text("Aroha Smith")
    expect(page.get_by_label("Recipient")).to_have_value("whitlock")
    screenshot("certificates-search-second-page")

    # --- The audit trail -----------------------------------------------------------------
    page.locator("summary", has_text="Manage").click()
    page.get_by_role("link", name="Audit trail").click()
    table = page.locator("#audit-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    first = table.locator("tbody").inner_text()
    table.get_by_role("link", name=re.compile("Older")).click()
    expect(page).to_have_url(re.compile(r"/admin/audit\?.*after="))
    expect(table.locator("tbody tr")).to_have_count(3)
    second = table.locator("tbody").inner_text()
    assert second != first and "Name" in second
    screenshot("audit-second-page")
    table.get_by_role("link", name=re.compile("Newer")).click()
    expect(table).to_contain_text("logged in")  # the newest entry: this log-in
    expect(table).not_to_contain_text("Name 1 → Name 2")
    assert table.locator("tbody").inner_text().split() == first.split()
    assert not page_errors
