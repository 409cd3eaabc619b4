"""A credential's notes stay bounded (credentials/status.py add_note): each noted move
and direct award stamps a line; past NOTES_MAX the oldest lines give way to the newest,
the first line says so, and the audit trail keeps every note."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import AuditAction, AuditLog, CredentialStatus, StaffMicroCredential, User
from app.services.context import Actor
from app.services.credentials.awards import award_directly
from app.services.credentials.status import NOTES_MAX, NOTES_TRIMMED, add_note

TODAY = date(2026, 12, 1)


def test_notes_append_whole_until_the_cap_then_drop_the_oldest() -> None:
    actor = Actor.system()
    notes = add_note("Assigned for the Wellington crew", "first", actor, TODAY)
    assert notes == "Assigned for the Wellington crew\n[2026-12-01 system] first"
    for i in range(200):
        notes = add_note(notes, f"renewal {i:03d} " + "x" * 60, actor, TODAY)
        assert len(notes) <= NOTES_MAX
    lines = notes.split("\n")
    assert lines[0] == NOTES_TRIMMED and lines.count(NOTES_TRIMMED) == 1
    assert lines[-1].startswith("[2026-12-01 system] renewal 199 ")
    assert "renewal 000" not in notes and "Wellington" not in notes
    numbers = [int(line.split()[3]) for line in lines[1:]]
    assert numbers == list(range(numbers[0], 200))  # the newest, in order, none cut
    assert len(notes) > NOTES_MAX - 100  # as many as fit


def test_a_note_longer_than_the_cap_alone_is_cut() -> None:
    notes = add_note("older", "y" * (NOTES_MAX * 2), Actor.system(), TODAY)
    assert len(notes) == NOTES_MAX
    assert notes.startswith(NOTES_TRIMMED + "\n[2026-12-01 system] yyy") and notes.endswith("…")


def test_a_direct_award_onto_full_notes_keeps_them_bounded_and_audits_the_note(
        app: Any, org: Any, make_user: Any, make_definition: Any, make_credential: Any) -> None:
    person = make_user(name="Rua Renewal", organization=org)
    definition = make_definition("Working at Heights")
    credential = make_credential(definition, person, CredentialStatus.IN_TRAINING)
    with app.app_context():
        row = db.session.get(StaffMicroCredential, credential.id)
        row.notes = "\n".join(f"[2020-01-01 admin@example.test] old note {i}"
                              for i in range(200))[:NOTES_MAX]
        db.session.flush()
        award_directly(Actor.system(), user=db.session.get(User, person.id),
                       definition=row.definition, note="Assessed on site by Mere")
        db.session.flush()
        assert len(row.notes) <= NOTES_MAX
        assert row.notes.split("\n")[0] == NOTES_TRIMMED
        assert row.notes.endswith("] Assessed on site by Mere")
        audited = db.session.scalars(select(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_AWARD,
            AuditLog.resource_type == "staff_micro_credential",
            AuditLog.resource_id == str(credential.id))).all()
        assert [a.changes["note"] for a in audited] == ["Assessed on site by Mere"]
        db.session.rollback()
