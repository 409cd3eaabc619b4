"""Micro-credential rules: defaults, guards, assignment, the status machine, evidence."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditLog,
    CredentialStatus,
    MicroCredentialDefinition,
    Notification,
    Role,
    StaffMicroCredential,
)
from app.services import credentials as mc
from app.services import sweep
from app.services.context import Actor
from app.services.errors import Conflict, PayloadTooLarge, ValidationFailed

S = CredentialStatus
PDF = b"%PDF-1.7\n...evidence..."
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 32


def _system():
    return Actor.system()


def test_the_three_ranz_defaults_exist_on_a_new_database(app):
    with app.app_context():
        rows = db.session.execute(select(
            MicroCredentialDefinition.title, MicroCredentialDefinition.level,
            MicroCredentialDefinition.skill_standard, MicroCredentialDefinition.issuing_body,
        ).where(MicroCredentialDefinition.is_default).order_by(
            MicroCredentialDefinition.title)).all()
        assert [tuple(r) for r in rows] == [
            ("Compliance Practices Level 4", 4, "NZQA Skill Standard - Compliance Practices", "RANZ"),
            ("Reclad/Reroofing Level 5", 5, "NZQA Skill Standard - Reclad/Reroofing", "RANZ"),
            ("Repairs/Maintenance Level 5", 5, "NZQA Skill Standard - Repairs/Maintenance", "RANZ"),
        ]
        reclad = db.session.scalar(select(MicroCredentialDefinition).where(
            MicroCredentialDefinition.title == "Reclad/Reroofing Level 5"))
        assert reclad.requirements.startswith("Completion of RANZ RoofWright Level 5 assessment "
                                              "for reclad and reroofing projects.")
        assert mc.ensure_default_definitions() == 0  # idempotent


def test_list_is_ordered_by_level_desc_then_title_with_counts(app, make_definition, make_user,
                                                               make_credential):
    low = make_definition("Aardvark handling", level=1)
    make_definition("Zinc roofing", level=9)
    make_credential(low, make_user())
    with app.app_context():
        rows = mc.list_definitions()
        titles = [d.title for d, _ in rows]
        assert titles[0] == "Zinc roofing" and titles[-1] == "Aardvark handling"
        levels = [d.level for d, _ in rows]
        assert levels == sorted(levels, reverse=True)
        assert dict((d.title, n) for d, n in rows)["Aardvark handling"] == 1


def test_defaults_and_assigned_definitions_cannot_be_deleted(app, make_definition, make_user,
                                                             make_credential):
    used = make_definition("Used one")
    make_credential(used, make_user())
    with app.app_context():
        default = db.session.scalar(select(MicroCredentialDefinition).where(
            MicroCredentialDefinition.is_default))
        with pytest.raises(Conflict, match="Default credentials cannot be deleted"):
            mc.delete_definition(default, _system())
        with pytest.raises(Conflict, match="assigned to 1 staff member"):
            mc.delete_definition(db.session.get(MicroCredentialDefinition, used.id), _system())


def test_delete_an_unused_definition_is_audited(app, make_definition):
    spare = make_definition("Spare")
    with app.app_context():
        mc.delete_definition(db.session.get(MicroCredentialDefinition, spare.id), _system())
        db.session.commit()
        assert db.session.get(MicroCredentialDefinition, spare.id) is None
        row = db.session.scalar(select(AuditLog).where(AuditLog.action == "DELETE"))
        assert row.resource_type == "micro_credential_definition" and row.changes["title"] == "Spare"


def test_assign_many_is_all_or_nothing(app, make_definition, make_user, make_credential):
    definition = make_definition()
    a, b, c = make_user(name="Ana"), make_user(name="Ben"), make_user(name="Cai")
    make_credential(definition, b)
    with app.app_context():
        d = db.session.get(MicroCredentialDefinition, definition.id)
        with pytest.raises(Conflict, match="Ben already has"):
            mc.assign(d, [a.id, b.id, c.id], _system())
        db.session.rollback()
        assert db.session.scalar(select(func.count(StaffMicroCredential.id))) == 1
        created = mc.assign(d, [a.id, c.id], _system())
        db.session.commit()
        assert {x.status for x in created} == {S.NOT_STARTED}
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "MCRED_ASSIGN")) == 3


def test_only_active_staff_can_be_assigned(app, make_definition, make_user):
    definition = make_definition()
    manager = make_user(Role.MANAGER)
    gone = make_user(active=False)
    with app.app_context():
        d = db.session.get(MicroCredentialDefinition, definition.id)
        for user in (manager, gone):
            with pytest.raises(ValidationFailed, match="cannot hold credentials"):
                mc.assign(d, [user.id], _system())
        with pytest.raises(ValidationFailed, match="Choose at least one"):
            mc.assign(d, [], _system())
        with pytest.raises(ValidationFailed):
            mc.assign(d, [424242], _system())


def test_concurrent_assignments_make_one_credential(make_app, make_definition, make_user):
    # As in production: on SQLite, anything outside a GET request begins IMMEDIATE.
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    definition = make_definition()
    user = make_user()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def attempt():
        barrier.wait(timeout=30)
        with app.app_context():
            try:
                mc.assign(db.session.get(MicroCredentialDefinition, definition.id), [user.id],
                          _system())
                db.session.commit()
                outcomes.append("ok")
            except Conflict:
                db.session.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    with app.app_context():
        assert db.session.scalar(select(func.count(StaffMicroCredential.id))) == 1


def test_forward_moves_one_step_at_a_time(app, make_definition, make_user, make_credential):
    credential = make_credential(make_definition(), make_user())
    with app.app_context():
        c = mc.get_credential(credential.id)
        with pytest.raises(ValidationFailed, match="cannot move from Not Started to Awarded"):
            mc.change_status(c, S.AWARDED, _system())
        with pytest.raises(ValidationFailed, match="to Expired"):
            mc.change_status(c, S.EXPIRED, _system())
        with pytest.raises(Conflict, match="Already not started"):  # already there: 409
            mc.change_status(c, S.NOT_STARTED, _system())
        mc.change_status(c, S.IN_TRAINING, _system())
        mc.change_status(c, S.ASSESSMENT_PENDING, _system())
        assert c.status == S.ASSESSMENT_PENDING


def test_award_records_who_when_and_expiry_from_validity(app, make_definition, make_user,
                                                         make_credential, admin_user):
    definition = make_definition(validity_months=24)
    credential = make_credential(definition, make_user(), S.ASSESSMENT_PENDING)
    with app.app_context():
        admin = db.session.get(type(mc.get_credential(credential.id).user), admin_user.id)
        c = mc.get_credential(credential.id)
        mc.change_status(c, S.AWARDED, Actor(admin, "10.1.1.1"), today=date(2026, 1, 31))
        db.session.commit()
        assert c.awarded_by_id == admin_user.id and c.awarded_at is not None
        assert c.expiry_date == date(2028, 1, 31)
        award = db.session.scalar(select(AuditLog).where(AuditLog.action == "MCRED_AWARD"))
        assert award.resource_id == str(c.id) and award.actor_id == admin_user.id
        assert award.changes["status"] == ["ASSESSMENT_PENDING", "AWARDED"]


def test_award_with_an_explicit_expiry_and_without_validity(app, make_definition, make_user,
                                                            make_credential):
    explicit = make_credential(make_definition(validity_months=12), make_user(),
                               S.AWARDED, expiry_date=date.today() + timedelta(days=40))
    forever = make_credential(make_definition(), make_user(), S.AWARDED)
    assert explicit.expiry_date == date.today() + timedelta(days=40)
    assert forever.expiry_date is None


def test_add_months_clamps_to_the_end_of_the_month():
    assert mc.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert mc.add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert mc.add_months(date(2026, 12, 15), 12) == date(2027, 12, 15)


def test_moving_back_needs_a_note_and_clears_the_award(app, make_definition, make_user,
                                                       make_credential):
    credential = make_credential(make_definition(validity_months=12), make_user(), S.AWARDED)
    with app.app_context():
        c = mc.get_credential(credential.id)
        with pytest.raises(ValidationFailed, match="A note is needed"):
            mc.change_status(c, S.IN_TRAINING, _system())
        mc.change_status(c, S.IN_TRAINING, _system(), note="Assessment found unsafe practice")
        db.session.commit()
        assert c.status == S.IN_TRAINING
        assert c.awarded_at is None and c.expiry_date is None
        assert "Assessment found unsafe practice" in c.notes


def test_expiry_only_once_the_date_has_come(app, make_definition, make_user, make_credential):
    soon = date.today() + timedelta(days=10)
    credential = make_credential(make_definition(), make_user(), S.AWARDED, expiry_date=soon)
    with app.app_context():
        c = mc.get_credential(credential.id)
        with pytest.raises(ValidationFailed):
            mc.change_status(c, S.EXPIRED, _system(), today=soon - timedelta(days=1))
        assert sweep.expire(soon - timedelta(days=1)).items == 0
        assert sweep.expire(soon).items == 1
        db.session.commit()
        db.session.refresh(c)
        assert c.status == S.EXPIRED
        assert sweep.expire(soon).items == 0  # a second run changes nothing
        assert db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == "MCRED_EXPIRE")) == 1


def test_each_status_change_notifies_the_holder_with_a_delivery_plan(app, make_definition,
                                                                     make_user, make_credential,
                                                                     org):
    holder = make_user(organization=org, phone="+64 21 000 0000", sms_critical=True)
    make_credential(make_definition("Harness"), holder, S.ASSESSMENT_PENDING)
    with app.app_context():
        notes = db.session.scalars(select(Notification).where(
            Notification.user_id == holder.id).order_by(Notification.id)).all()
        assert [n.type for n in notes] == ["CREDENTIAL_STATUS_CHANGE"] * 3  # assign + 2 moves
        assert notes[-1].title == "Harness: Assessment Pending"
        # Seed 001: status changes always email the user (null pref); SMS per sms_critical.
        assert notes[-1].delivery == {"audience": "self", "email": True, "sms": True}
        assert sorted(d.channel for d in notes[-1].deliveries) == ["email", "sms"]


def test_expiry_bands():
    today = date(2026, 6, 1)

    def band(status, days):
        c = StaffMicroCredential(status=status, expiry_date=today + timedelta(days=days))
        return mc.expiry_band(c, today)

    assert band(S.AWARDED, -1) == "expired" and band(S.AWARDED, 0) == "expired"
    assert band(S.AWARDED, 30) == "30" and band(S.AWARDED, 31) == "60"
    assert band(S.AWARDED, 90) == "90" and band(S.AWARDED, 91) is None
    assert band(S.EXPIRED, 400) == "expired" and band(S.IN_TRAINING, 5) is None


@pytest.mark.parametrize("data", [PDF, PNG, JPEG])
def test_evidence_is_accepted_by_content(app, make_definition, make_user, make_credential, data):
    credential = make_credential(make_definition(), make_user())
    with app.app_context():
        c = mc.get_credential(credential.id)
        mc.attach_evidence(c, "../../etc/Certificate\x07.bin", data, _system())
        db.session.commit()
        assert c.evidence_filename == "Certificate.bin"  # path and control chars gone
        assert mc.storage.read(c.evidence_key) == data
        assert "/" in c.evidence_key and "Certificate" not in c.evidence_key


def test_evidence_of_another_type_or_too_large_is_refused(app, make_definition, make_user,
                                                          make_credential):
    credential = make_credential(make_definition(), make_user())
    with app.app_context():
        c = mc.get_credential(credential.id)
        with pytest.raises(ValidationFailed, match="Only PDF, PNG or JPEG"):
            mc.attach_evidence(c, "fake.pdf", b"<html>not a pdf</html>", _system())
        with pytest.raises(ValidationFailed):
            mc.attach_evidence(c, "empty.pdf", b"", _system())
        app.config["EVIDENCE_MAX_BYTES"] = 1024
        with pytest.raises(PayloadTooLarge):
            mc.attach_evidence(c, "big.pdf", PDF + b"0" * 2000, _system())
        assert c.evidence_key is None


def test_replacing_evidence_keeps_the_history(app, make_definition, make_user, make_credential):
    credential = make_credential(make_definition(), make_user())
    with app.app_context():
        c = mc.get_credential(credential.id)
        mc.attach_evidence(c, "first.pdf", PDF, _system())
        first_key = c.evidence_key
        mc.attach_evidence(c, "second.png", PNG, _system())
        db.session.commit()
        uploads = db.session.scalars(select(AuditLog.changes).where(
            AuditLog.resource_id == str(c.id), AuditLog.action == "UPDATE")
            .order_by(AuditLog.seq)).all()
        assert [u["evidence"] for u in uploads] == [[None, "first.pdf"], ["first.pdf", "second.png"]]
        assert uploads[1]["evidence_key"] == [first_key, c.evidence_key]
        assert mc.storage.read(first_key) == PDF  # the earlier file is kept


def test_who_may_see_a_credential(app, make_definition, make_user, make_credential, org,
                                  make_org):
    holder = make_user(organization=org)
    credential = make_credential(make_definition(), holder)
    own_admin = make_user(Role.ORG_ADMIN, org)
    other_admin = make_user(Role.ORG_ADMIN, make_org())
    colleague = make_user(organization=org)
    manager = make_user(Role.MANAGER)
    with app.app_context():
        c = mc.get_credential(credential.id)
        assert mc.can_see(db.session.get(type(c.user), holder.id), c)
        assert mc.can_see(db.session.get(type(c.user), own_admin.id), c)
        assert not mc.can_see(db.session.get(type(c.user), other_admin.id), c)
        assert not mc.can_see(db.session.get(type(c.user), colleague.id), c)
        assert not mc.can_see(db.session.get(type(c.user), manager.id), c)
