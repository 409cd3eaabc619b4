"""Bulk issue from a CSV: each row's verdict by the direct issue's rules, confirm once,
issue by the job (inline here), the same file twice issues nothing twice, a job that dies
midway resumes, and hostile files are refused with a message naming the problem."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db
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
from app.services.bulk import certificates as bulk
from app.services.bulk.csvfile import FORMULA_STARTS, safe_cell
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


def test_a_job_that_dies_midway_resumes_with_the_rows_left(app, world, make_user, org,
                                                           monkeypatch):
    people = [make_user(organization=org, email=f"p{i}@example.test") for i in range(6)]
    text = HEADER + "".join(f"{p.email},,,,Roofing Fundamentals,completion,,,\n"
                            for p in people)
    monkeypatch.setattr(bulk, "COMMIT_EVERY", 2)
    real = bulk._issue_row
    calls = {"n": 0}

    def dies_at_the_fourth(row, actor, item):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        return real(row, actor, item)

    monkeypatch.setattr(bulk, "_issue_row", dies_at_the_fourth)
    with app.app_context():
        import_id = upload(world["admin"], text)
        bulk.confirm(db.session.get(BulkImport, import_id), _actor(world["admin"].id))
        db.session.commit()  # the inline job dies at the 4th row (logged, not raised)
        db.session.expire_all()
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.RUNNING
        assert bulk.counts(item)["ISSUED"] == 2 and bulk.counts(item)["PENDING"] == 4
    monkeypatch.setattr(bulk, "_issue_row", real)
    with app.app_context():
        result = bulk.process(import_id)  # the retry
        assert result["issued"] == 4 and result["skipped"] == 0
        assert bulk.process(import_id)["status"] == "skipped"  # done: a third run does nothing
        item = db.session.get(BulkImport, import_id)
        assert item.status == ImportStatus.DONE and bulk.counts(item)["ISSUED"] == 6
        assert db.session.scalar(select(func.count()).select_from(Certificate).where(
            Certificate.recipient_id.in_([p.id for p in people]))) == 6


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
    assert not safe_cell(value).startswith(FORMULA_STARTS)


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
