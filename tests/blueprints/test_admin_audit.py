"""/admin/audit: the trail, filterable."""

from __future__ import annotations

from datetime import date, timedelta

from tests.conftest import HX


def test_lists_entries_and_filters_by_action(admin_client, staff_client, staff_user, admin_user):
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "<html" in page and "LOGIN" in page and staff_user.email in page
    fragment = admin_client.get("/admin/audit?action=LOGIN", headers=HX).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="audit-table">')
    assert fragment.count("<tr id=\"audit-") == 2


def test_filters_by_actor_resource_and_date(admin_client, staff_client, staff_user):
    by_actor = admin_client.get(f"/admin/audit?actor={staff_user.email[:8]}",
                                headers=HX).get_data(as_text=True)
    assert staff_user.email in by_actor
    assert by_actor.count('<tr id="audit-') == 1
    by_resource = admin_client.get(
        f"/admin/audit?resource_type=user&resource_id={staff_user.id}", headers=HX
    ).get_data(as_text=True)
    assert by_resource.count('<tr id="audit-') == 1
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    future = admin_client.get(f"/admin/audit?from={tomorrow}", headers=HX).get_data(as_text=True)
    assert "No audit entries match" in future
    today = date.today().isoformat()
    assert "LOGIN" in admin_client.get(f"/admin/audit?from={today}&to={today}",
                                       headers=HX).get_data(as_text=True)


def test_bad_dates_are_ignored_not_500(admin_client):
    assert admin_client.get("/admin/audit?from=yesterday&to=2026-13-45").status_code == 200


def test_an_entry_opens_in_words_for_admins_only(admin_client, staff_client, staff_user,
                                                admin_user):
    from sqlalchemy import select

    from app.extensions import db
    from app.models import AuditLog

    with admin_client.application.app_context():
        entry = db.session.scalars(select(AuditLog).where(
            AuditLog.actor_id == staff_user.id, AuditLog.action == "LOGIN")).one()
    page = admin_client.get(f"/admin/audit/{entry.id}").get_data(as_text=True)
    assert f"{staff_user.name} logged in" in page
    assert staff_client.get(f"/admin/audit/{entry.id}").status_code == 403
    assert admin_client.get("/admin/audit/999999").status_code == 404
    listing = admin_client.get("/admin/audit?action=LOGIN", headers=HX).get_data(as_text=True)
    assert f'href="/admin/audit/{entry.id}"' in listing and "logged in" in listing
