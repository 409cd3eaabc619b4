"""Bulk award pages and API (/admin/micro-credentials/bulk, /api/admin/micro-credentials/bulk):
admins only, upload -> preview -> confirm -> progress -> report, refusals on the page with
their reason, a certificates import never shown as an awards one (nor the reverse), and a
double-clicked (or two admins') confirm makes one job (race test; concurrent on
PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    BulkImport,
    CredentialStatus,
    JobOutbox,
    Role,
    StaffMicroCredential,
    User,
)
from app.services.bulk import awards as bulk
from app.services.context import Actor
from tests.conftest import HX

HEADER = "email,name,organization,definition,award_date,expiry,notes\n"
BASE = "/admin/micro-credentials/bulk"


@pytest.fixture
def cohort(make_user: Any, make_definition: Any, org: Any) -> dict[str, Any]:
    definition = make_definition("Gutter Work", validity_months=12)
    people = [make_user(organization=org, email=f"c{i}@example.test") for i in range(3)]
    text = HEADER + "".join(f"{p.email},,,Gutter Work,,,Assessed\n" for p in people)
    text += "nobody@example.test,,,Gutter Work,,,\n"
    text += "c0@example.test,,,Welding,,,\n"
    return {"definition": definition, "people": people, "csv": text}


def _upload(client: Any, text: str | bytes, name: str = "awards.csv") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post(BASE, data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_only_admins_reach_bulk_award(client, staff_client, manager_client, org_admin_client):
    for path in (BASE, f"{BASE}/template.csv", f"{BASE}/1", f"{BASE}/1/report.csv",
                 f"{BASE}/1/progress"):
        assert client.get(path).status_code in (302, 401)
        for other in (staff_client, manager_client, org_admin_client):
            assert other.get(path).status_code == 403, path
    for path in (BASE, f"{BASE}/1/confirm", f"{BASE}/1/resume"):
        assert staff_client.post(path).status_code == 403


def test_the_definitions_page_links_to_it_and_the_template_has_the_columns(admin_client):
    page = admin_client.get("/admin/micro-credentials").get_data(as_text=True)
    assert f'href="{BASE}"' in page and "Bulk award (CSV)" in page
    response = admin_client.get(f"{BASE}/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "bulk-award-template.csv" in response.headers["Content-Disposition"]
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["email", "name", "organization", "definition", "award_date", "expiry",
                      "notes"]


def test_upload_preview_confirm_progress_and_report(app, admin_client, cohort):
    response = _upload(admin_client, cohort["csv"])
    assert response.status_code == 303
    page_url = response.headers["Location"]
    assert page_url.startswith(BASE + "/")
    page = admin_client.get(page_url).get_data(as_text=True)
    assert "3</strong> ready to award" in page and "1</strong> without an account" in page
    assert "Unknown micro-credential &#39;Welding&#39;." in page
    assert re.search(r"<button type=\"submit\">Award 3 micro-credentials \(and 1 more if you "
                     r"invite them\)</button>", page)
    import_id = int(page_url.rsplit("/", 1)[1])
    response = admin_client.post(f"{BASE}/{import_id}/confirm", data={"notify": "1"})
    assert response.status_code == 303
    page = admin_client.get(page_url).get_data(as_text=True)  # inline: finished at once
    assert "Finished" in page and "3</strong> awarded" in page
    fragment = admin_client.get(f"{BASE}/{import_id}/progress", headers=HX)
    assert fragment.headers["HX-Trigger"] == "bulk-finished"
    report = admin_client.get(f"{BASE}/{import_id}/report.csv")
    text = report.get_data(as_text=True)
    assert text.startswith("\ufeffline,email,micro_credential,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["result"] for r in rows] == ["Awarded"] * 3 + ["Not registered", "Problem"]
    assert all(r["expiry"] for r in rows[:3])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StaffMicroCredential).where(
            StaffMicroCredential.status == CredentialStatus.AWARDED)) == 3
    holders = admin_client.get(f"/admin/micro-credentials/{cohort['definition'].id}/staff")
    shown = holders.get_data(as_text=True)
    assert all(p.name in shown for p in cohort["people"])  # the holders list shows them


def test_kinds_do_not_cross(app, admin_client, cohort):
    url = _upload(admin_client, cohort["csv"]).headers["Location"]
    import_id = int(url.rsplit("/", 1)[1])
    assert admin_client.get(f"/admin/certificates/bulk/{import_id}").status_code == 404
    assert admin_client.post(f"/admin/certificates/bulk/{import_id}/confirm").status_code == 404
    listing = admin_client.get("/admin/certificates/bulk").get_data(as_text=True)
    assert f"#{import_id}<" not in listing


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 422, "Choose a CSV file"),
    (b"email,course\nx@y.z,1\n", 422, "missing column: definition"),
    ((HEADER + "zo\xeb@example.test,,,Gutter Work,,,\n").encode("latin-1"), 422, "not UTF-8"),
])
def test_refusals_are_shown_on_the_upload_page(admin_client, cohort, data, status, words):
    response = _upload(admin_client, data, "bad.csv" if data else "")
    body = response.get_data(as_text=True)
    assert response.status_code == status and words in body
    assert 'id="upload-error"' in body and "Bulk award micro-credentials" in body


def test_a_50_mb_file_gets_the_upload_page_with_the_reason(admin_client, cohort):
    response = _upload(admin_client, HEADER.encode() + b"x" * (50 * 1024 * 1024), "huge.csv")
    assert response.status_code == 413
    assert "larger than 5 MB" in response.get_data(as_text=True)


def test_confirm_double_clicked_or_by_two_admins_makes_one_job(app, race, make_user, cohort):
    admin = make_user(Role.ADMIN)
    with app.app_context():
        item = bulk.preview(Actor(user=db.session.get(User, admin.id)),
                            io.BytesIO(cohort["csv"].encode()), "race.csv")
        db.session.commit()
        import_id = item.id
    responses = race(admin, "POST", f"{BASE}/{import_id}/confirm", data={"notify": "0"})
    assert [r.status_code for r in responses] == [303] * len(responses)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(JobOutbox).where(
            JobOutbox.name == "app.jobs.bulk.process_bulk_import")) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.resource_type == "bulk_import")) == 1
        assert db.session.scalar(select(func.count()).select_from(StaffMicroCredential)) == 3
        assert db.session.get(BulkImport, import_id).status.value == "DONE"


# --- The JSON API --------------------------------------------------------------------------

API = "/api/admin/micro-credentials/bulk"


def test_api_upload_confirm_status_and_report(client, bearer, make_user, cohort):
    headers = bearer(make_user(Role.ADMIN))
    response = client.post(API, headers=headers, json={"csv": cohort["csv"]})
    assert response.status_code == 201, response.get_json()
    preview = response.get_json()
    assert preview["status"] == "preview" and preview["counts"]["ready"] == 3
    assert [r["status"] for r in preview["rows"]] == ["ready"] * 3 + ["invite", "invalid"]
    assert preview["rows"][0]["definition"] == "Gutter Work"
    url = f"{API}/{preview['id']}"
    assert client.post(url + "/confirm", headers=headers, json={"notify": False}
                       ).status_code == 200
    again = client.post(url + "/confirm", headers=headers)
    assert again.status_code == 409
    status = client.get(url, headers=headers).get_json()
    assert status["status"] == "done" and status["counts"]["issued"] == 3
    report = client.get(url + "/report", headers=headers).get_json()
    assert [r["status"] for r in report["rows"]][:3] == ["issued"] * 3
    assert report["rows"][0]["credential_id"] and report["rows"][0]["expiry"]
    # Text/csv bodies work too; the same file again awards nothing.
    second = client.post(API + "?filename=again.csv", headers={**headers,
                         "Content-Type": "text/csv"}, data=cohort["csv"].encode())
    assert second.status_code == 201
    assert second.get_json()["counts"]["duplicate"] == 3


def test_api_refuses_bad_uploads_and_non_admins(client, bearer, make_user, staff_user,
                                                cohort):
    admin = bearer(make_user(Role.ADMIN))
    for body, field in (({}, "csv"), ({"csv": 3}, "csv"),
                        ({"csv": HEADER, "filename": 1}, "filename")):
        response = client.post(API, headers=admin, json=body)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"]
    missing = client.post(API, headers=admin, json={"csv": "email\nx@example.test\n"})
    assert "missing column: definition" in missing.get_json()["error"]["message"]
    assert client.post(API, headers=bearer(staff_user), json={"csv": HEADER}).status_code == 403
    assert client.get(f"{API}/999999", headers=admin).status_code == 404


# --- The direct award the bulk job uses, one at a time through the API ---------------------

def test_api_awards_one_credential_directly_with_its_date(client, bearer, make_user,
                                                          staff_user, cohort):
    headers = bearer(make_user(Role.ADMIN))
    definition = cohort["definition"]
    url = f"/api/admin/micro-credentials/{definition.id}/award"
    person = cohort["people"][0]
    response = client.post(url, headers=headers, json={
        "userId": person.id, "awardedOn": "2026-06-01", "note": "Assessed on the roof"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "AWARDED" and body["expiryDate"] == "2027-06-01"
    assert body["awardedAt"].startswith("2026-06-01") and "Assessed" in body["notes"]
    again = client.post(url, headers=headers, json={"userId": person.id})
    assert again.status_code == 409 and "already holds" in again.get_json()["error"]["message"]
    future = client.post(url, headers=headers, json={"userId": cohort["people"][1].id,
                                                     "awardedOn": "2999-01-01"})
    assert future.status_code == 422
    for body, status in (({}, 422), ({"userId": "x"}, 422), ({"userId": 999999}, 404),
                         ({"userId": person.id, "colour": 1}, 422)):
        assert client.post(url, headers=headers, json=body).status_code == status, body
    assert client.post(url, headers=bearer(staff_user), json={"userId": person.id}
                       ).status_code == 403
    assert client.post("/api/admin/micro-credentials/999999/award", headers=headers,
                       json={"userId": person.id}).status_code == 404
