"""/admin/users: the model admin table (full page, fragments, inline rows)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, Notification, Role, User
from tests.conftest import HX

VALID = {"name": "Hana Hēnare", "email": "Hana@Example.test", "role": "staff",
         "organization_id": "", "phone": "+64 21 555 0100"}


def _user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def test_full_page_has_layout_table_and_create_row(admin_client, staff_user):
    response = admin_client.get("/admin/users")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="users-table"' in html and 'id="user-new"' in html
    assert staff_user.email in html
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_request_gets_only_the_table_fragment(admin_client, staff_user):
    response = admin_client.get("/admin/users", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.strip().startswith('<div id="users-table">')
    assert staff_user.email in html
    assert "HX-Request" in response.headers["Vary"]


def test_boosted_and_history_restore_requests_get_the_full_page(admin_client):
    boosted = admin_client.get("/admin/users", headers={**HX, "HX-Boosted": "true"})
    restore = admin_client.get("/admin/users", headers={**HX, "HX-History-Restore-Request": "true"})
    for response in (boosted, restore):
        assert response.status_code == 200
        assert "<html" in response.get_data(as_text=True)
        assert 'id="users-table"' in response.get_data(as_text=True)


def test_search_narrows_the_table(admin_client, make_user):
    make_user(name="Findable Person")
    make_user(name="Someone Else")
    html = admin_client.get("/admin/users?q=findable", headers=HX).get_data(as_text=True)
    assert "Findable Person" in html and "Someone Else" not in html


def test_filters_by_role_and_status(admin_client, make_user):
    make_user(Role.MANAGER, name="Manny Manager")
    make_user(Role.STAFF, name="Gone Person", active=False)
    managers = admin_client.get("/admin/users?role=manager", headers=HX).get_data(as_text=True)
    assert "Manny Manager" in managers and "Gone Person" not in managers
    inactive = admin_client.get("/admin/users?status=inactive", headers=HX).get_data(as_text=True)
    assert "Gone Person" in inactive and "Manny Manager" not in inactive


def test_pagination(app, admin_client, make_user):
    app.config["PAGE_SIZE"] = 3
    for i in range(7):
        make_user(name=f"Paged {i:02d}")
    first = admin_client.get("/admin/users?q=Paged", headers=HX).get_data(as_text=True)
    third = admin_client.get("/admin/users?q=Paged&page=3", headers=HX).get_data(as_text=True)
    assert "Paged 00" in first and "Paged 03" not in first
    assert "Page 1 of 3" in first and "Paged 06" in third and "Paged 00" not in third


def test_create_row_adds_a_user_and_audits_it(app, admin_client):
    response = admin_client.post("/admin/users", data=VALID, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="user-new"' in html  # a fresh create row...
    assert "Hana Hēnare" in html and "hana@example.test" in html  # ...and the new row
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "hana@example.test"))
        assert user is not None and user.role == Role.STAFF
        entry = db.session.scalar(select(AuditLog).where(AuditLog.resource_id == str(user.id)))
        assert entry.action == "CREATE" and entry.resource_type == "user"
        assert "password" not in entry.changes
        assert user.password_hash is None  # they set it themselves, through the invitation
        notice = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
        assert notice.type == "ACCOUNT_INVITATION"


def test_invalid_create_row_comes_back_with_messages_and_writes_nothing(app, admin_client):
    before = _user_count(app)
    response = admin_client.post("/admin/users", headers=HX, data={
        **VALID, "name": "", "email": "not-an-email"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="user-new"' in html
    assert "Enter a name." in html and "Enter a valid email address." in html
    assert 'value="not-an-email"' in html  # what was typed stays
    assert _user_count(app) == before


def test_duplicate_email_is_refused_whatever_its_case(app, admin_client, staff_user):
    before = _user_count(app)
    response = admin_client.post("/admin/users", headers=HX,
                                 data={**VALID, "email": staff_user.email.upper()})
    assert response.status_code == 409  # a Conflict: the status comes from the error's type
    assert "A user with this email already exists." in response.get_data(as_text=True)
    assert _user_count(app) == before


def test_org_admin_needs_an_organization(admin_client):
    response = admin_client.post("/admin/users", headers=HX, data={**VALID, "role": "org_admin"})
    assert response.status_code == 422
    assert "An organization admin needs an organization." in response.get_data(as_text=True)


def test_edit_row_fragment_and_full_page(admin_client, staff_user):
    fragment = admin_client.get(f"/admin/users/{staff_user.id}/edit", headers=HX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert f'id="user-{staff_user.id}" class="editing"' in html
    assert f'value="{staff_user.email}"' in html
    page = admin_client.get(f"/admin/users/{staff_user.id}/edit").get_data(as_text=True)
    assert "<html" in page and f'id="user-{staff_user.id}" class="editing"' in page


def test_saving_an_edit_row_updates_and_audits_the_change(app, admin_client, staff_user, org):
    response = admin_client.post(f"/admin/users/{staff_user.id}", headers=HX, data={
        "name": "Samuel Staff", "email": staff_user.email, "role": "staff",
        "organization_id": str(org.id), "phone": "", "password": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Samuel Staff" in html and 'class="editing"' not in html
    with app.app_context():
        assert db.session.get(User, staff_user.id).name == "Samuel Staff"
        entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "UPDATE"))
        assert entry.changes == {"name": ["Sam Staff", "Samuel Staff"]}


def test_an_invalid_edit_changes_nothing(app, admin_client, staff_user):
    response = admin_client.post(f"/admin/users/{staff_user.id}", headers=HX, data={
        "name": "", "email": staff_user.email, "role": "staff", "organization_id": ""})
    assert response.status_code == 422
    assert "Enter a name." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, staff_user.id).name == "Sam Staff"


def test_cancel_returns_the_display_row(admin_client, staff_user):
    html = admin_client.get(f"/admin/users/{staff_user.id}", headers=HX).get_data(as_text=True)
    assert html.strip().startswith(f'<tr id="user-{staff_user.id}"')
    assert "Edit" in html


def test_deactivate_and_reactivate(app, admin_client, staff_user):
    off = admin_client.post(f"/admin/users/{staff_user.id}/active", data={"active": "0"},
                            headers=HX)
    assert off.status_code == 200 and "Reactivate" in off.get_data(as_text=True)
    on = admin_client.post(f"/admin/users/{staff_user.id}/active", data={"active": "1"}, headers=HX)
    assert "Deactivate" in on.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).where(
            AuditLog.resource_id == str(staff_user.id)).order_by(AuditLog.seq)).all()
        assert actions[-2:] == ["DEACTIVATE", "REACTIVATE"]


def test_admin_cannot_deactivate_themselves(app, admin_client, admin_user):
    response = admin_client.post(f"/admin/users/{admin_user.id}/active", data={"active": "0"},
                                 headers=HX)
    assert response.status_code == 422
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, admin_user.id).active is True


def test_unknown_user_is_404(admin_client):
    assert admin_client.get("/admin/users/999999/edit", headers=HX).status_code == 404
    assert admin_client.post("/admin/users/999999", data=VALID, headers=HX).status_code == 404
