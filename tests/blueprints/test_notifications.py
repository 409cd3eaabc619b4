"""The bell, the notification list, read marks and preference pages, for every role."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AuditLog, Notification, NotificationType, Organization, User
from app.services import notifications as service
from tests.conftest import HX


def _notify(app: Flask, user: User, title: str = "Hello", link: str | None = "/me") -> int:
    with app.app_context():
        notification = service.notify(db.session.get(User, user.id), NotificationType.WELCOME,
                                      title, "Body text", link=link)
        db.session.commit()
        return notification.id


def _unread(app: Flask, user: User) -> int:
    with app.app_context():
        return service.unread_count(db.session.get(User, user.id))


def test_bell_counts_unread_and_stops_polling_when_logged_out(app: Flask, client: Any,
                                                              staff_client: Any,
                                                              staff_user: User) -> None:
    for i in range(3):
        _notify(app, staff_user, f"N{i}")
    response = staff_client.get("/me/notifications/bell", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert 'data-unread="3"' in html and "every 30s" in html and "<html" not in html
    # Every page carries the bell with the same count.
    assert 'data-unread="3"' in staff_client.get("/me").get_data(as_text=True)
    # Logged out: 286 (htmx stops polling), nothing else.
    anonymous = client.get("/me/notifications/bell", headers=HX)
    assert anonymous.status_code == 286 and anonymous.get_data() == b""
    staff_client.post("/logout")
    assert staff_client.get("/me/notifications/bell", headers=HX).status_code == 286


def test_list_full_page_and_fragment_show_only_own(app: Flask, staff_client: Any,
                                                   staff_user: User,
                                                   make_user: Callable[..., User]) -> None:
    other = make_user(name="Other Person")
    _notify(app, staff_user, "Mine to read")
    _notify(app, other, "Someone else's secret")
    page = staff_client.get("/me/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and "Mine to read" in html
    assert "secret" not in html
    fragment = staff_client.get("/me/notifications?unread=1", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert 'id="notifications-list"' in body and "Mine to read" in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_mark_read_own_refreshes_bell_and_others_are_404(app: Flask, staff_client: Any,
                                                         staff_user: User,
                                                         make_user: Callable[..., User]) -> None:
    mine = _notify(app, staff_user)
    theirs = _notify(app, make_user())
    response = staff_client.post(f"/me/notifications/{mine}/read", headers=HX)
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "bell:refresh"
    assert f'id="notification-{mine}"' in response.get_data(as_text=True)
    assert "Mark read" not in response.get_data(as_text=True)
    assert _unread(app, staff_user) == 0
    assert staff_client.post(f"/me/notifications/{theirs}/read", headers=HX).status_code == 404
    assert staff_client.post(f"/me/notifications/{theirs}/open").status_code == 404
    with app.app_context():
        assert db.session.get(Notification, theirs).read_at is None


def test_mark_all_read(app: Flask, staff_client: Any, staff_user: User,
                       make_user: Callable[..., User]) -> None:
    other = make_user()
    for _ in range(4):
        _notify(app, staff_user)
    _notify(app, other)
    response = staff_client.post("/me/notifications/read-all", headers=HX)
    assert response.status_code == 200 and "No notifications" not in response.get_data(as_text=True)
    assert _unread(app, staff_user) == 0 and _unread(app, other) == 1
    plain = staff_client.post("/me/notifications/read-all")
    assert plain.status_code == 302


def test_open_marks_read_and_follows_only_internal_links(app: Flask, staff_client: Any,
                                                         staff_user: User) -> None:
    inside = _notify(app, staff_user, link="/learn/tracks")
    outside = _notify(app, staff_user, link="//evil.example/phish")
    response = staff_client.post(f"/me/notifications/{inside}/open")
    assert response.status_code == 302 and response.headers["Location"].endswith("/learn/tracks")
    away = staff_client.post(f"/me/notifications/{outside}/open")
    assert away.headers["Location"].endswith("/me/notifications")
    assert _unread(app, staff_user) == 0


def test_anonymous_is_sent_to_login(client: Any) -> None:
    for path in ("/me/notifications", "/me/preferences"):
        assert client.get(path).status_code == 302


def test_user_preferences_save_and_audit(app: Flask, staff_client: Any, staff_user: User) -> None:
    page = staff_client.get("/me/preferences")
    assert page.status_code == 200 and "Text me about urgent matters" in page.get_data(as_text=True)
    response = staff_client.post("/me/preferences", headers=HX, data={
        "email_compliance": "y", "sms_critical": "y", "phone": "+64 21 555 0123"})
    assert response.status_code == 200 and "Preferences saved." in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, staff_user.id)
        assert (user.email_compliance, user.email_training, user.sms_critical, user.phone) == (
            True, False, True, "+64 21 555 0123")
        row = db.session.scalars(select(AuditLog).where(AuditLog.resource_type == "user")
                                 .order_by(AuditLog.id.desc())).first()
        assert row is not None and "sms_critical" in row.changes


@pytest.mark.parametrize("phone", ["call me", "12", "+1 " + "9" * 20])
def test_bad_phone_is_refused_and_changes_nothing(app: Flask, staff_client: Any,
                                                 staff_user: User, phone: str) -> None:
    response = staff_client.post("/me/preferences", headers=HX,
                                 data={"sms_critical": "y", "phone": phone})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'aria-invalid="true"' in html
    assert re.search(r"phone number|Field cannot be longer", html)
    with app.app_context():
        user = db.session.get(User, staff_user.id)
        assert (user.sms_critical, user.phone) == (False, None)


def test_org_admin_sets_own_organization_preferences(app: Flask, org_admin_client: Any,
                                                     org: Organization) -> None:
    page = org_admin_client.get("/org/preferences")
    assert page.status_code == 200 and "Acme Roofing: alert preferences" in page.get_data(
        as_text=True)
    response = org_admin_client.post("/org/preferences", data={
        "email_compliance_alerts": "y", "sms_critical_alerts": "y"})
    assert response.status_code == 302
    with app.app_context():
        saved = db.session.get(Organization, org.id)
        assert (saved.email_compliance_alerts, saved.email_system_alerts,
                saved.sms_credential_alerts, saved.sms_critical_alerts) == (True, False, False, True)


def test_org_preferences_are_org_admins_and_admins_only(app: Flask, staff_client: Any,
                                                        admin_client: Any,
                                                        make_org: Callable[..., Organization]
                                                        ) -> None:
    other = make_org("Other Org")
    assert staff_client.get("/org/preferences").status_code == 403
    assert staff_client.post("/org/preferences", data={}).status_code == 403
    response = admin_client.post(f"/org/preferences?organization_id={other.id}", headers=HX,
                                 data={"sms_credential_alerts": "y"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Organization, other.id).sms_credential_alerts is True


def test_org_admin_cannot_reach_another_organization(app: Flask, org_admin_client: Any,
                                                     org: Organization,
                                                     make_org: Callable[..., Organization]
                                                     ) -> None:
    other = make_org("Not Mine")
    org_admin_client.post(f"/org/preferences?organization_id={other.id}",
                          data={"sms_credential_alerts": "y"})
    with app.app_context():
        assert db.session.get(Organization, other.id).sms_credential_alerts is False
        assert db.session.get(Organization, org.id).sms_credential_alerts is True

