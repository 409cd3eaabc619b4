"""The daily sweep: expiry reminders once, catch-up, expiries, certificates, training due."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from app.extensions import db
from app.jobs import sweep as sweep_job
from app.models import (
    AuditAction,
    AuditLog,
    Certificate,
    CredentialStatus,
    Notification,
    NotificationType,
    ReminderClaim,
    Role,
    StaffMicroCredential,
    SweepRun,
)

TODAY = date(2027, 1, 10)


def _notifications(app: Flask, type_: str | None = None) -> list[tuple[int, str, str | None]]:
    with app.app_context():
        stmt = select(Notification.user_id, Notification.title, Notification.dedupe_key)
        if type_:
            stmt = stmt.where(Notification.type == type_)
        return [tuple(row) for row in db.session.execute(stmt.order_by(Notification.id))]


def _awarded(make_credential: Callable[..., Any], definition: Any, user: Any,
             expires: date) -> Any:
    return make_credential(definition, user, CredentialStatus.AWARDED, expiry_date=expires)


@pytest.fixture
def people(make_user: Callable[..., Any], org: Any) -> dict[str, Any]:
    return {"holder": make_user(Role.STAFF, org, name="Hemi Holder"),
            "admin1": make_user(Role.ORG_ADMIN, org, name="Olive Orgadmin"),
            "admin2": make_user(Role.ORG_ADMIN, org, name="Otto Orgadmin"),
            "inactive_admin": make_user(Role.ORG_ADMIN, org, name="Gone", active=False)}


def test_reminder_goes_to_holder_and_org_admins_once(
        app: Flask, people: dict[str, Any], make_definition: Callable[..., Any],
        make_credential: Callable[..., Any]) -> None:
    credential = _awarded(make_credential, make_definition("Reroofing"), people["holder"],
                          TODAY + timedelta(days=90))
    with app.app_context():
        first = sweep_job.run(TODAY)
        second = sweep_job.run(TODAY)
    assert sum(r.sent for r in first) == 3 and sum(r.sent for r in second) == 0
    sent = _notifications(app, NotificationType.CREDENTIAL_EXPIRY)
    assert sorted(uid for uid, _, _ in sent) == sorted(
        [people["holder"].id, people["admin1"].id, people["admin2"].id])
    holder_titles = [t for uid, t, _ in sent if uid == people["holder"].id]
    assert holder_titles == ["Reroofing expires within 90 days"]
    with app.app_context():
        keys = list(db.session.scalars(select(ReminderClaim.key)))
    assert keys == [f"mcred:{credential.id}:{TODAY + timedelta(days=90)}:90"]


def test_each_threshold_once_as_days_pass(app: Flask, people: dict[str, Any],
                                          make_definition: Callable[..., Any],
                                          make_credential: Callable[..., Any]) -> None:
    expires = TODAY + timedelta(days=95)
    _awarded(make_credential, make_definition(), people["holder"], expires)
    with app.app_context():
        for offset in range(0, 100):  # every day until after the expiry
            sweep_job.run(TODAY + timedelta(days=offset))
    titles = [t for uid, t, _ in _notifications(app, NotificationType.CREDENTIAL_EXPIRY)
              if uid == people["holder"].id]
    assert [t.rsplit(" ", 2)[-2] for t in titles] == ["90", "60", "30"]
    with app.app_context():
        first_days = [c.as_of for c in db.session.scalars(
            select(ReminderClaim).order_by(ReminderClaim.id))]
    assert first_days == [expires - timedelta(days=d) for d in (90, 60, 30)]
    # ...and on its date it expired, once, with the holder and org admins told.
    changes = _notifications(app, NotificationType.CREDENTIAL_STATUS_CHANGE)
    assert len([c for c in changes if "expired" in c[1].lower()]) == 3


def test_missed_days_send_only_the_latest_reminder(
        app: Flask, people: dict[str, Any], make_definition: Callable[..., Any],
        make_credential: Callable[..., Any]) -> None:
    _awarded(make_credential, make_definition(), people["holder"], TODAY + timedelta(days=59))
    with app.app_context():
        results = sweep_job.run(TODAY)
    titles = [t for uid, t, _ in _notifications(app, NotificationType.CREDENTIAL_EXPIRY)
              if uid == people["holder"].id]
    assert titles == [titles[0]] and "60 days" in titles[0]
    assert sum(r.sent for r in results) == 3


def test_credentials_beyond_90_days_or_not_awarded_get_nothing(
        app: Flask, people: dict[str, Any], make_definition: Callable[..., Any],
        make_credential: Callable[..., Any]) -> None:
    _awarded(make_credential, make_definition(), people["holder"], TODAY + timedelta(days=91))
    make_credential(make_definition(), people["holder"], CredentialStatus.IN_TRAINING)
    with app.app_context():
        assert sum(r.sent for r in sweep_job.run(TODAY)) == 0


def test_expiry_on_the_date_is_audited_and_told(app: Flask, people: dict[str, Any],
                                                make_definition: Callable[..., Any],
                                                make_credential: Callable[..., Any]) -> None:
    credential = _awarded(make_credential, make_definition("Repairs"), people["holder"], TODAY)
    with app.app_context():
        sweep_job.run(TODAY)
        sweep_job.run(TODAY)
        assert db.session.get(StaffMicroCredential, credential.id).status == CredentialStatus.EXPIRED
        expiries = db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_EXPIRE))
    assert expiries == 1
    changes = _notifications(app, NotificationType.CREDENTIAL_STATUS_CHANGE)
    told = [uid for uid, title, _ in changes if "xpired" in title]
    assert sorted(told) == sorted([people["holder"].id, people["admin1"].id,
                                   people["admin2"].id])


def test_renewed_credential_is_reminded_again(app: Flask, people: dict[str, Any],
                                              make_definition: Callable[..., Any],
                                              make_credential: Callable[..., Any]) -> None:
    credential = _awarded(make_credential, make_definition(), people["holder"],
                          TODAY + timedelta(days=20))
    with app.app_context():
        sweep_job.run(TODAY)
        row = db.session.get(StaffMicroCredential, credential.id)
        row.expiry_date = TODAY + timedelta(days=25)  # renewed: a new date
        db.session.commit()
        assert sum(r.sent for r in sweep_job.run(TODAY)) == 3


def test_certificate_reminders(app: Flask, people: dict[str, Any], make_track: Callable[..., Any],
                               issue: Callable[..., Any]) -> None:
    certificate = issue(people["holder"], track=make_track())
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = TODAY + timedelta(days=30)
        db.session.commit()
        results = {r.name: r for r in sweep_job.run(TODAY)}
        again = sweep_job.run(TODAY)
    assert results["certificate_reminders"].sent == 3 and sum(r.sent for r in again) == 0
    holder = [t for uid, t, _ in _notifications(app, NotificationType.CREDENTIAL_EXPIRY)
              if uid == people["holder"].id]
    assert holder == [f"Certificate {certificate.number} expires within 30 days"]


def test_reminders_say_what_they_said_when_written_in_python(
        app: Flask, people: dict[str, Any], make_track: Callable[..., Any],
        issue: Callable[..., Any], make_definition: Callable[..., Any],
        make_credential: Callable[..., Any]) -> None:
    """The reminders' texts, keys, plans and dry-run lines are made in SQL now: the same
    words as the f-strings that made them in Python (dates as '09 February 2027')."""
    certificate = issue(people["holder"], track=make_track())
    credential = _awarded(make_credential, make_definition("Reroofing"), people["holder"],
                          TODAY + timedelta(days=60))
    expiry = TODAY + timedelta(days=30)  # 2027-02-09
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = expiry
        db.session.commit()
        number, subject = row.number, (row.snapshot or {}).get("subject") or row.number
        results = {r.name: r for r in sweep_job.run(TODAY)}
        notes = {n.dedupe_key: n for n in db.session.scalars(select(Notification))}
    holder, admin1, admin2 = people["holder"], people["admin1"], people["admin2"]
    key = f"cert:{certificate.id}:{expiry}:30"
    assert notes[key].title == f"Certificate {number} expires within 30 days"
    assert notes[key].body == (f"Your {subject} certificate ({number}) expires on "
                               "09 February 2027. Re-certify before then to stay current.")
    assert (notes[key].user_id, notes[key].link) == (holder.id, "/me")
    assert notes[key].delivery == {"audience": "self", "email": True, "sms": False}
    org_note = notes[f"{key}:org:{admin1.id}"]
    assert org_note.title == f"Hemi Holder: certificate {number} expires within 30 days"
    assert org_note.body == (f"Hemi Holder's {subject} certificate ({number}) expires on "
                             "09 February 2027.")
    assert (org_note.user_id, org_note.link, org_note.delivery["audience"]) == (
        admin1.id, "/org", "org")
    assert results["certificate_reminders"].lines == [
        f" 30-day  certificate {number} {subject} of Hemi Holder (expires {expiry}) -> holder",
        f" 30-day  certificate {number} {subject} of Hemi Holder -> org admin #{admin1.id}",
        f" 30-day  certificate {number} {subject} of Hemi Holder -> org admin #{admin2.id}"]
    mkey = f"mcred:{credential.id}:{TODAY + timedelta(days=60)}:60"
    assert (notes[mkey].title, notes[mkey].body) == (
        "Reroofing expires within 60 days",
        "Your Reroofing credential expires on 11 March 2027. Arrange renewal before then.")
    assert notes[f"{mkey}:org:{admin2.id}"].body == (
        "Hemi Holder's Reroofing credential expires on 11 March 2027.")
    assert results["credential_reminders"].lines[0] == (
        f" 60-day  credential #{credential.id} Reroofing of Hemi Holder "
        f"(expires {TODAY + timedelta(days=60)}) -> holder")


def test_dry_run_lists_exactly_what_a_run_sends_and_changes_nothing(
        app: Flask, people: dict[str, Any], make_definition: Callable[..., Any],
        make_credential: Callable[..., Any]) -> None:
    _awarded(make_credential, make_definition(), people["holder"], TODAY + timedelta(days=10))
    _awarded(make_credential, make_definition(), people["holder"], TODAY)
    with app.app_context():
        dry = sweep_job.run(TODAY, dry_run=True)
        assert db.session.scalar(select(func.count()).select_from(ReminderClaim)) == 0
        assert db.session.scalar(select(func.count()).select_from(SweepRun)) == 0
        real = sweep_job.run(TODAY)
        runs = list(db.session.scalars(select(SweepRun)))
    assert [r.lines for r in dry] == [r.lines for r in real]
    assert sum(r.sent for r in dry) == sum(r.sent for r in real) == 6
    assert runs[0].status == "done" and runs[0].sent == 6


def test_keys_and_dry_run_lines_write_dates_as_iso_whatever_the_datestyle(
        make_app: Callable[..., Flask], people: dict[str, Any],
        make_definition: Callable[..., Any], make_credential: Callable[..., Any]) -> None:
    """PostgreSQL casts a date to text by the session's DateStyle ('09/02/2027' under
    'SQL, DMY'): the claim keys (exactly once across runs) and the dry-run lines must
    read the same on every server (ISO, as SQLite has it)."""
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    dmy = make_app(SQLALCHEMY_ENGINE_OPTIONS={
        "pool_pre_ping": True,
        "connect_args": {"options": "-c DateStyle=SQL,DMY"}}) if postgres else make_app()
    expiry = TODAY + timedelta(days=30)
    credential = _awarded(make_credential, make_definition("Reroofing"), people["holder"],
                          expiry)
    with dmy.app_context():
        if postgres:
            assert db.session.scalar(text("SHOW DateStyle")) == "SQL, DMY"
        dry = {r.name: r.lines for r in sweep_job.run(TODAY, dry_run=True)}
        sweep_job.run(TODAY)
        keys = set(db.session.scalars(select(ReminderClaim.key)))
    assert dry["credential_reminders"][0] == (
        f" 30-day  credential #{credential.id} Reroofing of Hemi Holder "
        f"(expires {expiry.isoformat()}) -> holder")
    assert keys == {f"mcred:{credential.id}:{expiry.isoformat()}:30"}


def test_training_due_and_overdue(app: Flask, people: dict[str, Any], org: Any,
                                  make_track: Callable[..., Any]) -> None:
    from app.models import ImplementationProject, TrainingAssignment
    from app.services import training
    from app.services.context import Actor

    track = make_track("Go-live basics")
    with app.app_context():
        project = ImplementationProject(name="Launch", organization_id=org.id,
                                        go_live_date=TODAY + timedelta(days=30))
        db.session.add(project)
        db.session.flush()
        assignment = TrainingAssignment(project_id=project.id, track_id=track.id,
                                        required_completions=1, due_date=TODAY + timedelta(days=7))
        db.session.add(assignment)
        training.enrol(db.session.get(type(people["holder"]), people["holder"].id),
                       db.session.get(type(track), track.id), Actor.system())
        db.session.commit()
        due_soon = {r.name: r for r in sweep_job.run(TODAY)}["training_reminders"]
        again = {r.name: r for r in sweep_job.run(TODAY + timedelta(days=3))}["training_reminders"]
        overdue = {r.name: r for r in sweep_job.run(TODAY + timedelta(days=9))}["training_reminders"]
        later = {r.name: r for r in sweep_job.run(TODAY + timedelta(days=20))}["training_reminders"]
    # The learner and both active org admins, once per band.
    assert (due_soon.sent, again.sent, overdue.sent, later.sent) == (3, 0, 3, 0)
    due = _notifications(app, NotificationType.TRAINING_DUE)
    assert [t for uid, t, _ in due if uid == people["holder"].id] == [
        "Go-live basics training due within 7 days", "Go-live basics training overdue"]


def test_concurrent_sweeps_send_once(app: Flask, make_app: Callable[..., Flask],
                                     people: dict[str, Any],
                                     make_definition: Callable[..., Any],
                                     make_credential: Callable[..., Any]) -> None:
    """Three sweeps at once (PostgreSQL: really concurrent; SQLite serializes writers
    with BEGIN IMMEDIATE, as the CLI and workers do)."""
    worker_app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    for days in (5, 40, 80):
        _awarded(make_credential, make_definition(), people["holder"], TODAY + timedelta(days=days))
    _awarded(make_credential, make_definition(), people["holder"], TODAY)
    barrier = threading.Barrier(3)
    totals: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            with worker_app.app_context():
                barrier.wait()
                totals.append(sum(r.sent for r in sweep_job.run(TODAY)))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(totals)[-1] >= 0 and sum(totals) == 12
    keys = [key for _, _, key in _notifications(app) if key]
    assert len(keys) == len(set(keys))
    assert len(_notifications(app, NotificationType.CREDENTIAL_EXPIRY)) == 9


def test_deliveries_whose_job_was_lost_are_queued_again(app: Flask, people: dict[str, Any]
                                                         ) -> None:
    """A delivery still `queued` an hour on (Redis was down at commit) is sent by the
    next sweep; a fresh one is left to its own job; a sent one is never sent again."""
    from app.models import DeliveryStatus, NotificationDelivery
    from app.models.base import utcnow

    with app.app_context():
        rows = {}
        for name, status, age in (("lost", DeliveryStatus.QUEUED, timedelta(hours=3)),
                                  ("fresh", DeliveryStatus.QUEUED, timedelta(minutes=5)),
                                  ("sent", DeliveryStatus.SENT, timedelta(hours=3))):
            notification = Notification(user_id=people["holder"].id, title=name,
                                        type=NotificationType.WELCOME)
            delivery = NotificationDelivery(notification=notification, channel="email",
                                            address="holder@example.test", status=status,
                                            created_at=utcnow() - age)
            db.session.add(delivery)
            db.session.flush()
            rows[name] = delivery.id
        db.session.commit()
        stale = {r.name: r for r in sweep_job.run(TODAY)}["stale_deliveries"]
        statuses = {name: db.session.get(NotificationDelivery, i).status
                    for name, i in rows.items()}
    # Jobs run inline here: the lost one is sent (logged: no mail server) at once.
    assert stale.items == 1 and stale.sent == 0
    assert statuses == {"lost": DeliveryStatus.LOGGED, "fresh": DeliveryStatus.QUEUED,
                        "sent": DeliveryStatus.SENT}
