"""The JSON API: Bearer tokens, CSRF for cookie sessions, JSON errors, shared validation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Role, User
from app.services import auth as auth_service
from app.services.context import Actor


@pytest.fixture
def admin_auth(bearer, admin_user):
    return bearer(admin_user)


def test_bearer_token_authenticates(client, admin_auth, admin_user):
    response = client.get("/api/me", headers=admin_auth)
    assert response.status_code == 200
    assert response.get_json()["email"] == admin_user.email


def test_bad_missing_and_revoked_tokens_get_401(app, client, bearer, staff_user):
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer cw_nope"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic abc"}).status_code == 401
    headers = bearer(staff_user)
    with app.app_context():
        token = db.session.scalar(select(auth_service.ApiToken))
        auth_service.revoke_api_token(token, Actor.system())
        db.session.commit()
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": "unauthorized",
                                             "message": "Authentication required."}}


def test_a_token_does_not_log_into_the_html_pages(client, admin_auth):
    response = client.get("/admin/users", headers=admin_auth)
    assert response.status_code == 302 and "/login" in response.location


def test_staff_token_is_forbidden_from_admin_api(client, bearer, staff_user):
    response = client.get("/api/admin/users", headers=bearer(staff_user))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_list_and_search_users(client, admin_auth, make_user):
    make_user(name="Wiremu Tipene")
    body = client.get("/api/admin/users?q=wiremu", headers=admin_auth).get_json()
    assert body["pagination"]["total"] == 1
    assert body["data"][0]["name"] == "Wiremu Tipene"
    assert set(body["data"][0]) >= {"id", "email", "name", "role", "organization", "active"}


def test_create_user_needs_no_csrf_with_a_token(app, client, admin_auth, org):
    client.auto_csrf = False
    response = client.post("/api/admin/users", headers=admin_auth, json={
        "name": "Api Person", "email": "API@Example.test", "role": "staff",
        "organization_id": org.id})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["invitation_pending"] is True
    assert response.get_json()["email"] == "api@example.test"
    assert response.get_json()["organization"]["id"] == org.id


def test_cookie_session_writes_need_csrf(new_client, admin_user):
    client = new_client()
    client.login(admin_user.email)
    client.auto_csrf = False
    refused = client.post("/api/admin/users", json={"name": "X", "email": "x@example.test",
                                                    "role": "staff"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "csrf_failed"
    client.auto_csrf = True
    accepted = client.post("/api/admin/users", json={"name": "X", "email": "x@example.test",
                                                     "role": "staff"})
    assert accepted.status_code == 201


def test_validation_errors_are_422_with_fields_and_write_nothing(app, client, admin_auth):
    with app.app_context():
        before = db.session.scalar(select(func.count(User.id)))
    response = client.post("/api/admin/users", headers=admin_auth, json={
        "name": "", "email": "nope", "role": "wizard"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert set(error["fields"]) == {"name", "email", "role"}
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == before


def test_unknown_fields_and_non_json_bodies_are_refused(client, admin_auth):
    unknown = client.post("/api/admin/users", headers=admin_auth,
                          json={"name": "A", "email": "a@example.test", "role": "staff",
                                "is_superuser": True})
    assert unknown.status_code == 422 and "is_superuser" in unknown.get_json()["error"]["fields"]
    not_json = client.post("/api/admin/users", headers=admin_auth, data="name=A")
    assert not_json.status_code == 422


def test_duplicate_email_is_409(client, admin_auth, staff_user):
    response = client.post("/api/admin/users", headers=admin_auth, json={
        "name": "Dup", "email": staff_user.email.upper(), "role": "staff"})
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"]["email"] == [
        "A user with this email already exists."]


def test_patch_changes_only_given_fields(app, client, admin_auth, staff_user):
    response = client.patch(f"/api/admin/users/{staff_user.id}", headers=admin_auth,
                            json={"name": "Renamed", "active": False})
    assert response.status_code == 200
    body = response.get_json()
    assert body["name"] == "Renamed" and body["active"] is False
    assert body["email"] == staff_user.email and body["role"] == "staff"


def test_patch_validates_and_404s(client, admin_auth, staff_user):
    bad = client.patch(f"/api/admin/users/{staff_user.id}", headers=admin_auth,
                       json={"role": "emperor"})
    assert bad.status_code == 422 and "role" in bad.get_json()["error"]["fields"]
    bad_active = client.patch(f"/api/admin/users/{staff_user.id}", headers=admin_auth,
                              json={"active": "nope"})
    assert bad_active.status_code == 422
    missing = client.get("/api/admin/users/424242", headers=admin_auth)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_admin_cannot_demote_themselves_via_api(client, admin_auth, admin_user):
    response = client.patch(f"/api/admin/users/{admin_user.id}", headers=admin_auth,
                            json={"role": Role.STAFF.value})
    assert response.status_code == 422
    assert "own role" in response.get_json()["error"]["message"]


def test_method_not_allowed_is_json(client, admin_auth):
    response = client.delete("/api/me", headers=admin_auth)
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
