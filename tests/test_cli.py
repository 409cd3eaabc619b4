"""Commands: seed, users create-token, audit verify."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import ApiToken, AuditLog, Organization, User
from app.seed import DEMO_LOGINS, DEMO_PASSWORD


def test_seed_demo_is_idempotent_and_prints_logins(app, new_client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "--demo"])
    assert first.exit_code == 0, first.output
    for email, _ in DEMO_LOGINS:
        assert email in first.output
    second = runner.invoke(args=["seed", "--demo"])
    assert second.exit_code == 0 and "(0 new records)" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Organization.id))) == 1
        org = db.session.scalar(select(Organization))
        assert org.name == "Demo Roofing Ltd"
        assert db.session.scalar(select(func.count(User.id))) >= 6
    for email, _ in DEMO_LOGINS:
        new_client().login(email, DEMO_PASSWORD)


def test_create_token_prints_a_working_token_stored_hashed(app, client, staff_user):
    result = app.test_cli_runner().invoke(args=["users", "create-token", staff_user.email])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("cw_") and len(token) > 40
    with app.app_context():
        stored = db.session.scalar(select(ApiToken))
        assert stored.token_hash != token and token not in stored.token_hash
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["email"] == staff_user.email


def test_create_token_for_unknown_email_fails(app):
    result = app.test_cli_runner().invoke(args=["users", "create-token", "ghost@example.test"])
    assert result.exit_code != 0 and "No user" in result.output


def test_audit_verify_passes_then_fails_on_an_edited_row(app, staff_client):
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    with app.app_context():
        first_id = db.session.scalar(select(AuditLog.id).order_by(AuditLog.seq))
        db.session.execute(update(AuditLog).where(AuditLog.id == first_id)
                           .values(ip_address="6.6.6.6"))
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"id={first_id} seq=1" in broken.output


def test_credentials_expire_command_is_idempotent(app, make_definition, make_user,
                                                  make_credential):
    from datetime import date, timedelta

    from app.models import CredentialStatus, StaffMicroCredential

    expiry = date.today() + timedelta(days=5)
    credential = make_credential(make_definition(), make_user(), CredentialStatus.AWARDED,
                                 expiry_date=expiry)
    runner = app.test_cli_runner()
    early = runner.invoke(args=["credentials", "expire", "--date", date.today().isoformat()])
    assert early.exit_code == 0 and "Expired 0 credential(s)" in early.output
    due = runner.invoke(args=["credentials", "expire", "--date", expiry.isoformat()])
    assert "Expired 1 credential(s)" in due.output
    again = runner.invoke(args=["credentials", "expire", "--date", expiry.isoformat()])
    assert "Expired 0 credential(s)" in again.output
    with app.app_context():
        assert db.session.get(StaffMicroCredential, credential.id).status == CredentialStatus.EXPIRED
