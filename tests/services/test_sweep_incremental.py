"""The daily sweep after a finished run reads only what crossed a band's first day or
changed since (app/services/sweep.py, issue 16), and still reminds every item it must."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from app.extensions import db
from app.jobs import sweep as sweep_job
from app.models import (
    Certificate,
    CredentialStatus,
    Notification,
    NotificationDelivery,
    ReminderClaim,
    Role,
    StaffMicroCredential,
    SweepRun,
)
from app.models.base import utcnow
from app.services import sweep
from tests.plans import insert_plan_people_and_definitions, plans_of

TODAY = date(2027, 3, 1)
LONG_AGO = timedelta(days=30)  # well before any run's start less the margin


def _band(expiry: date, as_of: date) -> str:
    days = (expiry - as_of).days
    return "30" if days <= 30 else "60" if days <= 60 else "90"


def _claims() -> set[str]:
    return set(db.session.scalars(select(ReminderClaim.key)))


def _age(model: Any, ids: list[int]) -> None:
    """Stamp rows as made and last changed long ago (as rows are in a deployment)."""
    db.session.execute(update(model).where(model.id.in_(ids))
                       .values(created_at=utcnow() - LONG_AGO, updated_at=utcnow() - LONG_AGO))
    db.session.commit()


@pytest.fixture
def holder(make_user: Callable[..., Any], org: Any) -> Any:
    return make_user(Role.STAFF, org, name="Hemi Holder")


@pytest.fixture
def definitions(make_definition: Callable[..., Any]) -> list[Any]:
    return [make_definition(f"Definition {n}") for n in range(6)]


def _credential(holder: Any, definition: Any, expiry: date) -> int:
    row = StaffMicroCredential(definition_id=definition.id, user_id=holder.id,
                               organization_id=holder.organization_id,
                               status=CredentialStatus.AWARDED, expiry_date=expiry)
    db.session.add(row)
    db.session.flush()
    return row.id


def test_after_a_finished_run_an_unchanged_item_mid_band_is_not_read(
        app: Flask, holder: Any, definitions: list[Any]) -> None:
    """Mid-band and unchanged since the last finished run: that run claimed it, so the
    next does not read it (here nothing claimed it, which shows it is not read); without a
    finished run, the whole window is read and it is claimed."""
    with app.app_context():
        mid_band = _credential(holder, definitions[0], TODAY + timedelta(days=45))
        crossing = _credential(holder, definitions[1], TODAY + timedelta(days=60))
        changed = _credential(holder, definitions[2], TODAY + timedelta(days=75))
        db.session.commit()
        _age(StaffMicroCredential, [mid_band, crossing])
        db.session.add(SweepRun(as_of=TODAY - timedelta(days=1), status="done"))
        db.session.commit()
        assert sweep.credential_reminders(TODAY).items == 2
        assert _claims() == {f"mcred:{crossing}:{TODAY + timedelta(days=60)}:60",
                             f"mcred:{changed}:{TODAY + timedelta(days=75)}:90"}
        db.session.rollback()
        db.session.execute(delete(SweepRun))
        db.session.commit()
        assert sweep.credential_reminders(TODAY).items == 3  # no finished run: the window
        db.session.rollback()


def test_a_running_or_failed_run_or_a_later_one_does_not_count(
        app: Flask, holder: Any, definitions: list[Any]) -> None:
    with app.app_context():
        mid_band = _credential(holder, definitions[0], TODAY + timedelta(days=45))
        db.session.commit()
        _age(StaffMicroCredential, [mid_band])
        db.session.add_all([SweepRun(as_of=TODAY - timedelta(days=1), status="running"),
                            SweepRun(as_of=TODAY - timedelta(days=2), status="failed"),
                            SweepRun(as_of=TODAY + timedelta(days=1), status="done")])
        db.session.commit()
        assert sweep.last_finished_run(TODAY) is None
        assert sweep.credential_reminders(TODAY).items == 1
        db.session.rollback()


def test_a_certificate_changed_since_the_last_run_is_read_and_a_lapsed_one_is_not(
        app: Flask, holder: Any, make_track: Callable[..., Any],
        issue: Callable[..., Any]) -> None:
    """Certificates stay ISSUED past their expiry (no sweep phase expires them): one that
    crossed a band's first day since the last run but has lapsed since is not reminded."""
    edited, lapsed = (issue(holder, track=make_track()) for _ in range(2))
    with app.app_context():
        for certificate, days in ((edited, 50), (lapsed, -5)):
            db.session.execute(update(Certificate).where(Certificate.id == certificate.id)
                               .values(expires_at=TODAY + timedelta(days=days)))
        db.session.commit()
        _age(Certificate, [edited.id, lapsed.id])
        sweep_job.run(TODAY - timedelta(days=40))  # lapsed: 35 days left, in band 60
        db.session.execute(delete(ReminderClaim))  # so reading shows as claiming
        db.session.commit()
        assert sweep.certificate_reminders(TODAY).items == 1  # crossed 60 since; not lapsed
        assert _claims() == {f"cert:{edited.id}:{TODAY + timedelta(days=50)}:60"}
        db.session.commit()
        sweep_job.run(TODAY)
        # A day on, nothing crossed a band's first day; the edited one is read all the same.
        db.session.get(Certificate, edited.id).expires_at = TODAY + timedelta(days=45)
        db.session.commit()
        tomorrow = TODAY + timedelta(days=1)
        assert sweep.certificate_reminders(tomorrow).items == 1
        assert _claims() - {f"cert:{edited.id}:{TODAY + timedelta(days=50)}:60"} == {
            f"cert:{edited.id}:{TODAY + timedelta(days=45)}:60"}
        db.session.rollback()



def test_a_full_sweep_reads_an_expiry_edited_in_sql_that_the_incremental_one_cannot(
        app: Flask, holder: Any, definitions: list[Any]) -> None:
    """An expiry moved by hand (updated_at left as it was) into the middle of a band after
    the last finished run: the daily sweep does not see it; `jobs sweep --full` (and
    the job's full=True) reads the whole window and reminds it, once."""
    with app.app_context():
        edited = _credential(holder, definitions[0], TODAY + timedelta(days=400))
        db.session.commit()
        _age(StaffMicroCredential, [edited])
        sweep_job.run(TODAY - timedelta(days=1))
        db.session.execute(text("UPDATE staff_micro_credentials SET expiry_date = :day "
                                "WHERE id = :id"), {"day": TODAY + timedelta(days=45),
                                                    "id": edited})
        db.session.commit()
        dry = {r.name: r.items for r in sweep_job.run(TODAY, dry_run=True)}
        assert dry["credential_reminders"] == 0  # not read: unchanged since the last run
        result = app.test_cli_runner().invoke(
            args=["jobs", "sweep", "--full", "--date", TODAY.isoformat()])
        assert result.exit_code == 0, result.output
        assert _claims() == {f"mcred:{edited}:{TODAY + timedelta(days=45)}:60"}
        assert sweep_job.daily_sweep(TODAY.isoformat(), full=True)[
            "credential_reminders"] == {"items": 0, "sent": 0}  # claimed already
        assert sweep.last_finished_run(TODAY).as_of == TODAY  # a full run counts as one


# Steps between sweeps: a sweep some days on (or back), a renewal to a day from the
# current one, an expiry or a return to AWARDED.
STEPS = st.lists(st.one_of(
    st.tuples(st.just("sweep"), st.integers(min_value=-3, max_value=40)),
    st.tuples(st.just("renew"), st.integers(0, 5), st.integers(-5, 130)),
    st.tuples(st.just("toggle"), st.integers(0, 5))), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expiries=st.lists(st.integers(-5, 130), min_size=1, max_size=6), steps=STEPS)
def test_after_every_sweep_each_live_item_in_the_window_has_its_bands_claim(
        app: Flask, holder: Any, definitions: list[Any], expiries: list[int],
        steps: list[tuple[Any, ...]]) -> None:
    """Whatever the days swept (missed, repeated, back) and the changes between them,
    after each run every awarded credential expiring within 90 days holds the claim for
    its band that day, and the run claimed nothing else: what a sweep of the whole
    window would have made."""
    with app.app_context():
        for model in (NotificationDelivery, Notification, ReminderClaim, SweepRun,
                      StaffMicroCredential):
            db.session.execute(delete(model))
        ids = [_credential(holder, definitions[n], TODAY + timedelta(days=days))
               for n, days in enumerate(expiries)]
        db.session.commit()
        _age(StaffMicroCredential, ids)
        day = TODAY
        for step in [*steps, ("sweep", 1)]:
            if step[0] == "sweep":
                day += timedelta(days=step[1])
                before = _claims()
                sweep_job.run(day)
                claims = _claims()
                due = {f"mcred:{row.id}:{row.expiry_date}:{_band(row.expiry_date, day)}"
                       for row in db.session.scalars(select(StaffMicroCredential))
                       if row.status == CredentialStatus.AWARDED
                       and day < row.expiry_date <= day + timedelta(days=90)}
                assert due <= claims, (due - claims, day, steps)
                assert claims - before <= due, (claims - before - due, day, steps)
                db.session.rollback()
                continue
            row = db.session.get(StaffMicroCredential, ids[step[1] % len(ids)])
            if step[0] == "renew":
                row.expiry_date = day + timedelta(days=step[2])
            else:
                row.status = (CredentialStatus.EXPIRED if row.status == CredentialStatus.AWARDED
                              else CredentialStatus.AWARDED)
            db.session.commit()


@pytest.fixture
def pg_credentials(app: Flask) -> Any:
    """20,000 awarded staff credentials (2,000 people x 10 definitions): expiries over
    eight years (a 90-day window is about 3 %), last changed over the three years before,
    analyzed; the finished sweep as of the day before."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
        insert_plan_people_and_definitions()
        db.session.execute(text("""
            INSERT INTO staff_micro_credentials (definition_id, user_id, status, expiry_date,
                                                 created_at, updated_at)
            SELECT d.id, u.id, 'AWARDED', CAST(:today AS date) - 1460
                   + ((u.id * 7 + d.id * 13) % 2920),
                   now() - make_interval(days => 2 + (u.id * 11 + d.id) % 1095),
                   now() - make_interval(days => 2 + (u.id * 11 + d.id) % 1095)
            FROM users u CROSS JOIN micro_credential_definitions d
            WHERE u.email LIKE 'plan%' AND d.title LIKE 'Plan credential %'"""),
            {"today": TODAY})
        db.session.add(SweepRun(as_of=TODAY - timedelta(days=1), status="done"))
        db.session.commit()
        db.session.execute(text("ANALYZE staff_micro_credentials"))
        db.session.commit()
        yield app


def test_after_a_finished_run_the_claim_reads_index_ranges_not_the_window(
        pg_credentials: Flask) -> None:
    """The band-start days through (status, expiry_date), the changed ones through
    (status, updated_at): no scan of the table, nor of the whole 90-day window."""
    with pg_credentials.app_context():
        (plan,) = plans_of(lambda: sweep.credential_reminders(TODAY),
                           keep=lambda sql: sql.lstrip().startswith("INSERT INTO reminder_claims"))
        db.session.rollback()
    print(plan)
    assert "ix_staff_micro_credentials_status_updated_at" in plan
    assert "ix_staff_micro_credentials_status_expiry_date" in plan
    assert "Seq Scan on staff_micro_credentials" not in plan
    assert "BitmapOr" in plan
