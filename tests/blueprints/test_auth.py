"""Log in, log out, sessions, password change, rate limit."""

from __future__ import annotations

from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AuditLog, Role, User
from tests.conftest import PASSWORD


def _audit_actions(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditLog.action, AuditLog.actor_email).order_by(AuditLog.seq)).all()
        return [tuple(r) for r in rows]


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="email"' in response.data and b'name="password"' in response.data


def test_login_succeeds_with_any_case_email_and_is_audited(app, client, staff_user):
    response = client.post("/login", data={"email": staff_user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/me").status_code == 200
    assert ("LOGIN", staff_user.email) in _audit_actions(app)


def test_failed_login_is_refused_and_audited(app, client, staff_user):
    response = client.post("/login", data={"email": staff_user.email, "password": "wrong-password"})
    assert response.status_code == 401
    assert b"Invalid email or password." in response.data
    assert client.get("/me").status_code == 302  # still anonymous
    assert ("LOGIN_FAILED", staff_user.email) in _audit_actions(app)


def test_unknown_email_gets_the_same_message_and_is_audited(app, client):
    response = client.post("/login", data={"email": "nobody@example.test", "password": "x" * 12})
    assert response.status_code == 401
    assert b"Invalid email or password." in response.data
    assert ("LOGIN_FAILED", None) in _audit_actions(app)


def test_inactive_user_cannot_log_in(client, make_user):
    user = make_user(Role.STAFF, active=False)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_empty_login_form_shows_field_errors(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 422
    assert b"Enter your email." in response.data


def test_login_renews_the_session(client, staff_user):
    client.get("/login")
    before = client.get_cookie("credwright_session").value
    client.login(staff_user.email)
    after = client.get_cookie("credwright_session").value
    assert before != after


def test_next_only_redirects_within_the_site(client, staff_user):
    ok = client.post("/login?next=/me", data={"email": staff_user.email, "password": PASSWORD})
    assert ok.location == "/me"
    client.post("/logout")
    evil = client.post("/login?next=//evil.example/x",
                       data={"email": staff_user.email, "password": PASSWORD})
    assert evil.location == "/"


def test_logged_out_cookie_cannot_be_replayed(new_client, staff_user):
    client = new_client()
    client.login(staff_user.email)
    stolen = client.get_cookie("credwright_session").value
    assert client.post("/logout").status_code == 302

    attacker = new_client()
    attacker.set_cookie("credwright_session", stolen)
    response = attacker.get("/me")
    assert response.status_code == 302 and "/login" in response.location


def test_password_change_logs_out_other_sessions(new_client, staff_user):
    laptop, phone = new_client(), new_client()
    laptop.login(staff_user.email)
    phone.login(staff_user.email)
    response = laptop.post("/account/password", data={
        "current_password": PASSWORD, "password": "a-brand-new-pass",
        "confirm": "a-brand-new-pass"})
    assert response.status_code == 302
    assert laptop.get("/me").status_code == 200  # this session stays
    assert phone.get("/me").status_code == 302  # the other is logged out
    fresh = new_client()
    fresh.login(staff_user.email, "a-brand-new-pass")


def test_password_change_with_wrong_current_password_changes_nothing(app, staff_client, staff_user):
    response = staff_client.post("/account/password", data={
        "current_password": "not-my-password", "password": "a-brand-new-pass",
        "confirm": "a-brand-new-pass"})
    assert response.status_code == 422
    assert b"That is not your current password." in response.data
    assert staff_client.get("/me").status_code == 200


def test_sixth_failed_login_within_a_minute_gets_429(client, staff_user):
    for _ in range(5):
        assert client.post("/login", data={"email": staff_user.email,
                                           "password": "wrong-password"}).status_code == 401
    response = client.post("/login", data={"email": staff_user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many" in response.data


def test_successful_logins_do_not_count_toward_the_limit(new_client, staff_user):
    for _ in range(8):
        client = new_client()
        client.login(staff_user.email)


def test_session_cookie_flags(client, staff_user):
    response = client.post("/login", data={"email": staff_user.email, "password": PASSWORD})
    cookie = next(h for h in response.headers.getlist("Set-Cookie")
                  if h.startswith("credwright_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development and tests run on plain http


def test_production_marks_cookies_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("AUDIT_KEY", "a" * 40)
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://credwright.example.nz")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_deactivating_a_user_ends_their_session(app, admin_client, new_client, make_user):
    user = make_user(Role.STAFF)
    victim = new_client()
    victim.login(user.email)
    admin_client.post(f"/admin/users/{user.id}/active", data={"active": "0"})
    assert victim.get("/me").status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).active is False
