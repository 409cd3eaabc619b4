"""Commands: seed, users create-token, audit verify."""

from __future__ import annotations

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import ApiToken, AuditLog, Notification, Organization, User
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


# --- jobs sweep ---------------------------------------------------------------------------

def _sweep_data(make_user, make_org, make_definition, make_credential):
    """As of 2027-01-10: one credential expiring in 10 days and one expiring that day, for
    a holder with one org admin: 2 reminders + 2 expiry notices."""
    from datetime import date, timedelta

    from app.models import CredentialStatus, Role

    as_of = date(2027, 1, 10)
    org = make_org()
    holder = make_user(Role.STAFF, org, name="Hemi Holder")
    admin = make_user(Role.ORG_ADMIN, org, name="Olive Orgadmin")
    soon = make_credential(make_definition("Roof Safety"), holder, CredentialStatus.AWARDED,
                           expiry_date=as_of + timedelta(days=10))
    make_credential(make_definition("Ladders"), holder, CredentialStatus.AWARDED,
                    expiry_date=as_of)
    return as_of, holder, admin, soon


def _sweep_state(app):
    from app.models import (
        CredentialStatus,
        Notification,
        ReminderClaim,
        StaffMicroCredential,
        SweepRun,
    )

    with app.app_context():
        return (db.session.scalar(select(func.count(Notification.id))),
                db.session.scalar(select(func.count(ReminderClaim.id))),
                db.session.scalar(select(func.count(SweepRun.id))),
                db.session.scalar(select(func.count(StaffMicroCredential.id)).where(
                    StaffMicroCredential.status == CredentialStatus.EXPIRED)))


def test_jobs_sweep_dry_run_lists_what_it_would_send_and_changes_nothing(
        app, make_user, make_org, make_definition, make_credential):
    as_of, holder, admin, soon = _sweep_data(make_user, make_org, make_definition,
                                             make_credential)
    before = _sweep_state(app)
    result = app.test_cli_runner().invoke(
        args=["jobs", "sweep", "--dry-run", "--date", as_of.isoformat()])
    assert result.exit_code == 0, result.output
    lines = result.output.rstrip("\n").split("\n")
    assert lines[-1] == "would send: 4"
    assert "== expire: 2 notification(s), 1 item(s)" in lines
    assert "== credential_reminders: 2 notification(s), 1 item(s)" in lines
    body = [line for line in lines[:-1] if not line.startswith("== ")]
    assert len(body) == 4
    assert sum(line.startswith("expire ") for line in body) == 2
    assert sum(line.startswith("credential_reminders ") for line in body) == 2
    assert any(f"credential #{soon.id} Roof Safety of Hemi Holder" in line and "-> holder" in line
               and "30-day" in line for line in body)
    assert any(f"-> org admin #{admin.id}" in line and "Roof Safety" in line for line in body)
    assert _sweep_state(app) == before  # no notifications, claims, runs or expiries
    assert before[1:] == (0, 0, 0)


def test_jobs_sweep_prints_a_bounded_sample_per_phase_unless_asked_for_all(
        app, make_user, make_org, make_definition, make_credential, monkeypatch):
    import app.cli as cli

    as_of, *_ = _sweep_data(make_user, make_org, make_definition, make_credential)
    monkeypatch.setattr(cli, "SWEEP_SAMPLE", 1)
    runner = app.test_cli_runner()
    args = ["jobs", "sweep", "--dry-run", "--date", as_of.isoformat()]
    sampled = runner.invoke(args=args).output.rstrip("\n").split("\n")
    assert [line for line in sampled if line.startswith("expire ")][1:] == [
        "expire                 ... and 1 more (--list-all lists every one)"]
    assert sum("-> " in line for line in sampled) == 2  # one of each phase's two
    every = runner.invoke(args=[*args, "--list-all"]).output
    assert every.count("-> ") == 4 and "more (--list-all" not in every


def test_jobs_sweep_sends_then_sends_nothing_the_second_time(
        app, make_user, make_org, make_definition, make_credential):
    as_of, holder, admin, _ = _sweep_data(make_user, make_org, make_definition,
                                          make_credential)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["jobs", "sweep", "--dry-run", "--date", as_of.isoformat()])
    notifications_before = _sweep_state(app)[0]
    first = runner.invoke(args=["jobs", "sweep", "--date", as_of.isoformat()])
    assert first.exit_code == 0, first.output
    lines = first.output.rstrip("\n").split("\n")
    assert lines[-1] == "sent: 4"
    assert lines[:-1] == dry.output.rstrip("\n").split("\n")[:-1]  # what the dry run listed
    notifications, claims, runs, expired = _sweep_state(app)
    assert (notifications - notifications_before, claims, runs, expired) == (4, 1, 1, 1)
    second = runner.invoke(args=["jobs", "sweep", "--date", as_of.isoformat()])
    assert second.exit_code == 0, second.output
    assert second.output == "sent: 0\n"
    assert _sweep_state(app) == (notifications, claims, 2, expired)


def test_jobs_sweep_with_a_bad_date_is_a_usage_error(app):
    for bad in ("2027-13-01", "10/01/2027", "tomorrow"):
        result = app.test_cli_runner().invoke(args=["jobs", "sweep", "--date", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "--date" in result.output and "YYYY-MM-DD" in result.output
    with app.app_context():
        from app.models import SweepRun
        assert db.session.scalar(select(func.count(SweepRun.id))) == 0


def _expiry_data(app, make_user, make_org, make_definition, make_credential):
    """Named people and credentials (the same each time): two due, one not yet, one
    holder with an org admin and one internal holder."""
    from datetime import date, timedelta

    from app.models import CredentialStatus, Role

    as_of = date(2027, 3, 1)
    org = make_org("Expiry Org", slug="expiry-org")
    holder = make_user(Role.STAFF, org, name="Hana Holder", email="hana@example.test")
    make_user(Role.ORG_ADMIN, org, name="Oscar Orgadmin", email="oscar@example.test")
    internal = make_user(Role.STAFF, None, name="Ian Internal", email="ian@example.test")
    for title, who, expiry in (("Scaffolds", holder, as_of), ("Ladders", internal,
                                                             as_of - timedelta(days=3)),
                               ("Harness", holder, as_of + timedelta(days=1))):
        make_credential(make_definition(title), who, CredentialStatus.AWARDED,
                        expiry_date=expiry)
    with app.app_context():
        marks = (db.session.scalar(select(func.max(AuditLog.seq))),
                 db.session.scalar(select(func.max(Notification.id))))
    return as_of, marks


def _expiry_outcome(app, marks):
    """What changed after `marks`: credential statuses, notifications and expiry audit
    rows, named by people and titles (not ids)."""
    from app.models import (
        MicroCredentialDefinition,
        NotificationDelivery,
        NotificationType,
        StaffMicroCredential,
    )

    seq, notification_id = marks
    with app.app_context():
        titles = dict(db.session.execute(
            select(StaffMicroCredential.id, MicroCredentialDefinition.title)
            .join(MicroCredentialDefinition)).all())
        names = dict(db.session.execute(select(User.id, User.name)).all())
        statuses = sorted((titles[c.id], names[c.user_id], c.status.value) for c in
                          db.session.scalars(select(StaffMicroCredential)))
        notices = sorted(
            (names[n.user_id], n.type, n.title, n.body, n.link, sorted(n.delivery.items()),
             sorted(str(d.channel) for d in db.session.scalars(
                 select(NotificationDelivery).where(
                     NotificationDelivery.notification_id == n.id))))
            for n in db.session.scalars(select(Notification).where(
                Notification.id > (notification_id or 0),
                Notification.type != NotificationType.CREDENTIAL_EXPIRY)))  # reminders
        audits = sorted((a.action, a.resource_type, titles[int(a.resource_id)], str(a.changes),
                         a.actor_id) for a in db.session.scalars(select(AuditLog).where(
                             AuditLog.seq > (seq or 0), AuditLog.action == "MCRED_EXPIRE")))
    return statuses, notices, audits


def test_credentials_expire_command_and_the_sweep_expire_alike(
        app, make_user, make_org, make_definition, make_credential):
    """Identical data, once through `credentials expire` and once through the daily
    sweep: the same rows expire, with the same notifications and audit rows."""
    from tests.conftest import _empty_database

    outcomes = []
    for command in ("credentials expire", "jobs sweep"):
        as_of, marks = _expiry_data(app, make_user, make_org, make_definition,
                                    make_credential)
        result = app.test_cli_runner().invoke(
            args=[*command.split(), "--date", as_of.isoformat()])
        assert result.exit_code == 0, result.output
        outcomes.append(_expiry_outcome(app, marks))
        with app.app_context():
            _empty_database()
    command, swept = outcomes
    assert command == swept
    statuses, notices, audits = command
    assert [s for s in statuses if s[2] == "EXPIRED"] == [
        ("Ladders", "Ian Internal", "EXPIRED"), ("Scaffolds", "Hana Holder", "EXPIRED")]
    assert {n[0] for n in notices} == {"Hana Holder", "Ian Internal", "Oscar Orgadmin"}
    assert len(notices) == 3 and len(audits) == 2
