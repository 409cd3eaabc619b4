"""One writer per rule: notify()/notify_many() are the only code that creates notification
rows, and every NotificationType, raised through the real code path that raises it,
reaches the delivery plan (an email delivery where the preferences say so)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import (
    CertificateType,
    ContentType,
    CredentialStatus,
    DeliveryChannel,
    MicroCredentialDefinition,
    Notification,
    NotificationDelivery,
    NotificationType,
    Organization,
    Role,
    TrackAudience,
    User,
)
from app.services import (
    accounts,
    certificates,
    credentials,
    notifications,
    renewals,
    sweep,
    teaching,
    training,
)
from app.services import users as user_service
from app.services.context import Actor
from app.services.dates import today
from tests.conftest import QUIZ, answers_scoring

APP = Path(__file__).resolve().parents[2] / "app"
WRITER = APP / "services" / "notifications.py"


def _writes_notifications(tree: ast.AST) -> list[int]:
    """Lines that construct Notification(...), insert into Notification / its table, or
    name the notifications table in an INSERT."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name == "Notification":
                lines.append(node.lineno)
            # insert(Notification), sqlite.insert(Notification.__table__), ...
            if name == "insert" and node.args:
                target = ast.unparse(node.args[0])
                if target.split(".")[0] == "Notification" or "notifications" in target:
                    lines.append(node.lineno)
            # Notification.__table__.insert()
            if name == "insert" and isinstance(func, ast.Attribute) and \
                    ast.unparse(func.value).startswith("Notification"):
                lines.append(node.lineno)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                "insert into notifications" in " ".join(node.value.lower().split()):
            lines.append(node.lineno)
    return lines


def test_only_the_notifications_service_creates_notification_rows() -> None:
    offenders = []
    for path in sorted(APP.rglob("*.py")):
        if path == WRITER or path.parent.name == "models":
            continue
        for line in _writes_notifications(ast.parse(path.read_text(), str(path))):
            offenders.append(f"{path.relative_to(APP.parent)}:{line}")
    assert offenders == [], ("notification rows must be created through "
                             f"notifications.notify()/notify_many(): {offenders}")


def test_the_check_sees_each_way_of_writing_a_row() -> None:
    for source in ("db.session.add(Notification(user_id=1))",
                   "db.session.execute(insert(Notification), rows)",
                   "db.session.execute(Notification.__table__.insert(), rows)",
                   "db.session.execute(text('INSERT INTO notifications (id) VALUES (1)'))"):
        assert _writes_notifications(ast.parse(source)), source
    assert not _writes_notifications(ast.parse("select(Notification.id)"))


def _email_deliveries(user_id: int, type_: NotificationType) -> tuple[int, int]:
    """(notifications, email deliveries) of a type for a user."""
    notes = list(db.session.scalars(select(Notification.id).where(
        Notification.user_id == user_id, Notification.type == type_)))
    emails = db.session.scalars(select(NotificationDelivery.id).where(
        NotificationDelivery.notification_id.in_(notes or [-1]),
        NotificationDelivery.channel == DeliveryChannel.EMAIL)).all()
    return len(notes), len(emails)


@pytest.mark.parametrize("emails_on", [True, False], ids=["prefs-on", "prefs-off"])
def test_every_type_reaches_the_delivery_plan(app: Flask, emails_on: bool) -> None:
    system = Actor.system()
    day = today()
    with app.app_context():
        org = Organization(name="Writers Ltd", slug=f"writers-{int(emails_on)}")
        db.session.add(org)
        db.session.flush()
        # ACCOUNT_INVITATION: create_user without a password; WELCOME: the invitation's
        # link sets the password, then the welcome job (inline, after the commit);
        # PASSWORD_RESET: the reset job's work.
        learner = user_service.create_user(system, email=f"learner{int(emails_on)}@example.test",
                                           name="Lee Learner", role=Role.STAFF,
                                           organization_id=org.id)
        db.session.commit()
        link = db.session.scalar(select(Notification.link).where(
            Notification.user_id == learner.id, Notification.type == NotificationType.ACCOUNT_INVITATION))
        accounts.redeem(link.rsplit("/", 1)[1], "a-brand-new-pass", system)
        db.session.commit()
        accounts.send_reset(learner.email)
        db.session.commit()
        learner = db.session.get(User, learner.id)
        learner.email_compliance = learner.email_training = emails_on
        instructor = User(email=f"teacher{int(emails_on)}@example.test", name="Tia Teacher",
                          role=Role.STAFF, organization_id=org.id)
        db.session.add(instructor)
        db.session.commit()

        # CREDENTIAL_STATUS_CHANGE: assign, then award; CREDENTIAL_EXPIRY: the sweep's
        # reminder for an award expiring within 30 days.
        definition = MicroCredentialDefinition(title="Working at heights", level=4,
                                               issuing_body="RANZ")
        db.session.add(definition)
        db.session.flush()
        (credential,) = credentials.assign(definition, [learner.id], system)
        for step in credentials.ORDER[1:credentials.ORDER.index(CredentialStatus.AWARDED) + 1]:
            credentials.change_status(credential, step, system,
                                      expiry_date=day + timedelta(days=20)
                                      if step == CredentialStatus.AWARDED else None)
        db.session.commit()
        sweep.credential_reminders(day)
        db.session.commit()

        # TRAINING_ASSIGNED: enrolled by someone else; TRAINING_DUE: the sweep, for a
        # project assignment due within 7 days; TRAINING_COMPLETED: the last required
        # course; RECERTIFICATION_REQUIRED: a major version bump.
        track = training.create_track(system, name="Roofing basics",
                                      audience=TrackAudience.CLIENT_EMPLOYEE)
        course = training.create_course(track, system, title="Reading",
                                        content_type=ContentType.TEXT, content_body="Read.",
                                        required=True)
        enrolment = training.enrol(learner, track, system)
        project = training.create_project(system, name="Go-live", organization_id=org.id,
                                          go_live_date=None)
        training.assign_training(project, track, system, due_date=day + timedelta(days=3))
        db.session.commit()
        sweep.training_reminders(day)
        db.session.commit()
        training.complete_course(training.progress_for(enrolment, course), system)
        db.session.commit()
        training.bump_version(track, system, major=True)
        db.session.commit()
        # ATTEMPTS_GRANTED: a quiz failed with its one attempt, then another try given.
        exam = training.create_course(track, system, title="Exam", content_type=ContentType.TEXT,
                                      content_body="Answer.", required=True, has_exam=True,
                                      attempt_limit=1)
        training.save_quiz(exam, QUIZ, system)
        db.session.commit()
        exam_progress = training.progress_for(
            training.find_enrolment(learner.id, track.id), exam)
        training.submit_quiz_attempt(exam_progress, answers_scoring(exam, 0), system)
        db.session.commit()
        training.grant_attempts(exam_progress, system, extra=1, expected_left=0)
        db.session.commit()

        # CERTIFICATE_ISSUED, CERTIFICATE_REVOKED; CERTIFICATE_PENDING: an instructor's
        # recommendation.
        course = db.session.get(type(course), course.id)
        issued = certificates.issue_certificate(system, recipient=learner,
                                                type_=CertificateType.MASTERY, course=course)
        db.session.commit()
        certificates.revoke(issued, system, "Issued in error.")
        certificates.issue_certificate(system, recipient=instructor,
                                       type_=CertificateType.TEACHING, course=course)
        db.session.commit()
        recommended = teaching.recommend(Actor(user=instructor, ip=None), course, learner)
        db.session.commit()
        # CERTIFICATE_REJECTED: the recommendation turned down, with the reason.
        certificates.reject(recommended, system, "Attendance too low.")
        db.session.commit()

        # RENEWAL_INVITATION: a campaign for holders whose track certificate expires soon.
        renewing = training.create_track(system, name="Scaffolding renewals",
                                         audience=TrackAudience.CLIENT_EMPLOYEE)
        certificates.issue_certificate(system, recipient=learner,
                                       type_=CertificateType.COMPLETION, track=renewing,
                                       expires_on=day + timedelta(days=10))
        db.session.commit()
        campaign = renewals.start_campaign(renewing, system, 30)
        db.session.commit()
        renewals.run_campaign(campaign.id)  # inline already; a second run invites nobody
        db.session.commit()

        for type_ in NotificationType:
            raised, emails = _email_deliveries(learner.id, type_)
            assert raised >= 1, f"{type_} was never raised"
            rule = notifications.PREFERENCES[type_].user_email
            expected = rule is notifications.ALWAYS or (
                rule is not notifications.NEVER and emails_on)
            assert (emails == raised) if expected else (emails == 0), (
                f"{type_}: {raised} raised, {emails} email deliveries, expected "
                f"{'one each' if expected else 'none'}")
            for note in db.session.scalars(select(Notification).where(
                    Notification.user_id == learner.id, Notification.type == type_)):
                assert note.delivery.get("email") is expected, type_
