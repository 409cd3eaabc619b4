"""Bulk issue from a CSV: each row's verdict by the direct issue's rules, confirm once,
issue by the job (inline here), the same file twice issues nothing twice, a job that dies
midway resumes, and hostile files are refused with a message naming the problem."""

from __future__ import annotations

import io
import logging
import os
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.jobs import bulk as bulk_job
from app.jobs.bulk import process_bulk_import
from app.models import (
    BulkImport,
    BulkImportRow,
    Certificate,
    CertificateStatus,
    Course,
    ImportStatus,
    Organization,
    Role,
    User,
)
from app.models.base import utcnow
from app.services import users as user_service
from app.services.bulk import certificates as bulk
from app.services.bulk.csvfile import FORMULA_STARTS, safe_cell
from app.services.certificates.lifecycle import revoke
from app.services.context import Actor
from app.services.dates import today
from app.services.errors import AlreadyDone, PayloadTooLarge, ValidationFailed

HEADER = "email,name,organization,course,track,type,issue_date,expiry,notes\n"


def _actor(user_id: int) -> Actor:
    return Actor(user=db.session.get(User, user_id))


def upload(admin: User, text: str | bytes, filename: str = "cohort.csv") -> int:
    data = text.encode() if isinstance(text, str) else text
    item = bulk.preview(_actor(admin.id), io.BytesIO(data), filename)
    db.session.commit()
    return item.id


def verdicts(import_id: int) -> dict[int, tuple[str, str | None]]:
    return {r.line: (r.status.value, r.message) for r in db.session.scalars(
        select(BulkImportRow).where(BulkImportRow.import_id == import_id))}


@pytest.fixture
def world(app: Any, make_user: Any, make_track: Any, make_org: Any, org: Any,
          issue: Any) -> dict[str, Any]:
    track = make_track("Roofing Fundamentals")
    other = make_track("Gutters")
    dead_org = make_org("Closed Ltd")
    people = {
        "admin": make_user(Role.ADMIN),
        "ana": make_user(organization=org, email="ana@example.test", name="Ana"),
        "bo": make_user(organization=org, email="bo@example.test", name="Bo"),
        "cy": make_user(organization=org, email="cy@example.test", name="Cy"),
        "held": make_user(organization=org, email="held@example.test", name="Held"),
        "gone": make_user(organization=dead_org, email="gone@example.test", name="Gone"),
    }
    issue(people["held"], track=track)
    with app.app_context():
        archived = db.session.get(Course, other.courses[0].id)
        archived.archived_at = utcnow()
        db.session.get(Organization, dead_org.id).active = False
        db.session.commit()
    return {"track": track, "other": other, "org": org, **people}


GOOD_AND_BAD = (
    HEADER
    + "ana@example.test,,,,Roofing Fundamentals,completion,,,Cohort 1\n"      # 2 ready
    + "BO@example.test,,,Reading,Roofing Fundamentals,mastery,2026-01-05,,\n"  # 3 ready
    + "cy@example.test,,,,Roofing Fundamentals,completion,31/02/2026,,\n"      # 4 bad date
    + "cy@example.test,,,Welding,,completion,,,\n"                             # 5 unknown
    + "cy@example.test,,,Reading,Gutters,completion,,,\n"                      # 6 archived
    + "new@example.test,New Person,,,Roofing Fundamentals,completion,,,\n"     # 7 invite
    + "gone@example.test,,,,Roofing Fundamentals,completion,,,\n"              # 8 org off
    + "held@example.test,,,,Roofing Fundamentals,completion,,,\n"              # 9 live one
    + "ana@example.test,,,,Roofing Fundamentals,completion,,,Cohort 1\n"      # 10 same as 2
    + "cy@example.test,,,,Roofing Fundamentals,diploma,,,\n"                   # 11 bad type
    + "cy@example.test,,,,Roofing Fundamentals,completion,,2020-01-01,\n"      # 12 expiry
)


def test_preview_checks_each_row_with_the_issue_rules(app, world):
    with app.app_context():
        lines = verdicts(upload(world["admin"], GOOD_AND_BAD))
    assert lines[2] == ("READY", None) and lines[3] == ("READY", None)
    assert lines[4][0] == "INVALID" and "31/02/2026" in lines[4][1]
    assert lines[5] == ("INVALID", "Unknown course 'Welding'.")
    assert lines[6][0] == "INVALID" and "archived" in lines[6][1]
    assert lines[7][0] == "INVITE" and "new@example.test" in lines[7][1]
    assert lines[8][0] == "INVALID" and "Closed Ltd is deactivated" in lines[8][1]
    assert lines[9][0] == "DUPLICATE" and "already has this certificate" in lines[9][1]
    assert lines[10] == ("DUPLICATE", "The same as line 2.")
    assert lines[11][0] == "INVALID" and "diploma" in lines[11][1]
    assert lines[12][0] == "INVALID" and "expiry date must be after" in lines[12][1]


def test_an_address_the_users_form_refuses_is_refused_on_its_row(app, world):
    rows = ["not-an-email@", "a b@c.test", "@SUM(1+1)", "ana@@example.test"]
    text = HEADER + "".join(f"{e},,Acme Ltd,,Roofing Fundamentals,completion,,,\n"
                            for e in rows)
    with app.app_context():
        lines = verdicts(upload(world["admin"], text))
        assert all(status == "INVALID" and "is not a valid email address" in message
                   for status, message in lines.values()), lines
        assert db.session.scalar(select(func.count(User.id)).where(
            User.email.in_([e.lower() for e in rows]))) == 0


def test_an_account_in_another_organization_than_the_file_says_is_refused(app, world,
                                                                        make_org):
    make_org("Rival Roofing")
    text = (HEADER + "ana@example.test,,Rival Roofing,,Roofing Fundamentals,completion,,,\n"
            + "bo@example.test,,No Such Ltd,,Roofing Fundamentals,completion,,,\n"
            + "cy@example.test,,ACME ROOFING,,Roofing Fundamentals,completion,,,\n")
    with app.app_context():
        lines = verdicts(upload(world["admin"], text))
    assert lines[2][0] == "INVALID" and "not in an organization named 'Rival" in lines[2][1]
    assert lines[3][0] == "INVALID" and "No Such Ltd" in lines[3][1]
    assert lines[4] == ("READY", None)


def test_confirm_issues_the_ready_rows_and_the_report_says_what_happened(app, world):
    with app.app_context():
        import_id = upload(world["admin"], GOOD_AND_BAD)
        item = db.session.get(BulkImport, import_id)
        bulk.confirm(item, _actor(world["admin"].id))
        db.session.commit()  # the job runs inline after the commit
        db.session.expire_all()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE
        counts = bulk.counts(item)
        assert counts["ISSUED"] == 2 and counts["PENDING"] == 0
        issued = list(db.session.scalars(select(Certificate).join(
            BulkImportRow, BulkImportRow.certificate_id == Certificate.id)
            .where(BulkImportRow.import_id == import_id).order_by(Certificate.id)))
        assert [c.status for c in issued] == [CertificateStatus.ISSUED] * 2
        assert issued[0].notes == "Cohort 1"
        assert issued[1].issued_at.date().isoformat() == "2026-01-05"
        assert all(c.pdf_key for c in issued)  # the PDF job ran too
        report = "".join(bulk.report_lines(item)).splitlines()
        assert report[0] == "line,email,course,track,type,result,message,certificate"
        assert report[1].startswith("2,ana@example.test,,Roofing Fundamentals,COMPLETION,Issued")
        assert issued[0].number in report[1]
        assert "Problem" in report[3] and len(report) == 12


def test_the_same_file_twice_issues_nothing_twice(app, world):
    with app.app_context():
        first = upload(world["admin"], GOOD_AND_BAD)
        bulk.confirm(db.session.get(BulkImport, first), _actor(world["admin"].id))
        db.session.commit()
        before = db.session.scalar(select(func.count()).select_from(Certificate))
        second = upload(world["admin"], GOOD_AND_BAD, "cohort (1).csv")
        lines = verdicts(second)
        assert lines[2] == ("DUPLICATE", f"Already issued by import #{first}.")
        assert lines[3] == ("DUPLICATE", f"Already issued by import #{first}.")
        with pytest.raises(ValidationFailed, match="Nothing to issue"):
            bulk.confirm(db.session.get(BulkImport, second), _actor(world["admin"].id))
        assert db.session.scalar(select(func.count()).select_from(Certificate)) == before


def test_confirming_twice_queues_one_job(app, world):
    with app.app_context():
        import_id = upload(world["admin"], GOOD_AND_BAD)
        item = db.session.get(BulkImport, import_id)
        bulk.confirm(item, _actor(world["admin"].id))
        db.session.commit()
        with pytest.raises(AlreadyDone, match="confirmed already"):
            bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))


def _six(make_user: Any, org: Any) -> tuple[list[User], str]:
    people = [make_user(organization=org, email=f"p{i}@example.test") for i in range(6)]
    return people, HEADER + "".join(f"{p.email},,,,Roofing Fundamentals,completion,,,\n"
                                    for p in people)


def _confirm(world: dict[str, Any], text: str, **options: Any) -> int:
    import_id = upload(world["admin"], text)
    bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id), **options)
    db.session.commit()  # the job runs inline after the commit
    db.session.expire_all()
    return import_id


def test_a_job_that_dies_midway_fails_and_resume_goes_on(app, world, make_user, org,
                                                         monkeypatch):
    people, text = _six(make_user, org)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    real = bulk.process_batch
    calls = {"n": 0}

    def dies_at_the_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "process_batch", dies_at_the_second_batch)
    with app.app_context():
        import_id = _confirm(world, text)  # inline: the last try, so it is FAILED
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.FAILED
        assert item.error == "Stopped after 2 of 6 rows (RuntimeError)."
        assert bulk.progress(item)["finished"] and bulk.progress(item)["failed"]
        assert bulk.counts(item)["ISSUED"] == 2 and bulk.counts(item)["PENDING"] == 4
    monkeypatch.setattr(bulk, "process_batch", real)
    with app.app_context():
        item = db.session.get(BulkImport, import_id)
        bulk.resume(item, _actor(world["admin"].id))
        db.session.commit()  # the job again, inline
        with pytest.raises(AlreadyDone):  # a second click: nothing queued twice
            bulk.resume(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.rollback()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE and item.error is None
        assert bulk.counts(item)["ISSUED"] == 6 and item.attempts == 2
        assert process_bulk_import(import_id)["status"] == "skipped"  # done: nothing more
        assert db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.recipient_id.in_([p.id for p in people]))) == 6


def test_a_try_with_retries_left_goes_back_to_queued(app, world, make_user, org,
                                                     monkeypatch):
    _, text = _six(make_user, org)
    monkeypatch.setattr(bulk_job, "_last_attempt", lambda: False)
    monkeypatch.setattr(bulk, "process_batch", lambda *a, **k: 1 / 0)
    with app.app_context():
        item = db.session.get(BulkImport, _confirm(world, text))
        assert item.status == ImportStatus.QUEUED and "Trying again" in item.error
        assert not bulk.progress(item)["finished"]  # RQ tries again: still polling


def test_a_row_raising_an_unexpected_error_fails_alone(app, world, make_user, org,
                                                       monkeypatch, caplog):
    people, text = _six(make_user, org)
    real = bulk._request  # both the batch and the row-by-row path ask it

    def signing_breaks_for_p2(row, recipient, item):
        if row.data["email"] == "p2@example.test":
            raise RuntimeError("PDF queue down")
        return real(row, recipient, item)

    # The batch is undone and goes row by row: p2 alone fails.
    monkeypatch.setattr(bulk, "_request", signing_breaks_for_p2)
    with app.app_context():
        import_id = _confirm(world, text)
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE and item.finished_at is not None
        lines = verdicts(import_id)
        assert lines[4] == ("FAILED", bulk.UNEXPECTED)
        assert [lines[n][0] for n in (2, 3, 5, 6, 7)] == ["ISSUED"] * 5
    assert "PDF queue down" in caplog.text  # logged with its traceback


def test_a_run_failing_for_good_beside_another_that_finishes_leaves_the_import_done(
        app, world, make_user, org, monkeypatch):
    """BULK_RUNS jobs: run A fails on its last try (`stopped`: FAILED, "Stopped after 0 of
    6 rows") while run B, which began before, goes on and does every row: the import is
    DONE with no error, not FAILED with nothing pending."""
    people, text = _six(make_user, org)
    monkeypatch.setattr(bulk, "_queue", lambda item: None)  # the runs are driven here
    with app.app_context():
        import_id = _confirm(world, text)
        item, _reason = bulk.begin(import_id)  # both runs have begun
        db.session.commit()
        bulk.stopped(import_id, RuntimeError("worker killed"), last_attempt=True)  # run A
        db.session.commit()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.FAILED and bulk.counts(item)["PENDING"] == 6
        actor = bulk.import_actor(item)  # run B goes on
        did: Counter[str] = Counter(issued=0, skipped=0, failed=0)
        after = 0
        while (last := bulk.process_batch(item, actor, did, after)) is not None:
            db.session.commit()
            after = last
        assert bulk.finish(item)
        db.session.commit()
        item = db.session.get(BulkImport, import_id)
        assert (item.status, item.error, bulk.counts(item)["ISSUED"]) == (
            ImportStatus.DONE, None, 6)


def test_a_stale_running_import_shows_failed_and_resumes(app, world, make_user, org,
                                                        monkeypatch):
    _, text = _six(make_user, org)
    with app.app_context():
        import_id = upload(world["admin"], text)
        item = db.session.get(BulkImport, import_id)
        monkeypatch.setattr(bulk, "_queue", lambda item: None)  # the job is lost
        bulk.confirm(item, _actor(world["admin"].id))
        db.session.commit()
        item.status = ImportStatus.RUNNING
        item.heartbeat_at = utcnow() - timedelta(minutes=2)
        db.session.commit()
        assert not bulk.progress(item)["finished"]  # beating 2 minutes ago: still alive
        with pytest.raises(AlreadyDone):
            bulk.resume(item, _actor(world["admin"].id))
        db.session.rollback()
        item = db.session.get(BulkImport, import_id)
        item.heartbeat_at = utcnow() - bulk.STALE_AFTER - timedelta(seconds=5)
        db.session.commit()
        shown = bulk.progress(item)
        assert shown["finished"] and shown["failed"] and "worker stopped" in shown["error"]
        assert item.status == ImportStatus.RUNNING  # reading writes nothing
        monkeypatch.undo()
        bulk.resume(item, _actor(world["admin"].id))
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(BulkImport, import_id).status == ImportStatus.DONE
        assert bulk.counts(db.session.get(BulkImport, import_id))["ISSUED"] == 6


def test_the_job_refuses_an_admin_who_can_no_longer_act(app, world, make_user, org):
    _, text = _six(make_user, org)
    other = make_user(Role.ADMIN)
    with app.app_context():
        import_id = upload(world["admin"], text)
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.get(User, world["admin"].id).role = Role.MANAGER  # demoted meanwhile
        db.session.commit()
        db.session.expire_all()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.FAILED and item.error == bulk.NOT_ADMIN
        assert bulk.counts(item)["PENDING"] == 6 and bulk.counts(item)["ISSUED"] == 0
        bulk.resume(item, _actor(other.id))  # another admin takes it on
        db.session.commit()
        db.session.expire_all()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE and bulk.counts(item)["ISSUED"] == 6
        assert item.confirmed_by_id == other.id


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
                    reason="a race of two workers: PostgreSQL (SQLite has one writer)")
def test_two_runs_at_once_decide_each_row_once(app, world, make_user, org, monkeypatch):
    """Two runs of one import at once (a retry while the first still runs): each row is
    issued by one of them and no ISSUED row is overwritten (really concurrent on PG)."""
    import threading

    people = [make_user(organization=org, email=f"r{i}@example.test") for i in range(12)]
    text = HEADER + "".join(f"{p.email},,,,Roofing Fundamentals,completion,,,\n"
                            for p in people)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 3)
    with app.app_context():
        import_id = upload(world["admin"], text)
        item = db.session.get(BulkImport, import_id)
        monkeypatch.setattr(bulk, "_queue", lambda item: None)
        bulk.confirm(item, _actor(world["admin"].id), notify_recipients=False)
        db.session.commit()
    monkeypatch.undo()
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 3)
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
        lines = verdicts(import_id)
        assert [status for status, _ in lines.values()] == ["ISSUED"] * 12, lines
        assert db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.recipient_id.in_([p.id for p in people]))) == 12
        assert sum(r.get("issued", 0) for r in results) == 12
        assert db.session.get(BulkImport, import_id).status == ImportStatus.DONE


def test_a_row_issues_again_once_its_certificate_is_revoked(app, world):
    row = HEADER + "ana@example.test,,,,Roofing Fundamentals,completion,,,\n"
    with app.app_context():
        first = _confirm(world, row)
        second = upload(world["admin"], row)
        dup = db.session.scalar(select(BulkImportRow).where(BulkImportRow.import_id == second))
        assert dup.status.value == "DUPLICATE" and dup.issued_by_import_id == first
        issued = db.session.scalar(select(BulkImportRow).where(
            BulkImportRow.import_id == first))
        revoke(db.session.get(Certificate, issued.certificate_id), _actor(world["admin"].id),
               "Issued in error")
        db.session.commit()
        third = _confirm(world, row)
        assert verdicts(third)[2][0] == "ISSUED"
        again = db.session.scalar(select(BulkImportRow).where(BulkImportRow.import_id == third))
        assert db.session.get(Certificate, again.certificate_id).live_key is not None
        db.session.refresh(issued)
        assert issued.done_key is None and issued.status.value == "ISSUED"


def test_an_invite_taken_by_another_import_issues_to_that_account(app, world, monkeypatch):
    real = user_service.create_user

    def the_other_import_was_first(actor, **values):
        real(actor, **values)  # the other import's invitation, a moment earlier
        return real(actor, **values)  # ours: Conflict, email taken

    monkeypatch.setattr(user_service, "create_user", the_other_import_was_first)
    with app.app_context():
        import_id = _confirm(world, HEADER + "late@example.test,Late,,,Roofing Fundamentals,"
                             "completion,,,\n", invite_unknown=True)
        assert verdicts(import_id)[2][0] == "ISSUED"
        user = db.session.scalar(select(User).where(User.email == "late@example.test"))
        assert db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.recipient_id == user.id)) == 1


def test_a_clean_batch_is_issued_set_based_without_falling_back(app, world, make_user, org,
                                                                caplog):
    # The row-by-row fallback gives the same outcomes, so only its absence shows that the
    # set-based batch did the work (and numbered six certificates in one call).
    people, text = _six(make_user, org)
    with app.app_context(), caplog.at_level(logging.INFO, logger=bulk.log.name):
        import_id = _confirm(world, text)
        assert [v[0] for v in verdicts(import_id).values()] == ["ISSUED"] * 6
    assert not [r for r in caplog.records if "row by row" in r.getMessage()]
    with app.app_context():
        numbers = db.session.scalars(select(Certificate.number).join(
            BulkImportRow, BulkImportRow.certificate_id == Certificate.id)
            .where(BulkImportRow.import_id == import_id)).all()
        assert len(set(numbers)) == 6


def test_a_refused_row_leaves_no_invited_account_behind(app, world, monkeypatch):
    # The set-based batch invites unknown people before it issues; a row refused after
    # its invitation must take the account (and its invitation) back with it.
    real = bulk._request

    def refused_for_the_newcomer(row, recipient, item):
        if recipient.email == "new@example.test":
            raise ValidationFailed("The course was archived after the preview.")
        return real(row, recipient, item)

    monkeypatch.setattr(bulk, "_request", refused_for_the_newcomer)
    with app.app_context():
        import_id = _confirm(world, HEADER + "ana@example.test,,,,Roofing Fundamentals,"
                             "completion,,,\nnew@example.test,New Person,,,Roofing "
                             "Fundamentals,completion,,,\n", invite_unknown=True)
        found = verdicts(import_id)
        assert found[2][0] == "ISSUED" and found[3] == (
            "FAILED", "The course was archived after the preview.")
        assert db.session.scalar(select(User).where(User.email == "new@example.test")) is None


def test_the_admins_own_row_leaves_them_in_the_session(app, world):
    with app.app_context():
        actor = _actor(world["admin"].id)
        email = actor.user.email
        bulk.preview(actor, io.BytesIO((HEADER + f"{email},,,,Roofing Fundamentals,"
                                        "completion,,,\n").encode()), "me.csv")
        assert actor.user in db.session  # current_user stays usable (not detached)
        assert actor.user.email == email
        db.session.rollback()


def test_bulk_limits_come_from_the_environment(tmp_path):
    from app.config import ConfigError, load_config

    config = load_config(str(tmp_path), {"APP_ENV": "test", "BULK_MAX_ROWS": "200",
                                         "BULK_MAX_BYTES": "65536"})
    assert config["BULK_MAX_ROWS"] == 200 and config["BULK_MAX_BYTES"] == 65536
    defaults = load_config(str(tmp_path), {"APP_ENV": "test"})
    assert defaults["BULK_MAX_ROWS"] == 10_000 and defaults["BULK_MAX_BYTES"] == 5 * 1024 ** 2
    for bad in ("0", "-5", "lots"):
        with pytest.raises(ConfigError, match="BULK_MAX_ROWS"):
            load_config(str(tmp_path), {"APP_ENV": "test", "BULK_MAX_ROWS": bad})


def test_unknown_people_are_invited_when_the_admin_chooses(app, world):
    with app.app_context():
        import_id = upload(world["admin"], HEADER + "new@example.test,New Person,"
                           f"{world['org'].name},,Roofing Fundamentals,completion,,,\n")
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id),
                     invite_unknown=True)
        db.session.commit()
        user = db.session.scalar(select(User).where(User.email == "new@example.test"))
        assert user is not None and user.name == "New Person"
        assert user.organization_id == world["org"].id and user.password_hash is None
        assert db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.recipient_id == user.id)) == 1


def test_an_expiry_date_in_the_file_is_the_certificates(app, world):
    expiry = (today() + timedelta(days=400)).isoformat()
    with app.app_context():
        import_id = upload(world["admin"], HEADER + f"ana@example.test,,,,Roofing Fundamentals,"
                           f"completion,,{expiry},\n")
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.commit()
        row = db.session.scalar(select(BulkImportRow).where(
            BulkImportRow.import_id == import_id))
        assert db.session.get(Certificate, row.certificate_id).expires_at.isoformat() == expiry


# --- Hostile files -----------------------------------------------------------------------

def refusal(world: dict[str, Any], data: bytes) -> str:
    with pytest.raises((ValidationFailed, PayloadTooLarge)) as caught:
        bulk.preview(_actor(world["admin"].id), io.BytesIO(data), "x.csv")
    db.session.rollback()
    return caught.value.message


def test_missing_and_unknown_columns_are_named(app, world):
    with app.app_context():
        message = refusal(world, b"name,course,salary\nA,Reading,1\n")
        assert "missing columns: email, type" in message and "unknown column: salary" in message
        assert "email, name, organization" in message  # the columns it wants


def test_a_file_that_is_not_utf8_gets_a_clear_message(app, world):
    with app.app_context():
        data = (HEADER + "ana@example.test,Zoë,,,Roofing Fundamentals,completion,,,\n"
                ).encode("latin-1")
        assert "not UTF-8" in refusal(world, data) and "CSV UTF-8" in refusal(world, data)
        # Excel's "CSV UTF-8" starts with a byte-order mark: fine.
        import_id = upload(world["admin"], b"\xef\xbb\xbf" + data.decode("latin-1").encode())
        assert verdicts(import_id)[2][0] == "READY"


def test_a_nul_in_a_cell_refuses_the_file_with_its_line(app, world):
    # PostgreSQL text cannot hold NUL: neither the email lookup nor the row's verdict could
    # be stored. Other control characters fail their row only (fields.has_control).
    with app.app_context():
        data = (HEADER + "ana@example.test,,,,Roofing Fundamentals,completion,,,\n"
                + "b\x00b@example.test,,,,Roofing Fundamentals,completion,,,\n").encode()
        assert "Line 3 has a NUL character" in refusal(world, data)
        found = verdicts(upload(world["admin"], data.replace(b"\x00", b"\x01")))
        assert found[2] == ("READY", None) and found[3][0] == "INVALID"


def test_too_many_rows_and_too_many_bytes_are_refused(app, world):
    with app.app_context():
        many = HEADER.encode() + b"ana@example.test,,,,Roofing Fundamentals,completion,,,\n" * (
            100_000)
        app.config["BULK_MAX_BYTES"] = 50 * 1024 * 1024
        assert "more than 10,000 rows" in refusal(world, many)
        app.config["BULK_MAX_BYTES"] = 1024 * 1024
        wide = HEADER.encode() + ("ana@example.test,,,,Roofing Fundamentals,completion,,,"
                                  + "n" * 1999 + "\n").encode() * 600
        assert "larger than 1 MB" in refusal(world, wide)
        assert db.session.scalar(select(func.count()).select_from(BulkImport)) == 0


def test_formula_cells_are_neutralised_in_the_report(app, world):
    with app.app_context():
        import_id = upload(world["admin"], HEADER + '=HYPERLINK("http://x"),,,'
                           "+SUM(A1),@cmd,-2+3,,,\n")
        report = "".join(bulk.report_lines(db.session.get(BulkImport, import_id)))
    assert "'=hyperlink" in report and "'+SUM(A1)" in report and "'@cmd" in report
    assert ",=" not in report and ",+" not in report and ",@" not in report


@given(st.text(max_size=30))
def test_no_cell_of_a_report_starts_a_formula(value):
    cell = safe_cell(value)
    assert not cell.startswith(FORMULA_STARTS) or re.fullmatch(r"-\d+(\.\d+)?", cell,
                                                               re.ASCII)


def test_the_report_and_the_org_export_share_one_rule():
    from app.blueprints.org import routes as org_routes

    assert org_routes.safe_cell is safe_cell  # one rule for every CSV download
    assert [safe_cell(v) for v in (-12, "-3.5", "-2+3", "=1", "@a", None)] == \
        ["-12", "-3.5", "'-2+3", "'=1", "'@a", ""]


cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cells, min_size=0, max_size=11), min_size=0, max_size=5),
       st.sampled_from(["email,course,track,type", HEADER.strip(), "", "email"]))
def test_any_file_gets_a_preview_or_a_refusal(app, world, records, header):
    import csv

    out = io.StringIO()
    out.write(header + "\n")
    csv.writer(out).writerows(records)
    with app.app_context():
        try:
            item = bulk.preview(_actor(world["admin"].id), io.BytesIO(out.getvalue().encode()),
                                "h.csv")
            assert item.total_rows >= 1
        except (ValidationFailed, PayloadTooLarge) as exc:
            assert exc.message
        finally:
            db.session.rollback()


def test_confirm_queues_a_job_per_worker_for_an_import_of_several_batches(app, world,
                                                                          make_user, org,
                                                                          monkeypatch):
    """BULK_RUNS jobs (one per worker) side by side for an import of more than one batch,
    each claiming its own batches; one job for an import of one batch."""
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(bulk, "enqueue_after_commit", lambda *args, **kw: queued.append(args))
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 4)
    people, text = _six(make_user, org)
    with app.app_context():
        import_id = upload(world["admin"], text)
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.commit()
        assert queued == [(bulk.PROCESS_JOB, import_id)] * 2
        queued.clear()
        small = upload(world["admin"], HEADER + "ana@example.test,,,,Roofing Fundamentals,"
                       "completion,,,\n")
        bulk.confirm(db.session.get(BulkImport, small), _actor(world["admin"].id))
        db.session.commit()
        assert queued == [(bulk.PROCESS_JOB, small)]


def test_a_batch_that_invites_takes_the_counter_before_the_audit_head(app, world):
    """An invitation writes an audit row; every issuer takes the year's number counter
    before the audit chain head, so a batch inviting someone takes the counter first too
    (else it and another job's batch, holding the counter, deadlock on PostgreSQL)."""
    from sqlalchemy import event

    order: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        words = " ".join(statement.split()).lower()
        for table in ("certificate_counters", "audit_chain_head"):
            if words.startswith(("update " + table, "insert into " + table)) \
                    and table not in order:
                order.append(table)

    with app.app_context():
        import_id = upload(world["admin"], HEADER + "new@example.test,New,,,Roofing "
                           "Fundamentals,completion,,,\nana@example.test,,,,Roofing "
                           "Fundamentals,completion,,,\n")
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id),
                     invite_unknown=True)
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            db.session.commit()  # the job runs inline after the commit
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        db.session.expire_all()
        assert [status for status, _ in verdicts(import_id).values()] == ["ISSUED"] * 2
    assert order[:2] == ["certificate_counters", "audit_chain_head"], order
