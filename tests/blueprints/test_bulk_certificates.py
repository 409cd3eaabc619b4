"""Bulk issue pages and API: admins only, upload -> preview -> confirm -> progress ->
report; refusals (no file, wrong columns, not UTF-8, too large) shown on the page with
their reason, never a bare error page; a double-clicked (or two admins') confirm makes one
job (race test, really concurrent on PostgreSQL)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, BulkImport, Certificate, JobOutbox, Role, User
from app.services.bulk import certificates as bulk
from app.services.context import Actor
from tests.conftest import HX

HEADER = "email,name,organization,course,track,type,issue_date,expiry,notes\n"


@pytest.fixture
def cohort(make_user: Any, make_track: Any, org: Any) -> dict[str, Any]:
    track = make_track("Roofing Fundamentals")
    people = [make_user(organization=org, email=f"c{i}@example.test") for i in range(3)]
    text = HEADER + "".join(f"{p.email},,,,Roofing Fundamentals,completion,,,\n"
                            for p in people)
    text += "nobody@example.test,,,,Roofing Fundamentals,completion,,,\n"
    text += "c0@example.test,,,Welding,,completion,,,\n"
    return {"track": track, "people": people, "csv": text}


def _upload(client: Any, text: str | bytes, name: str = "cohort.csv") -> Any:
    data = text.encode() if isinstance(text, str) else text
    return client.post("/admin/certificates/bulk",
                       data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_only_admins_reach_bulk_issue(client, staff_client, manager_client, org_admin_client):
    for path in ("/admin/certificates/bulk", "/admin/certificates/bulk/template.csv",
                 "/admin/certificates/bulk/1", "/admin/certificates/bulk/1/report.csv"):
        assert client.get(path).status_code in (302, 401)
        for other in (staff_client, manager_client, org_admin_client):
            assert other.get(path).status_code == 403, path
    assert staff_client.post("/admin/certificates/bulk/1/confirm").status_code == 403


def test_the_template_downloads_with_the_columns(admin_client):
    response = admin_client.get("/admin/certificates/bulk/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert header == ["email", "name", "organization", "course", "track", "type",
                      "issue_date", "expiry", "notes"]


def test_upload_preview_confirm_progress_and_report(app, admin_client, cohort):
    response = _upload(admin_client, cohort["csv"])
    assert response.status_code == 303
    page_url = response.headers["Location"]
    page = admin_client.get(page_url).get_data(as_text=True)
    assert "3</strong> ready to issue" in page and "1</strong> without an account" in page
    assert "Unknown course &#39;Welding&#39;." in page and "No account for nobody@example.test" in page
    import_id = int(page_url.rsplit("/", 1)[1])
    response = admin_client.post(f"/admin/certificates/bulk/{import_id}/confirm",
                                 data={"notify": "1"})
    assert response.status_code == 303
    page = admin_client.get(page_url).get_data(as_text=True)  # inline: finished at once
    assert "Finished" in page and "3</strong> issued" in page and 'role="status"' in page
    assert '<progress id="bulk-bar" max="3" value="3"' in page
    fragment = admin_client.get(f"/admin/certificates/bulk/{import_id}/progress", headers=HX)
    assert fragment.headers["HX-Trigger"] == "bulk-finished"
    assert "hx-trigger" not in fragment.get_data(as_text=True)  # it stops polling
    report = admin_client.get(f"/admin/certificates/bulk/{import_id}/report.csv")
    text = report.get_data(as_text=True)
    assert text.startswith("\ufeffline,email,")  # the BOM: Excel reads the accents
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["result"] for r in rows] == ["Issued"] * 3 + ["Not registered", "Problem"]
    assert all(r["certificate"].startswith("CERT-") for r in rows[:3])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 3


def test_confirm_with_nothing_ready_is_refused_on_the_page(admin_client, cohort):
    response = _upload(admin_client, HEADER + "c0@example.test,,,Welding,,completion,,,\n")
    url = response.headers["Location"]
    preview = admin_client.get(url).get_data(as_text=True)
    assert re.search(r'<button type="submit" disabled[^>]*>Issue 0 certificates</button>',
                     preview)  # the button says there is nothing to do
    assert "Nothing in this file can be issued" in preview
    answer = admin_client.post(url + "/confirm", data={})  # the server refuses it anyway
    assert answer.status_code == 422
    assert "Nothing to issue" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"", 422, "Choose a CSV file"),
    (b"email,salary\nx@y.z,1\n", 422, "unknown column: salary"),
    ((HEADER + "zo\xeb@example.test,,,,R,completion,,,\n").encode("latin-1"), 422,
     "not UTF-8"),
])
def test_refusals_are_shown_on_the_upload_page(admin_client, cohort, data, status, words):
    response = _upload(admin_client, data, "bad.csv" if data else "")
    body = response.get_data(as_text=True)
    assert response.status_code == status and words in body
    assert 'id="upload-error"' in body and "<form" in body  # the page, with its form


def test_a_50_mb_file_gets_the_upload_page_with_the_reason(admin_client, cohort):
    big = HEADER.encode() + b"x" * (50 * 1024 * 1024)
    response = _upload(admin_client, big, "huge.csv")
    body = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "larger than 5 MB" in body and 'id="upload-error"' in body


def test_confirm_double_clicked_or_by_two_admins_makes_one_job(app, race, make_user, cohort):
    admin = make_user(Role.ADMIN)
    with app.app_context():
        item = bulk.preview(Actor(user=db.session.get(User, admin.id)),
                            io.BytesIO(cohort["csv"].encode()), "race.csv")
        db.session.commit()
        import_id = item.id
    responses = race(admin, "POST", f"/admin/certificates/bulk/{import_id}/confirm",
                     data={"notify": "0"})
    assert [r.status_code for r in responses] == [303] * len(responses)
    with app.app_context():
        jobs = db.session.scalar(select(func.count()).select_from(JobOutbox).where(
            JobOutbox.name == "app.jobs.bulk.process_bulk_import"))
        assert jobs == 1
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.resource_type == "bulk_import")) == 1
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 3
        assert db.session.get(BulkImport, import_id).status.value == "DONE"


# --- The JSON API --------------------------------------------------------------------------

def test_api_upload_confirm_status_and_report(client, bearer, make_user, cohort):
    headers = bearer(make_user(Role.ADMIN))
    response = client.post("/api/admin/certificates/bulk", headers=headers,
                           json={"csv": cohort["csv"], "filename": "api.csv"})
    assert response.status_code == 201, response.get_json()
    preview = response.get_json()
    assert preview["status"] == "preview" and preview["counts"]["ready"] == 3
    assert [r["status"] for r in preview["rows"]] == ["ready"] * 3 + ["invite", "invalid"]
    url = f"/api/admin/certificates/bulk/{preview['id']}"
    confirmed = client.post(url + "/confirm", headers=headers, json={"notify": False})
    assert confirmed.status_code == 200
    again = client.post(url + "/confirm", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    status = client.get(url, headers=headers).get_json()
    assert status["status"] == "done" and status["counts"]["issued"] == 3
    assert status["progress"] == {"done": 3, "total": 3, "percent": 100, "finished": True,
                                  "failed": False}
    report = client.get(url + "/report", headers=headers).get_json()
    assert [r["status"] for r in report["rows"]][:3] == ["issued"] * 3
    assert report["rows"][0]["certificate_number"].startswith("CERT-")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "csv"), ({"csv": 3}, "csv"), ({"csv": "email,type\n", "filename": 1}, "filename"),
])
def test_api_refuses_a_bad_upload_with_the_field(client, bearer, make_user, body, field):
    response = client.post("/api/admin/certificates/bulk", headers=bearer(make_user(Role.ADMIN)),
                           json=body)
    assert response.status_code == 422 and field in response.get_json()["error"]["fields"]


def test_api_names_missing_columns_and_refuses_non_admins(client, bearer, make_user,
                                                         staff_user):
    response = client.post("/api/admin/certificates/bulk", headers=bearer(make_user(Role.ADMIN)),
                           json={"csv": "email\nx@example.test\n"})
    assert response.status_code == 422
    assert "missing column: type" in response.get_json()["error"]["message"]
    refused = client.post("/api/admin/certificates/bulk", headers=bearer(staff_user),
                          json={"csv": "email,type\n"})
    assert refused.status_code == 403


def _stalled(app: Any, admin: User, cohort: dict[str, Any], monkeypatch: Any) -> int:
    """An import whose worker went silent mid-run (its rows still pending)."""
    from datetime import timedelta

    from app.models import ImportStatus
    from app.models.base import utcnow

    with app.app_context():
        item = bulk.preview(Actor(user=db.session.get(User, admin.id)),
                            io.BytesIO(cohort["csv"].encode()), "stalled.csv")
        monkeypatch.setattr(bulk, "_queue", lambda item: None)  # its job got lost
        bulk.confirm(item, Actor(user=db.session.get(User, admin.id)))
        item.status = ImportStatus.RUNNING
        item.heartbeat_at = utcnow() - bulk.STALE_AFTER - timedelta(minutes=1)
        db.session.commit()
        monkeypatch.undo()
        return item.id


def test_a_stalled_import_stops_polling_and_offers_resume(app, admin_client, admin_user,
                                                          cohort, monkeypatch):
    import_id = _stalled(app, admin_user, cohort, monkeypatch)
    fragment = admin_client.get(f"/admin/certificates/bulk/{import_id}/progress", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.headers["HX-Trigger"] == "bulk-finished" and "hx-trigger" not in body
    assert "Stopped" in body and "worker stopped" in body and "Resume (3 rows left)" in body
    response = admin_client.post(f"/admin/certificates/bulk/{import_id}/resume")
    assert response.status_code == 303
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "resumed" in page and "3</strong> issued" in page and "Resume (" not in page
    again = admin_client.post(f"/admin/certificates/bulk/{import_id}/resume")
    assert "done already" in admin_client.get(again.headers["Location"]).get_data(as_text=True)


def test_resume_is_for_admins(staff_client, manager_client):
    for other in (staff_client, manager_client):
        assert other.post("/admin/certificates/bulk/1/resume").status_code == 403


def test_resume_double_clicked_or_by_two_admins_queues_once(app, race, make_user, cohort,
                                                            monkeypatch):
    admin = make_user(Role.ADMIN)
    import_id = _stalled(app, admin, cohort, monkeypatch)
    responses = race(admin, "POST", f"/admin/certificates/bulk/{import_id}/resume")
    assert [r.status_code for r in responses] == [303] * len(responses)
    with app.app_context():
        jobs = db.session.scalar(select(func.count()).select_from(JobOutbox).where(
            JobOutbox.name == "app.jobs.bulk.process_bulk_import"))
        assert jobs == 1  # the confirm's was never queued: only the one resume
        resumed = db.session.scalars(select(AuditLog).where(
            AuditLog.resource_type == "bulk_import")).all()
        assert len(resumed) == 2  # the confirm and one resume
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == 3
        assert db.session.get(BulkImport, import_id).status.value == "DONE"
