"""The audit trail's Actor filter finds a person by name as well as by email."""

from __future__ import annotations

from tests.conftest import HX


def test_actor_filter_matches_names_and_emails(admin_client, make_user, new_client, org):
    from app.models import Role

    tane = make_user(Role.STAFF, org, name="Tāne Ngāti Pōneke", email="tp@example.test")
    other = make_user(Role.STAFF, org, name="Someone Else")
    for person in (tane, other):
        new_client().login(person.email)
    by_name = admin_client.get("/admin/audit?actor=ngāti&action=LOGIN", headers=HX)
    html = by_name.get_data(as_text=True)
    assert "tp@example.test" in html and other.email not in html
    assert html.count('<tr id="audit-') == 1
    by_email = admin_client.get("/admin/audit?actor=TP@EXAMPLE&action=LOGIN", headers=HX)
    assert by_email.get_data(as_text=True).count('<tr id="audit-') == 1
    nobody = admin_client.get("/admin/audit?actor=%25&action=LOGIN", headers=HX)
    assert nobody.get_data(as_text=True).count('<tr id="audit-') == 0
