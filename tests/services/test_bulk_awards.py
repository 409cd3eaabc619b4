"""Bulk award of micro-credentials from a CSV, and the direct award it uses: each row's
verdict by the award's rules, confirm once, award by the job (inline here), the same file
twice awards nothing twice, a job that dies midway resumes, two workers decide each row
once (PostgreSQL), and hostile files are refused with a message naming the problem."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.jobs.bulk import process_bulk_import
from app.models import (
    AuditAction,
    AuditLog,
    BulkImport,
    BulkImportRow,
    CredentialStatus,
    ImportStatus,
    MicroCredentialDefinition,
    Notification,
    Organization,
    Role,
    StaffMicroCredential,
    User,
)
from app.services import credentials as mc
from app.services.bulk import awards as bulk
from app.services.bulk import certificates as pipeline
from app.services.context import Actor
from app.services.credentials.awards import award_directly
from app.services.dates import add_months, today
from app.services.errors import AlreadyDone, NotFound, PayloadTooLarge, ValidationFailed

HEADER = "email,name,organization,definition,award_date,expiry,notes\n"
S = CredentialStatus


def _actor(user_id: int) -> Actor:
    return Actor(user=db.session.get(User, user_id))


def upload(admin: User, text: str | bytes, filename: str = "awards.csv") -> int:
    data = text.encode() if isinstance(text, str) else text
    item = bulk.preview(_actor(admin.id), io.BytesIO(data), filename)
    db.session.commit()
    return item.id


def verdicts(import_id: int) -> dict[int, tuple[str, str | None]]:
    return {r.line: (r.status.value, r.message) for r in db.session.scalars(
        select(BulkImportRow).where(BulkImportRow.import_id == import_id))}


def _confirm(admin: User, text: str, **options: Any) -> int:
    import_id = upload(admin, text)
    bulk.confirm(db.session.get(BulkImport, import_id), _actor(admin.id), **options)
    db.session.commit()  # the job runs inline after the commit
    db.session.expire_all()
    return import_id


def _held(user: User, definition: Any) -> StaffMicroCredential | None:
    return db.session.scalar(select(StaffMicroCredential).where(
        StaffMicroCredential.user_id == user.id,
        StaffMicroCredential.definition_id == definition.id))


@pytest.fixture
def world(app: Any, make_user: Any, make_org: Any, org: Any, make_definition: Any,
          make_credential: Any) -> dict[str, Any]:
    gutters = make_definition("Gutter Work", validity_months=24)
    forever = make_definition("Site Safety")  # no validity: never expires
    dead_org = make_org("Closed Ltd")
    people = {
        "admin": make_user(Role.ADMIN),
        "ana": make_user(organization=org, email="ana@example.test", name="Ana"),
        "bo": make_user(organization=org, email="bo@example.test", name="Bo"),
        "cy": make_user(organization=org, email="cy@example.test", name="Cy"),
        "held": make_user(organization=org, email="held@example.test", name="Held"),
        "gone": make_user(organization=dead_org, email="gone@example.test", name="Gone"),
        "boss": make_user(Role.MANAGER, email="boss@example.test", name="Boss"),
    }
    make_credential(gutters, people["held"], S.AWARDED)
    make_credential(gutters, people["bo"], S.IN_TRAINING)
    with app.app_context():
        db.session.get(Organization, dead_org.id).active = False
        db.session.commit()
    return {"gutters": gutters, "forever": forever, "org": org, **people}


def _good_and_bad() -> str:
    last_year = (today() - timedelta(days=365)).isoformat()
    return (
        HEADER
        + "ana@example.test,,,Gutter Work,,,Assessed on site\n"              # 2 ready
        + f"BO@example.test,,,gutter work,{last_year},,\n"                    # 3 ready (skips)
        + "cy@example.test,,,Gutter Work,31/02/2026,,\n"                      # 4 bad date
        + "cy@example.test,,,Welding,,,\n"                                    # 5 unknown
        + "new@example.test,New Person,,Site Safety,,,\n"                     # 6 invite
        + "gone@example.test,,,Gutter Work,,,\n"                              # 7 org off
        + "held@example.test,,,Gutter Work,,,\n"                              # 8 held, valid
        + "ana@example.test,,,Gutter Work,,,Assessed on site\n"              # 9 same as 2
        + "ana@example.test,,,Gutter Work,2026-01-05,,\n"                     # 10 same award
        + "cy@example.test,,,Gutter Work,2019-01-01,,\n"                      # 11 expired
        + "cy@example.test,,,Site Safety,2019-06-01,2020-01-01,\n"            # 12 expiry past
        + "boss@example.test,,,Site Safety,,,\n"                              # 13 a manager
        + f"cy@example.test,,,Site Safety,{(today() + timedelta(days=3)).isoformat()},,\n"
    )


def test_preview_checks_each_row_with_the_award_rules(app, world):
    with app.app_context():
        lines = verdicts(upload(world["admin"], _good_and_bad()))
    assert lines[2] == ("READY", None) and lines[3] == ("READY", None)
    assert lines[4][0] == "INVALID" and "31/02/2026" in lines[4][1]
    assert lines[5] == ("INVALID", "Unknown micro-credential 'Welding'.")
    assert lines[6][0] == "INVITE" and "new@example.test" in lines[6][1]
    assert lines[7][0] == "INVALID" and "Closed Ltd is deactivated" in lines[7][1]
    assert lines[8][0] == "DUPLICATE" and "already holds Gutter Work" in lines[8][1]
    assert lines[9] == ("DUPLICATE", "The same as line 2.")
    assert lines[10][0] == "INVALID" and "Line 2 awards the same" in lines[10][1]
    assert lines[11][0] == "INVALID" and "expired on" in lines[11][1]
    assert lines[12][0] == "INVALID" and "expiry date has passed" in lines[12][1]
    assert lines[13][0] == "INVALID" and "only staff and org admins" in lines[13][1]
    assert lines[14][0] == "INVALID" and "award date cannot be in the future" in lines[14][1]


def test_a_definition_is_found_by_its_code_or_number(app, world):
    with app.app_context():
        reclad = db.session.scalar(select(MicroCredentialDefinition).where(
            MicroCredentialDefinition.title == "Reclad/Reroofing Level 5"))
        text = (HEADER + f"ana@example.test,,,{reclad.default_key.upper()},,,\n"
                + f"cy@example.test,,,{world['forever'].id},,,\n")
        lines = verdicts(upload(world["admin"], text))
    assert lines == {2: ("READY", None), 3: ("READY", None)}


def test_confirm_awards_the_ready_rows_and_the_report_says_what_happened(app, world):
    with app.app_context():
        import_id = _confirm(world["admin"], _good_and_bad())
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE
        assert bulk.counts(item)["ISSUED"] == 2 and bulk.counts(item)["PENDING"] == 0
        ana = _held(world["ana"], world["gutters"])
        assert ana.status == S.AWARDED and ana.awarded_by_id == world["admin"].id
        assert ana.expiry_date == add_months(today(), 24)  # the definition's validity
        assert "Assessed on site" in ana.notes
        bo = _held(world["bo"], world["gutters"])  # IN_TRAINING, awarded directly
        last_year = today() - timedelta(days=365)
        assert bo.status == S.AWARDED and bo.awarded_at.date() == last_year
        assert bo.expiry_date == add_months(last_year, 24)  # from the award date
        awards = db.session.scalars(select(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_AWARD,
            AuditLog.resource_id.in_([str(ana.id), str(bo.id), ana.id, bo.id]))).all()
        assert len(awards) == 2 and all(a.changes.get("direct") for a in awards)
        told = db.session.scalars(select(Notification.title).where(
            Notification.user_id.in_([world["ana"].id, world["bo"].id]))).all()
        assert told.count("Gutter Work: Awarded") == 2
        report = "".join(bulk.report_lines(item)).splitlines()
        assert report[0] == "line,email,micro_credential,award_date,expiry,result,message"
        assert report[1].startswith(f"2,ana@example.test,Gutter Work,,"
                                    f"{ana.expiry_date.isoformat()},Awarded,\"Awarded, valid until")
        assert "Problem" in report[3] and "Already awarded" in report[7]
        assert len(report) == 14


def test_the_same_file_twice_awards_nothing_twice(app, world):
    with app.app_context():
        first = _confirm(world["admin"], _good_and_bad())
        audits = db.session.scalar(select(func.count()).select_from(AuditLog))
        second = upload(world["admin"], _good_and_bad(), "awards (1).csv")
        lines = verdicts(second)
        assert lines[2] == ("DUPLICATE", f"Already awarded by import #{first}.")
        assert lines[3] == ("DUPLICATE", f"Already awarded by import #{first}.")
        with pytest.raises(ValidationFailed, match="Nothing to award"):
            bulk.confirm(db.session.get(BulkImport, second), _actor(world["admin"].id))
        db.session.rollback()
        # The same rows in a file whose keys differ (another note) still award nothing:
        # the award itself refuses a credential awarded and valid.
        third = upload(world["admin"], HEADER + "ana@example.test,,,Gutter Work,,,Other\n")
        assert verdicts(third)[2][0] == "DUPLICATE"
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_AWARD)) == 3  # 2 + make_credential's 1
        assert db.session.scalar(select(func.count()).select_from(AuditLog)) == audits  # a preview writes no audit row


def test_a_row_awards_again_once_its_credential_has_expired(app, world):
    row = HEADER + "ana@example.test,,,Gutter Work,,,\n"
    with app.app_context():
        first = _confirm(world["admin"], row)
        credential = _held(world["ana"], world["gutters"])
        credential.expiry_date = today() - timedelta(days=1)  # the sweep would expire it
        db.session.commit()
        second = _confirm(world["admin"], row)
        assert verdicts(second)[2] == ("ISSUED", verdicts(second)[2][1])
        assert db.session.scalar(select(BulkImportRow.done_key).where(
            BulkImportRow.import_id == first)) is None  # released for the new award
        assert _held(world["ana"], world["gutters"]).expiry_date == add_months(today(), 24)


def test_unknown_people_are_invited_when_the_admin_chooses(app, world):
    text = HEADER + "new@example.test,New Person,Acme Roofing,Site Safety,,,\n"
    with app.app_context():
        import_id = _confirm(world["admin"], text, invite_unknown=True)
        assert verdicts(import_id)[2][0] == "ISSUED"
        person = db.session.scalar(select(User).where(User.email == "new@example.test"))
        assert person.organization_id == world["org"].id and person.role == Role.STAFF
        held = _held(person, world["forever"])
        assert held.status == S.AWARDED and held.expiry_date is None


def test_confirming_twice_queues_one_job(app, world):
    with app.app_context():
        import_id = _confirm(world["admin"], _good_and_bad())
        with pytest.raises(AlreadyDone, match="confirmed already"):
            bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))


def test_kinds_do_not_mix(app, world):
    with app.app_context():
        import_id = upload(world["admin"], HEADER + "ana@example.test,,,Gutter Work,,,\n")
        with pytest.raises(NotFound):
            pipeline.get_import(import_id)  # not a certificates import
        assert bulk.get_import(import_id).kind == "awards"
        assert [i.id for i in bulk.recent_imports()] == [import_id]
        assert pipeline.recent_imports() == []


def _six(make_user: Any, org: Any) -> tuple[list[User], str]:
    people = [make_user(organization=org, email=f"p{i}@example.test") for i in range(6)]
    return people, HEADER + "".join(f"{p.email},,,Gutter Work,,,\n" for p in people)


def test_a_job_that_dies_midway_fails_and_resume_goes_on(app, world, make_user, org,
                                                         monkeypatch):
    people, text = _six(make_user, org)
    monkeypatch.setattr(pipeline, "COMMIT_EVERY", 2)
    real = pipeline.process_batch
    calls = {"n": 0}

    def dies_at_the_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "process_batch", dies_at_the_second_batch)
    with app.app_context():
        import_id = _confirm(world["admin"], text)  # inline: the last try, so FAILED
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.FAILED
        assert item.error == "Stopped after 2 of 6 rows (RuntimeError)."
        assert bulk.counts(item)["ISSUED"] == 2 and bulk.counts(item)["PENDING"] == 4
    monkeypatch.setattr(pipeline, "process_batch", real)
    with app.app_context():
        bulk.resume(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.commit()  # the job again, inline
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE and bulk.counts(item)["ISSUED"] == 6
        assert process_bulk_import(import_id)["status"] == "skipped"
        assert db.session.scalar(select(func.count()).select_from(StaffMicroCredential).where(
            StaffMicroCredential.user_id.in_([p.id for p in people]),
            StaffMicroCredential.status == S.AWARDED)) == 6


def test_a_credential_awarded_by_hand_meanwhile_is_skipped(app, world):
    text = HEADER + "cy@example.test,,,Site Safety,,,\n"
    with app.app_context():
        import_id = upload(world["admin"], text)
        assert verdicts(import_id)[2][0] == "READY"
        award_directly(_actor(world["admin"].id), user=db.session.get(User, world["cy"].id),
                       definition=db.session.get(MicroCredentialDefinition,
                                                 world["forever"].id))
        db.session.commit()
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.commit()
        status, message = verdicts(import_id)[2]
        assert status == "SKIPPED" and "already holds Site Safety" in message


def test_award_directly_refuses_what_the_rules_refuse(app, world):
    with app.app_context():
        actor = _actor(world["admin"].id)
        gutters = db.session.get(MicroCredentialDefinition, world["gutters"].id)
        held = db.session.get(User, world["held"].id)
        with pytest.raises(AlreadyDone, match="already holds"):
            award_directly(actor, user=held, definition=gutters)
        with pytest.raises(ValidationFailed, match="future"):
            award_directly(actor, user=db.session.get(User, world["cy"].id), definition=gutters,
                           awarded_on=today() + timedelta(days=1))
        with pytest.raises(ValidationFailed, match="after the award date"):
            award_directly(actor, user=db.session.get(User, world["cy"].id), definition=gutters,
                           awarded_on=date(2026, 1, 5), expires_on=date(2026, 1, 5))
        with pytest.raises(ValidationFailed, match="deactivated"):
            award_directly(actor, user=db.session.get(User, world["gone"].id),
                           definition=gutters)
        db.session.rollback()
        assert _held(world["cy"], world["gutters"]) is None  # nothing half-made


def test_an_expired_credential_is_renewed_by_a_direct_award(app, world):
    with app.app_context():
        actor = _actor(world["admin"].id)
        credential = _held(world["held"], world["gutters"])
        credential.expiry_date = today()
        mc.change_status(credential, S.EXPIRED, actor)
        db.session.commit()
        award_directly(actor, user=db.session.get(User, world["held"].id),
                       definition=db.session.get(MicroCredentialDefinition, world["gutters"].id),
                       expires_on=today() + timedelta(days=100))
        db.session.commit()
        renewed = _held(world["held"], world["gutters"])
        assert renewed.status == S.AWARDED and renewed.expiry_date == today() + timedelta(100)


def refusal(admin: User, data: bytes) -> str:
    with pytest.raises((ValidationFailed, PayloadTooLarge)) as caught:
        bulk.preview(_actor(admin.id), io.BytesIO(data), "bad.csv")
    db.session.rollback()
    return caught.value.message


def test_hostile_files_get_clear_messages(app, world):
    with app.app_context():
        admin = world["admin"]
        assert "missing column: definition" in refusal(admin, b"email,salary\na@b.test,1\n")
        latin = (HEADER + "ana@example.test,Zoë,,Gutter Work,,,\n").encode("latin-1")
        assert "not UTF-8" in refusal(admin, latin)
        many = HEADER.encode() + b"ana@example.test,,,Gutter Work,,,\n" * 100_000
        app.config["BULK_MAX_BYTES"] = 50 * 1024 * 1024
        assert "more than 10,000 rows" in refusal(admin, many)
        app.config["BULK_MAX_BYTES"] = 1024 * 1024
        wide = HEADER.encode() + ("ana@example.test,,,Gutter Work,,," + "n" * 1999
                                  + "\n").encode() * 600
        assert "larger than 1 MB" in refusal(admin, wide)
        assert db.session.scalar(select(func.count()).select_from(BulkImport)) == 0


def test_formula_cells_are_neutralised_in_the_report(app, world):
    with app.app_context():
        import_id = upload(world["admin"], HEADER + '=HYPERLINK("http://x"),,,'
                           "+SUM(A1),@cmd,-2+3,\n")
        report = "".join(bulk.report_lines(db.session.get(BulkImport, import_id)))
    assert "'=hyperlink" in report and "'+SUM(A1)" in report
    assert ",=" not in report and ",+" not in report and ",@" not in report


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="a race of two workers: PostgreSQL (SQLite has one writer)")
def test_two_runs_at_once_award_each_row_once(app, world, make_user, org, monkeypatch):
    """Two runs of one import at once: each row is awarded by one of them."""
    import threading

    people = [make_user(organization=org, email=f"r{i}@example.test") for i in range(12)]
    text = HEADER + "".join(f"{p.email},,,Gutter Work,,,\n" for p in people)
    with app.app_context():
        import_id = upload(world["admin"], text)
        monkeypatch.setattr(pipeline, "_queue", lambda item: None)
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id),
                     notify_recipients=False)
        db.session.commit()
    monkeypatch.undo()
    monkeypatch.setattr(pipeline, "COMMIT_EVERY", 3)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def run() -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                results.append(process_bulk_import(import_id))
            except BaseException as exc:  # noqa: BLE001 - reported below
                results.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, dict) for r in results), results
    with app.app_context():
        assert [s for s, _ in verdicts(import_id).values()] == ["ISSUED"] * 12
        assert sum(r.get("issued", 0) for r in results) == 12
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_AWARD)) == 13  # 12 + the fixture's one


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="a race of two requests: PostgreSQL (SQLite has one writer)")
def test_two_admins_awarding_at_once_award_once(app, world):
    """Two direct awards of one credential at once: one is made, the other AlreadyDone."""
    import threading

    barrier = threading.Barrier(2)
    results: list[Any] = []

    def run() -> None:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                award_directly(_actor(world["admin"].id),
                               user=db.session.get(User, world["bo"].id),
                               definition=db.session.get(MicroCredentialDefinition,
                                                         world["gutters"].id))
                db.session.commit()
                results.append("awarded")
            except Exception as exc:  # noqa: BLE001 - counted below
                db.session.rollback()
                results.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["AlreadyDone", "awarded"], results
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == AuditAction.MCRED_AWARD)) == 2  # the fixture's and one


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="row locks and deadlock detection: PostgreSQL")
def test_a_batch_and_a_move_of_one_of_its_people_never_deadlock(app, world, make_org,
                                                                make_definition, monkeypatch):
    """A batch awarding Ana then Cy while an admin moves Cy to another organization, 3
    times. The first award is slowed after its audit row (the batch holds the audit
    head); the move starts meanwhile (Cy's row, Cy's credentials, then the head). With
    the batch locking Cy only at Cy's row, every round deadlocked; holding the batch's
    people first (Kind.hold), the move waits for the batch and its organization reaches
    the credential just awarded."""
    import time

    from app.services import users as user_service
    from tests.services.test_certificate_lock_order import _at_once, _deadlocks, _slow_in

    monkeypatch.setattr(pipeline, "_queue", lambda item: None)  # the thread runs the job
    _slow_in("awarder", bulk, "award_directly", monkeypatch, after=True)
    deadlocks = _deadlocks(app)
    orgs = [world["org"].id, make_org("Other Ltd").id]
    for round_ in range(3):
        with app.app_context():
            title = make_definition(f"Ladder Work {round_}").title
            import_id = upload(world["admin"], HEADER + f"ana@example.test,,,{title},,,\n"
                               f"cy@example.test,,,{title},,,\n")
            bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id),
                         notify_recipients=False)
            db.session.commit()
        destination = orgs[(round_ + 1) % 2]

        def move(to: int = destination) -> None:
            time.sleep(0.15)  # once the batch holds the head, while its first award sleeps
            user_service.update_user(db.session.get(User, world["cy"].id),
                                     _actor(world["admin"].id), organization_id=to)

        errors = _at_once(app, {"awarder": lambda i=import_id: process_bulk_import(i),
                                "mover": move})
        assert (errors, deadlocks) == ([], [])
        with app.app_context():
            assert [s for s, _ in verdicts(import_id).values()] == ["ISSUED", "ISSUED"]
            # The move came second: Cy's credentials, the new one too, count for it.
            assert set(db.session.scalars(select(StaffMicroCredential.organization_id).where(
                StaffMicroCredential.user_id == world["cy"].id))) == {destination}
