"""Journeys (../shared/JOURNEYS.md) in a real browser, typed and clicked as people do:

- Org admin 1 [phone]: the staff x credential matrix, expired and soon-expiring cells and
  the summary count, a filter, the CSV export (downloaded and parsed);
- Org admin 2 [phone]: their organization's training progress, certificates and
  projects' readiness; open a person;
- Org admin 3 [phone]: the organization's notification settings;
- Staff 4 [phone]: upload evidence on /me for a credential awaiting assessment;
- Platform admin 3: create a definition inline, edit it, try to delete a default (refused
  before any confirmation), assign it to three staff, move one to Awarded with evidence
  attached, see the org matrix update;
- Platform admin 7 (the filter part): the audit trail by a person's name and an action.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    Certificate,
    CredentialStatus,
    Enrolment,
    MicroCredentialDefinition,
    Organization,
    Role,
    StaffMicroCredential,
    User,
)
from app.services import certificates, training
from app.services.context import Actor
from tests.browser.conftest import open_main_menu, post_by_click
from tests.conftest import answers_scoring

PHONE = {"width": 390, "height": 844}
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
DEFAULT_TITLE = "Reclad/Reroofing Level 5"


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_DIR=str(tmp_path / "storage"))




def _open_org_menu(page, item: str) -> None:
    """The org admin's navigation: My organization > item (behind Menu on a phone)."""
    open_main_menu(page)
    page.locator("nav[aria-label=Main] details summary", has_text="My organization").click()
    page.locator("nav[aria-label=Main] details").get_by_role("link", name=item).click()


@pytest.fixture
def roofing(app, make_org, make_user, make_definition, make_credential, make_track):
    """An organization with staff whose credentials are expired, due in 20 and in 75
    days, one fine; a completed track with a certificate; a project short of go-live."""
    org = make_org("Pōneke Roofing")
    other = make_org("Elsewhere Ltd")
    org_admin = make_user(Role.ORG_ADMIN, org, name="Oriwa Org-Admin")
    tane = make_user(Role.STAFF, org, name="Tāne Ngāti Pōneke")
    zoe = make_user(Role.STAFF, org, name="Zoë Brontë")
    li = make_user(Role.STAFF, org, name="Li Wei")
    outsider = make_user(Role.STAFF, other, name="Olaf Outsider")
    heights = make_definition("Working at Heights", validity_months=24)
    asbestos = make_definition("Asbestos Awareness", validity_months=12)
    today = date.today()
    expired = make_credential(asbestos, zoe, CredentialStatus.AWARDED,
                              expiry_date=today + timedelta(days=200))
    make_credential(heights, tane, CredentialStatus.AWARDED,
                    expiry_date=today + timedelta(days=20))
    make_credential(heights, zoe, CredentialStatus.AWARDED,
                    expiry_date=today + timedelta(days=75))
    make_credential(heights, li, CredentialStatus.AWARDED,
                    expiry_date=today + timedelta(days=300))
    make_credential(heights, outsider, CredentialStatus.AWARDED,
                    expiry_date=today + timedelta(days=3))
    waiting = make_credential(make_definition("Membrane roofing"), zoe,
                              CredentialStatus.ASSESSMENT_PENDING)
    track = make_track("Site safety", required_for_go_live=True)
    with app.app_context():
        # Demo history: Zoë's asbestos credential lapsed 12 days ago.
        db.session.execute(update(StaffMicroCredential).where(
            StaffMicroCredential.id == expired.id).values(
            status=CredentialStatus.EXPIRED, expiry_date=today - timedelta(days=12)))
        actor = Actor.system()
        row = training.get_track(track.id)
        for person in (tane, zoe):
            training.enrol(db.session.get(User, person.id), row, actor)
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == tane.id))
        for progress in enrolment.course_progress:
            if progress.course.has_exam:
                training.submit_quiz_attempt(progress, answers_scoring(progress.course, 2),
                                             actor)
                training.submit_quiz_attempt(progress, answers_scoring(progress.course, 5),
                                             actor)
            else:
                training.complete_course(progress, actor)
        pending = db.session.scalar(select(Certificate).where(
            Certificate.recipient_id == tane.id))
        certificates.approve(pending, actor)
        number = pending.number
        project = training.create_project(actor, name="Wellington go-live",
                                          organization_id=org.id,
                                          go_live_date=today + timedelta(days=45))
        training.assign_training(project, row, actor, required_completions=2)
        training.create_project(actor, name="Elsewhere go-live", organization_id=other.id,
                                go_live_date=None)
        db.session.commit()
        project_id = project.id
    return {"org": org, "org_admin": org_admin, "tane": tane, "zoe": zoe, "li": li,
            "outsider": outsider, "number": number, "project_id": project_id,
            "waiting": waiting}


# --- Org admin 1 ---------------------------------------------------------------------------

def test_org_admin_reads_the_matrix_filters_it_and_exports_csv(
        page, live_server, log_in, roofing, screenshot, page_errors):
    page.set_viewport_size(PHONE)
    log_in(roofing["org_admin"].email)
    expect(page).to_have_url(re.compile(r"/org$"))  # their home page
    expect(page.get_by_role("heading", name="Pōneke Roofing")).to_be_visible()
    summary = page.locator("#expiry-summary")
    expect(summary).to_contain_text("1 expired")
    expect(summary).to_contain_text("1 expiring within 30 days")
    expect(summary).to_contain_text("2 within 90 days")
    matrix = page.locator("#org-matrix")
    expect(matrix.locator("tbody .expiry-expired")).to_have_count(1)
    expect(matrix.locator("tbody .expiry-30")).to_have_count(1)
    expect(matrix.locator("tbody .expiry-90")).to_have_count(1)
    expect(matrix).not_to_contain_text("Olaf Outsider")
    screenshot("matrix")

    # Filter: type part of a name.
    page.locator("#org-filters").get_by_role("searchbox").fill("brontë")
    expect(matrix.locator("tbody tr")).to_have_count(1)
    expect(matrix).to_contain_text("Zoë Brontë")
    expect(page).to_have_url(re.compile(r"q=bront"))
    page.get_by_label("Status").select_option(label="Expired")
    expect(matrix.locator("tbody tr")).to_have_count(1)
    screenshot("matrix-filtered")
    page.locator("#org-filters").get_by_role("searchbox").fill("")
    page.get_by_label("Status").select_option(label="Any status")
    expect(matrix.locator("tbody tr")).to_have_count(4)  # the org admin has no credentials

    # Export: the CSV a spreadsheet opens.
    with page.expect_download() as info:
        matrix.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert re.fullmatch(r"org-\d+-[0-9a-f]+-credentials-\d{4}-\d{2}-\d{2}\.csv",
                        download.suggested_filename)
    raw = open(download.path(), "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads the macrons right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 5
    by_name = {(r["Name"], r["Credential"]): r for r in rows}
    assert by_name[("Zoë Brontë", "Asbestos Awareness")]["Status"] == "Expired"
    assert by_name[("Tāne Ngāti Pōneke", "Working at Heights")]["Days left"] == "20"
    assert all(r["Name"] != "Olaf Outsider" for r in rows)
    assert page_errors == []


# --- Org admin 2 ---------------------------------------------------------------------------

def test_org_admin_reads_progress_certificates_and_readiness_and_opens_a_person(
        page, live_server, log_in, roofing, screenshot, page_errors, tmp_path):
    page.set_viewport_size(PHONE)
    log_in(roofing["org_admin"].email)

    _open_org_menu(page, "Training progress")
    expect(page).to_have_url(re.compile(r"/org/progress$"))
    table = page.locator("#org-progress")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text("Site safety")
    expect(table.locator("tbody tr", has_text="Tāne")).to_contain_text("100%")
    expect(table.locator("tbody tr", has_text="Tāne")).to_contain_text("Completed")
    page.locator("#org-filters").get_by_role("searchbox").fill("zoë")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Not Started")
    screenshot("progress")

    page.get_by_role("link", name="Certificates").click()
    expect(page).to_have_url(re.compile(r"/org/certificates$"))
    certificates_table = page.locator("#org-certificates")
    row = certificates_table.locator("tbody tr", has_text=roofing["number"])
    expect(row).to_contain_text("Tāne Ngāti Pōneke")
    expect(row).to_contain_text("Active")
    screenshot("certificates")

    page.locator("nav.tabs").get_by_role("link", name="Projects").click()
    expect(page).to_have_url(re.compile(r"/org/projects$"))
    expect(page.locator("#org-projects")).not_to_contain_text("Elsewhere go-live")
    project_row = page.locator("#org-projects tbody tr", has_text="Wellington go-live")
    expect(project_row).to_contain_text("Not ready")
    project_row.get_by_role("link", name="Wellington go-live").click()
    expect(page).to_have_url(re.compile(rf"/org/projects/{roofing['project_id']}$"))
    expect(page.locator("#project-assignments")).to_contain_text("Blocks go-live (1 short)")
    blockers = page.locator("section.blockers")
    expect(blockers).to_contain_text("Zoë Brontë")
    expect(blockers).not_to_contain_text("Tāne")
    screenshot("readiness")

    # Open a person: the one who blocks go-live.
    blockers.get_by_role("link", name="Zoë Brontë").click()
    expect(page).to_have_url(re.compile(rf"/people/{roofing['zoe'].id}$"))
    expect(page.get_by_role("heading", name="Zoë Brontë")).to_be_visible()
    credentials = page.locator("#person-credentials")
    expect(credentials.locator("tr", has_text="Asbestos Awareness")).to_contain_text("Expired")
    expect(credentials.locator("tr", has_text="Working at Heights")).to_contain_text("Awarded")
    expect(page.locator("#person-tracks")).to_contain_text("Site safety")
    expect(page.locator("#person-audit")).to_have_count(0)  # the trail is admins' only
    screenshot("person")

    # The org admin uploads Zoë's evidence for the credential awaiting assessment.
    waiting = roofing["waiting"]
    cell = page.locator(f"#evidence-{waiting.id}")
    evidence = tmp_path / "zoe-membrane-assessment.pdf"
    evidence.write_bytes(PDF)
    cell.get_by_label(re.compile("Evidence for")).set_input_files(str(evidence))
    with page.expect_response(lambda r: r.request.method == "POST"
                              and f"/credentials/{waiting.id}/evidence" in r.url) as info:
        cell.get_by_role("button", name="Upload evidence").click()
    assert info.value.status == 200
    cell = page.locator(f"#evidence-{waiting.id}")
    expect(cell.get_by_role("link", name="zoe-membrane-assessment.pdf")).to_be_visible()
    expect(cell).to_contain_text("by Oriwa Org-Admin")
    screenshot("person-evidence")

    # Tāne's page lists his quiz attempts and certificate.
    page.go_back()
    page.go_back()
    page.get_by_role("link", name="Training progress").click()
    page.locator("#org-progress").get_by_role("link", name="Tāne Ngāti Pōneke").click()
    tracks = page.locator("#person-tracks")
    expect(tracks).to_contain_text("40% · failed")
    expect(tracks).to_contain_text("100% · passed")
    expect(page.locator("#person-certificates")).to_contain_text(roofing["number"])
    screenshot("person-attempts")
    assert page_errors == []


# --- Org admin 3 ---------------------------------------------------------------------------

def test_org_admin_changes_the_organizations_notification_settings(
        app, page, live_server, log_in, roofing, screenshot, page_errors):
    page.set_viewport_size(PHONE)
    log_in(roofing["org_admin"].email)
    _open_org_menu(page, "Org alerts")
    expect(page).to_have_url(re.compile(r"/org/preferences$"))
    expect(page.get_by_role("heading", name=re.compile("Pōneke Roofing"))).to_be_visible()
    text_alerts = page.get_by_label(re.compile("Text org admins when a staff credential"))
    expect(text_alerts).not_to_be_checked()
    text_alerts.check()
    page.get_by_label(re.compile("Email org admins about staff status")).uncheck()
    response = post_by_click(page, page.get_by_role("button", name="Save preferences"),
                     "/org/preferences")
    assert response.status == 200
    expect(page.get_by_role("status")).to_contain_text("saved")
    screenshot("saved")
    page.reload()
    expect(page.get_by_label(re.compile("Text org admins when a staff credential"))
           ).to_be_checked()
    expect(page.get_by_label(re.compile("Email org admins about staff status"))
           ).not_to_be_checked()
    with app.app_context():
        org = db.session.get(Organization, roofing["org"].id)
        assert org.sms_credential_alerts is True and org.email_system_alerts is False
    assert page_errors == []


# --- Staff 4 -------------------------------------------------------------------------------

def test_staff_uploads_evidence_for_a_credential_awaiting_assessment(
        app, page, live_server, log_in, make_org, make_user, make_definition,
        make_credential, screenshot, page_errors, tmp_path):
    page.set_viewport_size(PHONE)
    org = make_org("Pōneke Roofing")
    staff = make_user(Role.STAFF, org, name="Tāne Ngāti Pōneke")
    waiting = make_credential(make_definition("Compliance Practices (local)"), staff,
                              CredentialStatus.ASSESSMENT_PENDING)
    make_credential(make_definition("Ladder safety"), staff, CredentialStatus.IN_TRAINING)
    log_in(staff.email)
    expect(page).to_have_url(re.compile(r"/me$"))
    row = page.locator(f"tr#my-credential-{waiting.id}")
    expect(row.locator(".badge")).to_have_text("Assessment Pending")
    # Only the credential awaiting assessment offers an upload.
    expect(page.locator("#my-credentials").get_by_role(
        "button", name="Upload evidence")).to_have_count(1)
    screenshot("before")

    # A file that is not a PDF or image, whatever its name says, is refused in place.
    fake = tmp_path / "assessment.pdf"
    fake.write_bytes(b"MZ this is a program")
    row.get_by_label(re.compile("Evidence for")).set_input_files(str(fake))
    response = post_by_click(page, row.get_by_role("button", name="Upload evidence"),
                     f"/credentials/{waiting.id}/evidence")
    assert response.status == 422
    expect(row.get_by_role("alert")).to_have_text(
        "Only PDF, PNG or JPEG documents are accepted.")
    screenshot("refused")

    real = tmp_path / "roofwright-assessment.pdf"
    real.write_bytes(PDF)
    row.get_by_label(re.compile("Evidence for")).set_input_files(str(real))
    response = post_by_click(page, row.get_by_role("button", name="Upload evidence"),
                     f"/credentials/{waiting.id}/evidence")
    assert response.status == 200
    expect(row.get_by_role("status")).to_contain_text("Evidence uploaded")
    expect(row.get_by_role("link", name="roofwright-assessment.pdf")).to_be_visible()
    expect(row).to_contain_text(f"by {staff.name}")
    expect(row.get_by_role("button", name="Replace evidence")).to_be_visible()
    screenshot("uploaded")
    page.reload()
    expect(page.locator(f"tr#my-credential-{waiting.id}").get_by_role(
        "link", name="roofwright-assessment.pdf")).to_be_visible()
    with app.app_context():
        stored = db.session.get(StaffMicroCredential, waiting.id)
        assert stored.evidence_uploaded_by_id == staff.id
        assert stored.status == CredentialStatus.ASSESSMENT_PENDING
    assert page_errors == []


# --- Platform admin 3 ----------------------------------------------------------------------

def test_admin_builds_a_credential_assigns_three_awards_one_and_sees_the_matrix(
        app, page, live_server, log_in, make_org, make_user, screenshot, page_errors,
        tmp_path):
    admin = make_user(Role.ADMIN, name="Ada Admin")
    org = make_org("Pōneke Roofing")
    people = [make_user(Role.STAFF, org, name=name)
              for name in ("Aroha Pōneke", "Bryn Pōneke", "Carys Pōneke")]
    log_in(admin.email)
    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.get_by_role("link", name="Micro-credentials").click()
    expect(page.get_by_role("heading", name="Micro-credentials", exact=True)).to_be_visible()

    # Create inline, then edit in place.
    new = page.locator("tr#definition-new")
    new.locator('input[name="title"]').fill("Membrane roofing")
    new.locator('input[name="level"]').fill("4")
    new.locator('input[name="issuing_body"]').fill("RANZ")
    new.locator('input[name="validity_months"]').fill("36")
    assert post_by_click(page, new.get_by_role("button", name="Add credential"),
                 "/admin/micro-credentials").status == 200
    with app.app_context():
        definition_id = db.session.scalar(select(MicroCredentialDefinition.id).where(
            MicroCredentialDefinition.title == "Membrane roofing"))
    row = page.locator(f"tr#definition-{definition_id}")
    expect(row).to_contain_text("36 months")
    row.get_by_role("button", name="Edit").click()
    page.locator(f"#definition-{definition_id}-title").fill("Membrane roofing (torch-on)")
    assert post_by_click(page, row.get_by_role("button", name="Save"),
                 f"/admin/micro-credentials/{definition_id}").status == 200
    expect(page.locator(f"tr#definition-{definition_id}")).to_contain_text(
        "Membrane roofing (torch-on)")
    screenshot("created-and-edited")

    # A default: refused at once, before any confirmation.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    default_row = page.locator("#definitions-rows > tr", has_text=DEFAULT_TITLE)
    response = post_by_click(page, default_row.get_by_role("button", name="Delete"), "/delete")
    assert response.status == 409
    assert dialogs == [], "a default's Delete asked for a confirmation first"
    expect(default_row.get_by_role("alert")).to_have_text(
        "Default credentials cannot be deleted.")
    screenshot("default-refused")

    # Assign it to three staff.
    page.locator(f"tr#definition-{definition_id}").get_by_role("button", name="Staff").click()
    expect(page).to_have_url(re.compile(rf"/admin/micro-credentials/{definition_id}/staff$"))
    panel = page.locator("details", has=page.locator("#assign-panel"))
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    with page.expect_response(lambda r: "/candidates" in r.url and "organization_id" in r.url):
        page.locator("#assign-panel select[name=organization_id]").select_option(label=org.name)
    with page.expect_response(lambda r: "/candidates" in r.url and "q=P" in r.url):
        page.get_by_role("searchbox", name="Find staff").fill("Pōneke")
    expect(page.locator("#candidates input[name=user_ids]")).to_have_count(3)
    for person in people:
        page.locator("#candidates label", has_text=person.name).locator("input").check()
    assert post_by_click(page, page.get_by_role("button", name="Assign selected"),
                 f"/{definition_id}/assign").status == 200
    expect(page.locator("#assign-result")).to_have_text("Assigned to 3 staff members.")
    expect(page.locator("#holders-table tbody tr")).to_have_count(3)
    screenshot("assigned-three")

    # Move one through the statuses to Awarded, with evidence attached.
    with app.app_context():
        credential_id = db.session.scalar(select(StaffMicroCredential.id).where(
            StaffMicroCredential.user_id == people[0].id,
            StaffMicroCredential.definition_id == definition_id))
    holder = page.locator(f"#holders-table tr#credential-{credential_id}")
    for label in ("In Training", "Assessment Pending"):
        assert post_by_click(page, holder.get_by_role("button", name=label, exact=True),
                     f"/credentials/{credential_id}/status").status == 200
        expect(holder.locator(".badge")).to_have_text(label)
    evidence = tmp_path / "aroha-assessment.pdf"
    evidence.write_bytes(PDF)
    holder.locator('input[type="file"][name="file"]').set_input_files(str(evidence))
    assert post_by_click(page, holder.get_by_role("button", name="Upload"),
                 f"/credentials/{credential_id}/evidence").status == 200
    expect(holder.get_by_role("link", name="aroha-assessment.pdf")).to_be_visible()
    expect(holder).to_contain_text("by Ada Admin")
    assert post_by_click(page, holder.get_by_role("button", name="Award", exact=True),
                 f"/credentials/{credential_id}/status").status == 200
    expect(holder.locator(".badge")).to_have_text("Awarded")
    screenshot("awarded")

    # The org matrix shows it.
    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.get_by_role("link", name="Organization view").click()
    page.get_by_role("combobox", name=re.compile("^Organization")).select_option(label=org.name)
    matrix = page.locator("#org-matrix")
    expect(matrix.locator("thead")).to_contain_text("Membrane roofing (torch-on)")
    expect(matrix.locator(f"tr#staff-{people[0].id} .badge")).to_have_text("Awarded")
    expect(matrix.locator(f"tr#staff-{people[1].id} .badge")).to_have_text("Not Started")
    screenshot("org-matrix")
    assert page_errors == []


# --- Platform admin 7: the audit trail's filters ------------------------------------------

def test_admin_filters_the_audit_trail_by_a_persons_name_and_an_action(
        page, live_server, log_in, new_page, make_org, make_user, screenshot, page_errors):
    from tests.browser.conftest import log_in_page

    admin = make_user(Role.ADMIN, name="Ada Admin")
    org = make_org("Pōneke Roofing")
    tane = make_user(Role.STAFF, org, name="Tāne Ngāti Pōneke", email="tane@example.test")
    other = make_user(Role.STAFF, org, name="Someone Else")
    for person in (tane, other):
        log_in_page(new_page(), live_server, person.email)
    log_in(admin.email)
    page.locator("nav[aria-label=Main] details summary", has_text="Manage").click()
    page.locator("nav[aria-label=Main]").get_by_role("link", name="Audit trail").click()
    table = page.locator("#audit-table")
    page.get_by_label("Actor").fill("Ngāti")
    expect(table.locator("tbody tr")).not_to_have_count(0)
    expect(table).to_contain_text("tane@example.test")
    expect(table).not_to_contain_text(other.email)
    expect(page).to_have_url(re.compile(r"actor=Ng"))
    page.get_by_label("Action").select_option("LOGIN")
    expect(table.locator("tbody tr")).to_have_count(1)
    screenshot("audit-by-name-and-action")
    page.get_by_label("Action").select_option("LOGOUT")
    expect(table).to_contain_text("No audit entries match these filters.")
    assert page_errors == []
