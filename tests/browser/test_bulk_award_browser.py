"""Bulk award in a real browser (issue 15): on /admin/micro-credentials an admin opens
Bulk award, uploads a CSV with good and bad rows, reads the preview's row errors,
confirms, watches the progress bar finish, downloads the report and reads it; the
definition's holders and the org admin's matrix show the awards; the same file again
awards nothing."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import expect

from app.models import CredentialStatus, Role
from app.services.dates import add_months, today
from tests.browser.conftest import log_in_page

PHONE = {"width": 390, "height": 844}
HEADER = "email,name,organization,definition,award_date,expiry,notes\n"


def _csv(tmp_path: Path, people: list, extra: str = "") -> Path:
    path = tmp_path / "assessment-day.csv"
    path.write_text(HEADER + "".join(f"{p.email},,,Gutter Work,,,Assessed on site\n"
                                     for p in people) + extra, encoding="utf-8")
    return path


def _upload(page, live_server: str, path: Path) -> None:
    page.goto(f"{live_server}/admin/micro-credentials")
    page.get_by_role("button", name="Bulk award (CSV)").click()
    expect(page.get_by_role("heading", name="Bulk award micro-credentials")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()


def test_bulk_award_journey(app, page, new_page, live_server, log_in, make_user, make_org,
                            make_definition, make_credential, tmp_path, screenshot,
                            page_errors):
    definition = make_definition("Gutter Work", validity_months=24)
    org = make_org("Pōneke Roofing")
    admin = make_user(Role.ADMIN, name="Ada Admin")
    org_admin = make_user(Role.ORG_ADMIN, org, name="Oriwa Org-Admin")
    people = [make_user(Role.STAFF, org, name=n, email=f"{n.split()[0].lower()}@example.test")
              for n in ("Hēmi Walker", "Zoë Brown", "Li Wei")]
    held = make_user(Role.STAFF, org, name="Held Already", email="held@example.test")
    make_credential(definition, held, CredentialStatus.AWARDED)
    tomorrow = (today() + timedelta(days=1)).isoformat()
    bad = ("mere@example.test,,,Gutter Work,,,\n"                        # 5 no account
           "li@example.test,,,Welding,,,\n"                              # 6 unknown
           f"zoë@example.test,,,Site Safety,{tomorrow},,\n"              # 7 unknown too
           "held@example.test,,,Gutter Work,,,\n"                        # 8 awarded, valid
           "hēmi@example.test,,,Gutter Work,2026-13-01,,\n"              # 9 bad date
           '=HYPERLINK("http://evil.example"),,,Gutter Work,,,\n')       # 10 formula
    log_in(admin.email)
    with page.expect_download() as template:
        page.goto(f"{live_server}/admin/micro-credentials/bulk")
        page.get_by_role("link", name="Download the template CSV").click()
    header = template.value.path().read_text(encoding="utf-8").splitlines()[0]
    assert header == "email,name,organization,definition,award_date,expiry,notes"

    _upload(page, live_server, _csv(tmp_path, people, bad))
    expect(page.locator(".bulk-counts")).to_contain_text("3 ready to award")
    problems = page.get_by_role("table", name="Rows that will not be awarded as they are")
    expect(problems.locator("#line-5")).to_contain_text("No account for mere@example.test")
    expect(problems.locator("#line-6")).to_contain_text("Unknown micro-credential 'Welding'.")
    expect(problems.locator("#line-8")).to_contain_text("already holds Gutter Work")
    expect(problems.locator("#line-8")).to_contain_text("Already awarded")
    expect(problems.locator("#line-9")).to_contain_text("'2026-13-01' is not a date")
    expect(problems.locator("#line-10")).to_contain_text("is not a valid email address.")
    screenshot("preview")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    screenshot("preview-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_role("button", name="Award 3 micro-credentials (and 1 more if you invite "
                     "them)", exact=True).click()
    bar = page.get_by_role("progressbar", name="Rows processed")
    expect(bar).to_have_attribute("aria-valuenow", "3")
    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    expect(page.locator(".bulk-counts")).to_contain_text("3 awarded")
    screenshot("finished")

    with page.expect_download() as report:
        page.get_by_role("button", name="Download the report (CSV)").click()
    rows = list(csv.DictReader(report.value.path().open(encoding="utf-8-sig")))
    assert [r["result"] for r in rows] == (["Awarded"] * 3 + ["Not registered", "Problem",
                                                              "Problem", "Already awarded",
                                                              "Problem", "Problem"])
    expiry = add_months(today(), 24).isoformat()
    assert [r["expiry"] for r in rows[:3]] == [expiry] * 3
    assert rows[8]["email"].startswith("'=")  # a formula reads as text in a spreadsheet

    # The holders of the definition show the three awards.
    page.goto(f"{live_server}/admin/micro-credentials")
    page.locator(f"tr#definition-{definition.id}").get_by_role("button", name="Staff").click()
    for person in people:
        row = page.locator("tr", has_text=person.name)
        expect(row.locator(".badge")).to_have_text("Awarded")
        expect(row).to_contain_text(expiry)
    screenshot("holders")

    # The org admin's matrix too.
    org_page = new_page()
    log_in_page(org_page, live_server, org_admin.email)
    org_page.goto(f"{live_server}/org")
    matrix = org_page.locator("#org-matrix")
    expect(matrix.locator("thead")).to_contain_text("Gutter Work")
    for person in people:
        staff_row = matrix.locator(f"tr#staff-{person.id}")
        expect(staff_row.locator(".badge", has_text="Awarded")).to_have_count(1)
    screenshot("org-matrix", on=org_page)

    # The same file again: nothing is awarded twice.
    _upload(page, live_server, _csv(tmp_path, people, bad))
    expect(page.locator(".bulk-counts")).to_contain_text("0 ready to award")
    expect(page.locator("#line-2")).to_contain_text("Already awarded by import #")
    page.get_by_role("link", name="Upload another file").click()
    recent = page.get_by_role("table").filter(has_text="assessment-day.csv")
    expect(recent.locator("tbody tr")).to_have_count(2)  # both files, newest first
    expect(recent.locator("tbody tr").nth(1)).to_contain_text("Done")
    screenshot("upload-page")
    assert not page_errors, page_errors
