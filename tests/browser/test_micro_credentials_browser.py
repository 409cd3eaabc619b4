"""Micro-credentials in a real browser: the admin's catalogue and a holder's path from
assignment to award, then what the staff member (/me) and their org admin (/org) see."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.extensions import db
from app.models import MicroCredentialDefinition, Role, StaffMicroCredential
from app.models.base import utcnow
from app.services.dates import add_months
from tests.browser.conftest import log_in_page, post_by_click

STAFF_NAME = "Tāne Ngāti Pōneke"
TITLE = "Working at Heights"
NEW_TITLE = "Working at Heights (Scaffold)"
DEFAULT_TITLE = "Reclad/Reroofing Level 5"
EVIDENCE_NAME = "heights-certificate.pdf"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.fixture
def app(make_app, tmp_path):
    # Uploaded evidence goes to the test's own directory, not instance/storage.
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))




def _definition(app, title: str) -> MicroCredentialDefinition | None:
    with app.app_context():
        found = db.session.scalar(select(MicroCredentialDefinition)
                                  .where(MicroCredentialDefinition.title == title))
        if found is not None:
            db.session.expunge(found)
        return found


def _credential(app, definition_id: int, user_id: int) -> StaffMicroCredential | None:
    with app.app_context():
        found = db.session.scalar(select(StaffMicroCredential).where(
            StaffMicroCredential.definition_id == definition_id,
            StaffMicroCredential.user_id == user_id))
        if found is not None:
            db.session.expunge(found)
        return found


def test_admin_creates_assigns_and_awards_a_micro_credential_staff_and_org_admin_see_it(
        app, page, new_page, live_server, log_in, make_user, make_org, screenshot,
        page_errors, tmp_path):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    org = make_org("Pōneke Roofing")
    staff = make_user(Role.STAFF, org, name=STAFF_NAME)
    org_admin = make_user(Role.ORG_ADMIN, org, name="Oriwa Org-Admin")
    log_in(admin.email)

    # --- The catalogue: create inline -------------------------------------------------
    page.goto(f"{live_server}/admin/micro-credentials")
    expect(page.get_by_role("heading", name="Micro-credentials", exact=True)).to_be_visible()
    page.evaluate("window.__marker = 1")
    row = page.locator("tr#definition-new")
    row.locator('input[name="title"]').fill(TITLE)
    row.locator('textarea[name="requirements"]').fill(
        "Complete the harness course and a supervised climb.")
    row.locator('input[name="level"]').fill("3")
    row.locator('input[name="issuing_body"]').fill("WorkSafe NZ")
    row.locator('input[name="skill_standard"]').fill("US 23229")
    row.locator('input[name="validity_months"]').fill("24")
    response = post_by_click(page, row.get_by_role("button", name="Add credential"),
                     "/admin/micro-credentials")
    assert response.status == 200
    definition = _definition(app, TITLE)
    assert definition is not None, "the create row did not create the definition"
    assert (definition.level, definition.issuing_body, definition.validity_months) == (
        3, "WorkSafe NZ", 24)
    created = page.locator(f"tr#definition-{definition.id}")
    expect(created).to_contain_text(TITLE)
    expect(created).to_contain_text("WorkSafe NZ")
    expect(created).to_contain_text("24 months")
    expect(page.locator("tr#definition-new")).to_have_count(1)
    expect(page.locator('tr#definition-new input[name="title"]')).to_have_value("")
    expect(page.locator("#definitions-rows > tr").nth(1)).to_have_id(f"definition-{definition.id}")

    # --- Edit in place ------------------------------------------------------------------
    created.get_by_role("button", name="Edit").click()
    title_input = page.locator(f"#definition-{definition.id}-title")
    expect(title_input).to_have_value(TITLE)
    title_input.fill(NEW_TITLE)
    editing = page.locator(f"tr#definition-{definition.id}")
    response = post_by_click(page, editing.get_by_role("button", name="Save"),
                     f"/admin/micro-credentials/{definition.id}")
    assert response.status == 200
    expect(page.locator(f"tr#definition-{definition.id}.editing")).to_have_count(0)
    expect(page.locator(f"tr#definition-{definition.id}")).to_contain_text(NEW_TITLE)
    assert _definition(app, NEW_TITLE) is not None

    # --- A default cannot be deleted, and the row says why -------------------------------
    default_row = page.locator("#definitions-rows > tr", has_text=DEFAULT_TITLE)
    expect(default_row.locator(".badge")).to_have_text("Default")
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    response = post_by_click(page, default_row.get_by_role("button", name="Delete"), "/delete")
    assert response.status == 409
    assert dialogs == [], "a default is refused before any confirmation"
    expect(default_row.get_by_role("alert")).to_have_text("Default credentials cannot be deleted.")
    page.remove_listener("dialog", accept)
    assert _definition(app, DEFAULT_TITLE) is not None
    assert page.evaluate("window.__marker") == 1, "the page was reloaded, not swapped"
    screenshot("definitions")

    # --- Assign the new credential to a staff member -----------------------------------
    page.locator(f"tr#definition-{definition.id}").get_by_role("button", name="Staff").click()
    expect(page).to_have_url(re.compile(rf"/admin/micro-credentials/{definition.id}/staff$"))
    expect(page.get_by_role("heading", name=NEW_TITLE)).to_be_visible()
    panel = page.locator("details", has=page.locator("#assign-panel"))
    if panel.get_attribute("open") is None:  # open by itself while no one holds it
        panel.locator("summary").click()
    expect(page.locator("#assign-panel")).to_be_visible()
    page.locator("#assign-panel select[name=organization_id]").select_option(label=org.name)
    page.get_by_role("searchbox", name="Find staff").fill("Pōneke")
    candidates = page.locator("#candidates input[name=user_ids]")
    expect(candidates).to_have_count(1)
    expect(page.locator("#candidates")).to_contain_text(STAFF_NAME)
    page.locator("#candidates label", has_text=STAFF_NAME).locator("input").check()
    response = post_by_click(page, page.get_by_role("button", name="Assign selected"),
                     f"/{definition.id}/assign")
    assert response.status == 200
    expect(page.locator("#assign-result")).to_have_text("Assigned to 1 staff member.")
    credential = _credential(app, definition.id, staff.id)
    assert credential is not None
    holder = page.locator(f"#holders-table tr#credential-{credential.id}")
    expect(holder).to_contain_text(STAFF_NAME)  # the table refreshed itself
    expect(holder.locator(".badge")).to_have_text("Not Started")
    # The candidate list refreshes too: the new holder cannot be picked twice.
    expect(page.locator("#candidates")).to_contain_text("already assigned")

    # --- Forward through the statuses --------------------------------------------------
    for label, shown in (("In Training", "In Training"),
                         ("Assessment Pending", "Assessment Pending")):
        response = post_by_click(page, holder.get_by_role("button", name=label, exact=True),
                         f"/credentials/{credential.id}/status")
        assert response.status == 200
        expect(holder.locator(".badge")).to_have_text(shown)

    # --- Evidence -------------------------------------------------------------------------
    pdf = tmp_path / EVIDENCE_NAME
    pdf.write_bytes(PDF)
    holder.locator('input[type="file"][name="file"]').set_input_files(str(pdf))
    response = post_by_click(page, holder.get_by_role("button", name="Upload"),
                     f"/credentials/{credential.id}/evidence")
    assert response.status == 200
    expect(holder.get_by_role("link", name=EVIDENCE_NAME)).to_be_visible()
    expect(holder.get_by_role("button", name="Replace")).to_be_visible()

    # --- Award, with the expiry from the definition's validity -------------------------
    expiry_input = holder.get_by_label("Expiry date (optional)")
    expect(expiry_input).to_have_attribute("type", "date")
    expect(holder.locator("label.expiry-field")).to_contain_text("Expires (optional)")
    screenshot("holder-before-award")
    response = post_by_click(page, holder.get_by_role("button", name="Award", exact=True),
                     f"/credentials/{credential.id}/status")
    assert response.status == 200
    expect(holder.locator(".badge")).to_have_text("Awarded")
    awarded = _credential(app, definition.id, staff.id)
    today = utcnow().date()
    assert awarded.expiry_date == add_months(today, 24)
    expect(holder.locator(".expiry")).to_have_text(awarded.expiry_date.isoformat())
    expect(holder).to_contain_text(today.isoformat())
    expect(holder).to_contain_text("by Ada Admin")
    expect(holder.locator("details.move-back summary")).to_have_text("Move back…")
    screenshot("holders-awarded")

    # --- The staff member's own page ----------------------------------------------------
    staff_page = new_page()
    log_in_page(staff_page, live_server, staff.email)
    staff_page.goto(f"{live_server}/me")
    mine = staff_page.locator(f"#my-credentials tr#my-credential-{credential.id}")
    expect(mine).to_contain_text(NEW_TITLE)
    expect(mine.locator(".badge")).to_have_text("Awarded")
    expect(mine.locator(".expiry")).to_have_text(awarded.expiry_date.isoformat())
    with staff_page.expect_download() as download_info:
        mine.get_by_role("link", name=EVIDENCE_NAME).click()
    download = download_info.value
    assert download.suggested_filename == EVIDENCE_NAME
    assert open(download.path(), "rb").read() == PDF
    screenshot("staff-me", on=staff_page)

    # --- The org admin's matrix ---------------------------------------------------------
    org_page = new_page()
    log_in_page(org_page, live_server, org_admin.email)
    org_page.goto(f"{live_server}/org")
    expect(org_page.get_by_role("heading", name=org.name)).to_be_visible()
    matrix = org_page.locator("#org-matrix")
    expect(matrix.locator("thead")).to_contain_text(NEW_TITLE)
    staff_row = matrix.locator(f"tr#staff-{staff.id}")
    expect(staff_row).to_contain_text(STAFF_NAME)
    expect(staff_row.locator(".badge", has_text="Awarded")).to_have_count(1)
    expect(staff_row).to_contain_text(awarded.expiry_date.isoformat())
    screenshot("org-matrix", on=org_page)

    assert page_errors == []
