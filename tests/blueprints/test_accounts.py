"""Accounts that resist attack (issue 13): invitations, password resets, the password
policy where passwords are set, per-account login back-off, deactivated organizations,
personal API tokens on the settings page and the CLI that revokes them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    AccountToken,
    ApiToken,
    AuditLog,
    LoginThrottle,
    Notification,
    NotificationDelivery,
    Organization,
    Role,
    User,
)
from app.models.base import utcnow
from tests.conftest import HX, PASSWORD

NEW_PASSWORD = "tui-kereru-kowhai-9"


def _audit(app, action: str) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action)
                                       .order_by(AuditLog.seq)))


def _link(app, user_id: int, type_: str) -> str:
    """The path of the newest emailed link of that type (what the email's button opens)."""
    with app.app_context():
        note = db.session.scalar(select(Notification).where(
            Notification.user_id == user_id, Notification.type == type_)
            .order_by(Notification.id.desc()))
        assert note is not None, f"no {type_} notification"
        deliveries = db.session.scalars(select(NotificationDelivery.channel).where(
            NotificationDelivery.notification_id == note.id)).all()
        assert deliveries == ["email"]
        return note.link


def _user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _invite(app, admin_client, email="ngaio@example.test", name="Ngaio Marsh") -> User:
    response = admin_client.post("/admin/users", headers=HX, data={
        "name": name, "email": email, "role": "staff", "organization_id": "", "phone": ""})
    assert response.status_code == 200, response.get_data(as_text=True)
    return _user(app, email)


# --- invitations ------------------------------------------------------------------------

def test_the_create_row_has_no_password_field(admin_client):
    html = admin_client.get("/admin/users").get_data(as_text=True)
    row = html[html.index('id="user-new"'):]
    row = row[:row.index("</tr>")]
    assert 'name="password"' not in row
    assert "invitation" in row


def test_an_invited_person_sets_their_password_through_the_link_and_logs_in(
        app, admin_client, new_client):
    user = _invite(app, admin_client)
    assert user.password_hash is None
    link = _link(app, user.id, "ACCOUNT_INVITATION")
    assert link.startswith("/account/set-password/")
    with app.app_context():  # only the secret's hash is stored
        stored = db.session.scalar(select(AccountToken).where(AccountToken.user_id == user.id))
        assert link.rsplit("/", 1)[1] not in (stored.token_hash, str(stored.id))
        assert timedelta(days=6, hours=23) < stored.expires_at - stored.created_at <= \
            timedelta(days=7)
    person = new_client()
    page = person.get(link)
    assert page.status_code == 200 and b"Set your password" in page.data
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = person.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.location.endswith("/login")
    person.login(user.email, NEW_PASSWORD)
    assert person.get("/me").status_code == 200
    # Single use: the link is gone now.
    assert new_client().get(link).status_code == 404
    again = new_client().post(link, data={"password": "another-long-one-7", "confirm":
                                          "another-long-one-7"})
    assert again.status_code == 404
    assert [e.resource_id for e in _audit(app, "INVITATION_SEND")] == [str(user.id)]
    assert len(_audit(app, "PASSWORD_CHANGE")) == 1
    with app.app_context():  # and the welcome notification once the account is ready
        assert db.session.scalar(select(func.count(Notification.id)).where(
            Notification.user_id == user.id, Notification.type == "WELCOME")) == 1


@pytest.mark.parametrize(("password", "message"), [
    ("short-one", "Use 12 to 256 characters."),
    ("x" * 257, "Use 12 to 256 characters."),
    ("password1234", "too common"),
    ("aaaaaaaaaaaa", "repeated or sequential"),
    ("ngaio-marsh-2026", "your email address or name"),
])
def test_the_link_refuses_a_weak_password_and_stays_usable(app, admin_client, new_client,
                                                           password, message):
    user = _invite(app, admin_client)
    link = _link(app, user.id, "ACCOUNT_INVITATION")
    person = new_client()
    refused = person.post(link, data={"password": password, "confirm": password})
    assert refused.status_code == 422
    assert message in refused.get_data(as_text=True)
    assert person.post(link, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 302


def test_an_expired_invitation_link_is_refused(app, admin_client, new_client):
    user = _invite(app, admin_client)
    link = _link(app, user.id, "ACCOUNT_INVITATION")
    with app.app_context():
        db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    gone = new_client().get(link)
    assert gone.status_code == 404 and b"expired or has already been used" in gone.data


def test_the_invitation_lifetime_is_configurable(make_app):
    app = make_app(INVITATION_TTL_HOURS=2)
    from app.services import accounts
    from app.services.context import Actor

    with app.app_context():
        user = User(email="short@example.test", name="Short Lived", role=Role.STAFF)
        db.session.add(user)
        db.session.flush()
        token = accounts.invite(user, Actor.system())
        assert token.expires_at - token.created_at == timedelta(hours=2)
        db.session.rollback()


def test_resending_an_invitation_ends_the_earlier_link(app, admin_client, new_client):
    user = _invite(app, admin_client)
    first = _link(app, user.id, "ACCOUNT_INVITATION")
    row = admin_client.get("/admin/users", headers=HX).get_data(as_text=True)
    assert f"/admin/users/{user.id}/invite" in row and "Invited" in row
    response = admin_client.post(f"/admin/users/{user.id}/invite", headers=HX)
    assert response.status_code == 200
    assert f"Invitation sent to {user.email}" in response.get_data(as_text=True)
    second = _link(app, user.id, "ACCOUNT_INVITATION")
    assert second != first
    assert new_client().get(first).status_code == 404
    assert new_client().get(second).status_code == 200
    assert len(_audit(app, "INVITATION_SEND")) == 2
    with app.app_context():  # the ended link's secret is no longer kept in its notification
        links = db.session.scalars(select(Notification.link).where(
            Notification.user_id == user.id, Notification.type == "ACCOUNT_INVITATION")
            .order_by(Notification.id)).all()
    assert links == [None, second]


def test_no_invitation_for_someone_who_has_a_password(admin_client, staff_user):
    response = admin_client.post(f"/admin/users/{staff_user.id}/invite", headers=HX)
    assert response.status_code == 409
    assert "has set a password already" in response.get_data(as_text=True)


@pytest.mark.parametrize("who", ["manager_client", "staff_client", "client"])
def test_only_admins_send_invitations(request, who, staff_user):
    response = request.getfixturevalue(who).post(f"/admin/users/{staff_user.id}/invite")
    assert response.status_code in (302, 403)


def test_the_api_invites_too_and_refuses_a_password(app, client, make_user, bearer):
    admin = make_user(Role.ADMIN)
    auth = bearer(admin)
    refused = client.post("/api/admin/users", headers=auth, json={
        "name": "Api Person", "email": "api@example.test", "role": "staff",
        "password": "long-enough-pw"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"password": ["Unknown field."]}
    made = client.post("/api/admin/users", headers=auth, json={
        "name": "Api Person", "email": "api@example.test", "role": "staff"})
    assert made.status_code == 201 and made.get_json()["invitation_pending"] is True
    assert _link(app, made.get_json()["id"], "ACCOUNT_INVITATION")


# --- password reset ---------------------------------------------------------------------

def test_forgot_password_is_linked_from_the_login_page(client):
    assert b'href="/forgot-password"' in client.get("/login").data


def test_the_reset_answer_is_the_same_for_known_and_unknown_emails(app, new_client, staff_user):
    known = new_client().post("/forgot-password", data={"email": staff_user.email})
    unknown = new_client().post("/forgot-password", data={"email": "nobody@example.test"})
    assert known.status_code == unknown.status_code == 200

    def page(response) -> str:  # but for each session's own CSRF token
        return re.sub(r'content="[^"]+"(?=>)', "", response.get_data(as_text=True))

    assert page(known) == page(unknown)
    assert "If an account uses that email address" in page(known)
    with app.app_context():
        kinds = db.session.scalars(select(Notification.user_id).where(
            Notification.type == "PASSWORD_RESET")).all()
    assert kinds == [staff_user.id]  # the email went to the account only


def test_a_reset_sets_a_new_password_once_and_ends_sessions_and_tokens(
        app, new_client, staff_user, bearer):
    laptop = new_client()
    laptop.login(staff_user.email)
    token = bearer(staff_user)
    assert laptop.get("/api/me", headers=token).status_code == 200
    new_client().post("/forgot-password", data={"email": staff_user.email.upper()})
    link = _link(app, staff_user.id, "PASSWORD_RESET")
    with app.app_context():
        stored = db.session.scalar(select(AccountToken).where(
            AccountToken.user_id == staff_user.id))
        assert stored.expires_at - stored.created_at == timedelta(hours=1)
    person = new_client()
    page = person.get(link)
    assert b"Choose a new password" in page.data
    assert person.post(link, data={"password": NEW_PASSWORD,
                                   "confirm": NEW_PASSWORD}).status_code == 302
    assert laptop.get("/me").status_code == 302  # logged out
    assert new_client().get("/api/me", headers=token).status_code == 401  # revoked
    old = new_client().post("/login", data={"email": staff_user.email, "password": PASSWORD})
    assert old.status_code == 401
    new_client().login(staff_user.email, NEW_PASSWORD)
    assert new_client().get(link).status_code == 404
    assert len(_audit(app, "PASSWORD_RESET")) == 1
    assert len(_audit(app, "PASSWORD_RESET_REQUEST")) == 1
    with app.app_context():  # once used, the secret is not kept in the notification
        assert db.session.scalar(select(Notification.link).where(
            Notification.type == "PASSWORD_RESET")) is None


def _age_links(app, user_id: int, minutes: int) -> None:
    with app.app_context():
        db.session.execute(update(AccountToken).where(AccountToken.user_id == user_id)
                           .values(created_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()


def test_a_new_reset_link_ends_the_earlier_one(app, new_client, staff_user):
    new_client().post("/forgot-password", data={"email": staff_user.email})
    first = _link(app, staff_user.id, "PASSWORD_RESET")
    _age_links(app, staff_user.id, 10)  # past the minutes in which a request repeats nothing
    new_client().post("/forgot-password", data={"email": staff_user.email})
    assert new_client().get(first).status_code == 404
    assert new_client().get(_link(app, staff_user.id, "PASSWORD_RESET")).status_code == 200


def test_repeated_reset_requests_within_minutes_send_nothing_more(app, new_client, staff_user):
    """No inbox flood, and nobody can keep cancelling the owner's pending link."""
    new_client().post("/forgot-password", data={"email": staff_user.email})
    first = _link(app, staff_user.id, "PASSWORD_RESET")
    for _ in range(3):
        assert new_client().post("/forgot-password",
                                 data={"email": staff_user.email}).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Notification.id)).where(
            Notification.type == "PASSWORD_RESET")) == 1
    assert new_client().get(first).status_code == 200  # still the owner's to use


def test_changing_the_email_ends_the_links_and_invites_again(app, admin_client, new_client):
    """A mistyped invitation corrected: the link mailed to the wrong address stops working,
    and the person is invited at the new one."""
    person = _invite(app, admin_client, email="ngaio@exmaple.test")
    wrong = _link(app, person.id, "ACCOUNT_INVITATION")
    response = admin_client.post(f"/admin/users/{person.id}", headers=HX, data={
        "name": person.name, "email": "ngaio@example.test", "role": "staff",
        "organization_id": "", "phone": ""})
    assert response.status_code == 200
    assert new_client().get(wrong).status_code == 404
    right = _link(app, person.id, "ACCOUNT_INVITATION")
    assert right != wrong and new_client().get(right).status_code == 200
    with app.app_context():
        addresses = db.session.scalars(select(NotificationDelivery.address).join(
            Notification).where(Notification.type == "ACCOUNT_INVITATION")
            .order_by(NotificationDelivery.id)).all()
    assert addresses == ["ngaio@exmaple.test", "ngaio@example.test"]


def test_no_reset_for_a_deactivated_account(app, new_client, make_user):
    user = make_user(Role.STAFF, active=False)
    assert new_client().post("/forgot-password", data={"email": user.email}).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(AccountToken.id))) == 0


def test_an_unknown_link_is_404(client):
    assert client.get("/account/set-password/not-a-real-token").status_code == 404
    assert client.get("/account/set-password/" + "x" * 500).status_code == 404


def test_a_reset_link_used_twice_at_once_sets_the_password_once(app, new_client, race,
                                                                 staff_user, make_user):
    new_client().post("/forgot-password", data={"email": staff_user.email})
    link = _link(app, staff_user.id, "PASSWORD_RESET")
    someone = make_user(Role.STAFF)
    responses = race(someone, "POST", link, n=5, data={"password": NEW_PASSWORD,
                                                         "confirm": NEW_PASSWORD})
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(302) == 1, statuses
    assert set(statuses) - {302} <= {404, 409}, statuses
    assert len(_audit(app, "PASSWORD_RESET")) == 1


def test_an_invitation_used_twice_at_once_sets_the_password_once(app, admin_client, race,
                                                                 make_user):
    user = _invite(app, admin_client)
    link = _link(app, user.id, "ACCOUNT_INVITATION")
    responses = race(make_user(Role.STAFF), calls=[
        ("POST", link, {"data": {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}}),
        ("POST", link, {"data": {"password": "another-long-one-7",
                                 "confirm": "another-long-one-7"}}),
    ])
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(302) == 1, statuses
    assert len(_audit(app, "PASSWORD_CHANGE")) == 1


# --- change password, admin set ----------------------------------------------------------

def test_change_password_applies_the_policy(staff_client):
    response = staff_client.post("/account/password", data={
        "current_password": PASSWORD, "password": "iloveyou1234", "confirm": "iloveyou1234"})
    assert response.status_code == 422
    assert b"too common" in response.data


def test_change_password_revokes_api_tokens_and_other_sessions(app, new_client, staff_user,
                                                               bearer):
    token = bearer(staff_user)
    laptop, phone = new_client(), new_client()
    laptop.login(staff_user.email)
    phone.login(staff_user.email)
    assert laptop.post("/account/password", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD}).status_code == 302
    assert laptop.get("/me").status_code == 200
    assert phone.get("/me").status_code == 302
    assert new_client().get("/api/me", headers=token).status_code == 401
    assert _audit(app, "PASSWORD_CHANGE")[-1].changes == {"api_tokens_revoked": 1}


def test_an_admin_setting_a_password_gets_the_policy(app, admin_client, staff_user, org):
    response = admin_client.post(f"/admin/users/{staff_user.id}", headers=HX, data={
        "name": staff_user.name, "email": staff_user.email, "role": "staff",
        "organization_id": str(org.id), "phone": "", "password": "password1234"})
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)


# --- login throttling ---------------------------------------------------------------------

def _guess(new_client, email: str, n: int, password: str = "wrong-password-1") -> list:  # noqa: S107
    return [new_client().post("/login", data={"email": email, "password": password},
                              environ_base={"REMOTE_ADDR": f"10.0.{i // 250}.{i % 250 + 1}"})
            for i in range(n)]


def test_guesses_from_many_addresses_at_one_account_are_slowed(app, new_client, staff_user):
    answers = _guess(new_client, staff_user.email, 25)
    statuses = [r.status_code for r in answers]
    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}, statuses
    assert int(answers[5].headers["Retry-After"]) >= 2
    assert b"Too many failed attempts for this account. Try again in 2 seconds." in answers[5].data
    # While it backs off even the right password is not checked.
    right = new_client().post("/login", data={"email": staff_user.email, "password": PASSWORD},
                              environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert right.status_code == 429
    failed = _audit(app, "LOGIN_FAILED")
    assert len(failed) == 26 and failed[-1].changes["reason"] == "throttled"


def test_the_back_off_doubles_and_a_success_clears_it(app, new_client, staff_user):
    waits = []
    for _ in range(4):
        _guess(new_client, staff_user.email, 1)
        with app.app_context():
            throttle = db.session.scalar(select(LoginThrottle))
            if throttle.blocked_until:
                waits.append(round((throttle.blocked_until - throttle.updated_at)
                                   .total_seconds()))
            db.session.execute(update(LoginThrottle).values(blocked_until=None))
            db.session.commit()
    for _ in range(4):
        _guess(new_client, staff_user.email, 1)
        with app.app_context():
            throttle = db.session.scalar(select(LoginThrottle))
            waits.append(round((throttle.blocked_until - throttle.updated_at).total_seconds()))
            db.session.execute(update(LoginThrottle).values(blocked_until=None))
            db.session.commit()
    assert waits == [2, 4, 8, 16]
    new_client().login(staff_user.email)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginThrottle)) == 0


def test_failures_are_forgotten_after_a_quiet_hour(app, new_client, staff_user):
    """One guess every quarter of an hour must not keep an account locked for good."""
    _guess(new_client, staff_user.email, 5)
    with app.app_context():
        throttle = db.session.scalar(select(LoginThrottle))
        assert throttle.failures == 5 and throttle.blocked_until is not None
        long_ago = utcnow() - timedelta(hours=2)
        db.session.execute(update(LoginThrottle).values(updated_at=long_ago,
                                                        blocked_until=long_ago))
        db.session.commit()
    (answer,) = _guess(new_client, staff_user.email, 1)
    assert answer.status_code == 401
    with app.app_context():
        throttle = db.session.scalar(select(LoginThrottle))
        assert throttle.failures == 1 and throttle.blocked_until is None


def test_the_back_off_is_capped(make_app):
    app = make_app(LOGIN_MAX_BACKOFF_SECONDS=60)
    from app.services import auth

    with app.app_context():
        assert auth._backoff_seconds(4) == 0
        assert auth._backoff_seconds(5) == 2
        assert auth._backoff_seconds(40) == 60


def test_unknown_emails_back_off_the_same_way(new_client):
    statuses = [r.status_code for r in _guess(new_client, "nobody@example.test", 7)]
    assert statuses == [401] * 5 + [429, 429]


def test_one_office_behind_one_address_is_not_locked_out(new_client, make_user):
    people = [make_user(Role.STAFF) for _ in range(6)]
    office = {"REMOTE_ADDR": "203.0.113.9"}
    for person in people:  # one typo each, everyone from the same proxy
        assert new_client().post("/login", data={"email": person.email, "password": "typo"},
                                 environ_base=office).status_code == 401
    for person in people:
        assert new_client().post("/login", data={"email": person.email, "password": PASSWORD},
                                 environ_base=office).status_code == 302


# --- deactivated organizations ------------------------------------------------------------

def test_a_deactivated_organization_stops_logins_sessions_and_tokens(app, new_client,
                                                                    staff_user, bearer):
    token = bearer(staff_user)
    session = new_client()
    session.login(staff_user.email)
    with app.app_context():
        db.session.execute(update(Organization).where(
            Organization.id == staff_user.organization_id).values(active=False))
        db.session.commit()
    assert session.get("/me").status_code == 302
    assert new_client().get("/api/me", headers=token).status_code == 401
    refused = new_client().post("/login", data={"email": staff_user.email, "password": PASSWORD})
    assert refused.status_code == 401 and b"access to Credwright is deactivated" in refused.data
    assert _audit(app, "LOGIN_FAILED")[-1].changes == {"reason": "organization_inactive"}


# --- personal API tokens -------------------------------------------------------------------

def test_settings_link_to_the_tokens_page(staff_client):
    assert b'href="/me/tokens"' in staff_client.get("/me/preferences").data


def test_a_token_is_shown_once_works_and_is_revoked(app, new_client, staff_client, staff_user):
    made = staff_client.post("/me/tokens", headers=HX, data={"name": "Reporting script",
                                                             "expires_in_days": ""})
    assert made.status_code == 201
    html = made.get_data(as_text=True)
    plaintext = html.split('<code id="new-token">', 1)[1].split("</code>", 1)[0]
    assert plaintext.startswith("cw_") and made.headers["Cache-Control"] == "no-store"
    listed = staff_client.get("/me/tokens").get_data(as_text=True)
    assert plaintext not in listed and "Reporting script" in listed and "Never" in listed
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == staff_user.id))
        assert timedelta(days=89, hours=23) < token.expires_at - token.created_at \
            <= timedelta(days=90)
        token_id = token.id
    api = new_client()
    assert api.get("/api/me", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 200
    with app.app_context():
        assert db.session.get(ApiToken, token_id).last_used_at is not None
    revoked = staff_client.post(f"/me/tokens/{token_id}/revoke", headers=HX)
    assert revoked.status_code == 200 and "Revoked" in revoked.get_data(as_text=True)
    assert api.get("/api/me", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
    assert [e.action for e in _audit(app, "TOKEN_CREATE")] == ["TOKEN_CREATE"]
    assert [e.resource_id for e in _audit(app, "TOKEN_REVOKE")] == [str(token_id)]


def test_an_expired_token_answers_401(app, client, staff_user, bearer):
    headers = bearer(staff_user)
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("days", ["0", "366", "-1", "abc", "99999999999999999999999"])
def test_token_expiry_is_bounded(app, staff_client, days):
    response = staff_client.post("/me/tokens", headers=HX, data={"name": "x",
                                                                 "expires_in_days": days})
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count(ApiToken.id))) == 0


def test_a_token_needs_a_name(staff_client):
    response = staff_client.post("/me/tokens", headers=HX, data={"name": "  "})
    assert response.status_code == 422


def test_someone_elses_token_cannot_be_revoked(app, staff_client, make_user, bearer):
    other = make_user(Role.STAFF)
    headers = bearer(other)
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    assert staff_client.post(f"/me/tokens/{token_id}/revoke", headers=HX).status_code == 404
    assert staff_client.get("/api/me", headers=headers).status_code == 200


def test_the_tokens_page_needs_a_login(client):
    assert client.get("/me/tokens").status_code == 302
    assert client.post("/me/tokens", data={"name": "x"}).status_code in (302, 400)


def test_the_cli_revokes_any_token(app, client, staff_user, bearer):
    headers = bearer(staff_user)
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        prefix = token.prefix
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "revoke-token", prefix])
    assert result.exit_code == 0, result.output
    assert "Revoked token" in result.output
    assert client.get("/api/me", headers=headers).status_code == 401
    again = runner.invoke(args=["users", "revoke-token", prefix])
    assert "revoked already" in again.output
    second = bearer(staff_user)
    result = runner.invoke(args=["users", "revoke-token", "--all-for", staff_user.email])
    assert "Revoked 1 token(s)" in result.output
    assert client.get("/api/me", headers=second).status_code == 401
    assert runner.invoke(args=["users", "revoke-token", "cw_nothing"]).exit_code != 0


def test_the_cli_set_password_gets_the_policy(app, staff_user):
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", staff_user.email], input="password1234\npassword1234\n")
    assert result.exit_code != 0


def test_the_openapi_document_has_no_password_for_a_new_user(client):
    document = client.get("/api/openapi.json").get_json()
    body = document["paths"]["/api/admin/users"]["post"]["requestBody"]
    properties = body["content"]["application/json"]["schema"]["properties"]
    assert "password" not in properties and {"name", "email", "role"} <= set(properties)


def test_changing_the_email_ends_a_pending_reset_link(app, admin_client, new_client,
                                                      staff_user, org):
    new_client().post("/forgot-password", data={"email": staff_user.email})
    link = _link(app, staff_user.id, "PASSWORD_RESET")
    response = admin_client.post(f"/admin/users/{staff_user.id}", headers=HX, data={
        "name": staff_user.name, "email": "sam.new@example.test", "role": "staff",
        "organization_id": str(org.id), "phone": ""})
    assert response.status_code == 200
    assert new_client().get(link).status_code == 404  # mailed to the old address
