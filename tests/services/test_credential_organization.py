"""A staff credential's own copy of its holder's organization (migration 0034, issue
16): set when the credential is created (assign, a direct award), followed when the
person moves, also when a move and a new credential for the same person run at once;
the org matrix's summary (and the org dashboard's forecast and staff at risk) count from
it, on PostgreSQL from one index alone."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import CredentialStatus, MicroCredentialDefinition, StaffMicroCredential, User
from app.services import credentials as mc
from app.services import dashboards, dates
from app.services import users as user_service
from app.services.context import Actor
from tests.plans import plans_of

C = CredentialStatus


def _organizations(user_id: int) -> list[int | None]:
    return list(db.session.scalars(select(StaffMicroCredential.organization_id)
                                   .where(StaffMicroCredential.user_id == user_id)
                                   .order_by(StaffMicroCredential.id)))


def test_credentials_follow_their_holder(app: Any, org: Any, make_org: Any, make_user: Any,
                                         make_definition: Any, make_credential: Any) -> None:
    today = dates.today()
    other = make_org("Other Roofing")
    person = make_user(name="Mover", organization=org)
    stays = make_user(name="Stays", organization=org)
    a, b = make_definition("Skill A"), make_definition("Skill B")
    make_credential(a, person, C.AWARDED, expiry_date=today + timedelta(days=10))
    make_credential(a, stays, C.AWARDED, expiry_date=today + timedelta(days=20))
    with app.app_context():
        mc.award_directly(Actor.system(), user=db.session.get(User, person.id),
                          definition=db.session.get(MicroCredentialDefinition, b.id),
                          expires_on=today + timedelta(days=5), notify_holder=False)
        db.session.commit()
        assert _organizations(person.id) == [org.id, org.id]
        assert mc.org_matrix(org.id, today=today).summary == mc.ExpirySummary(0, 3, 3)
        stamps = list(db.session.scalars(select(StaffMicroCredential.updated_at)
                                         .where(StaffMicroCredential.user_id == person.id)))

        user_service.update_user(db.session.get(User, person.id), Actor.system(),
                                 organization_id=other.id)
        db.session.commit()
        assert _organizations(person.id) == [other.id, other.id]
        assert _organizations(stays.id) == [org.id]
        assert mc.org_matrix(org.id, today=today).summary == mc.ExpirySummary(0, 1, 1)
        moved = mc.org_matrix(other.id, today=today)
        assert moved.summary == mc.ExpirySummary(0, 2, 2)
        # The org dashboard reads the same copy: its forecast and staff at risk follow.
        assert sum(b.count for b in dashboards.org.expiry_forecast(other.id, today)) == 2
        assert sum(b.count for b in dashboards.org.expiry_forecast(org.id, today)) == 1
        assert dashboards.org.staff_at_risk(other.id, today).soon_people == 1
        assert sorted(d.id for d in moved.definitions) == sorted([a.id, b.id])
        # The credentials themselves did not change.
        assert list(db.session.scalars(select(StaffMicroCredential.updated_at)
                                       .where(StaffMicroCredential.user_id == person.id))) \
            == stamps

        # Out of any organization (staff may have none), then back: counted nowhere, then again.
        user_service.update_user(db.session.get(User, person.id), Actor.system(),
                                 organization_id=None)
        db.session.commit()
        assert _organizations(person.id) == [None, None]
        assert mc.org_matrix(other.id, today=today).summary == mc.ExpirySummary(0, 0, 0)
        user_service.update_user(db.session.get(User, person.id), Actor.system(),
                                 organization_id=org.id)
        db.session.commit()
        assert _organizations(person.id) == [org.id, org.id]
        assert mc.org_matrix(org.id, today=today).summary == mc.ExpirySummary(0, 3, 3)


def test_the_daily_sweep_puts_a_stale_copy_right(app: Any, org: Any, make_org: Any,
                                                 make_user: Any, make_definition: Any,
                                                 make_credential: Any) -> None:
    """A copy written by code older than 0034 during a rolling deploy (none, or the
    organization a person has since left) is put right by the sweep's first phase,
    without touching updated_at, and the org matrix counts it again; a second sweep
    finds nothing to do."""
    from app.services import sweep

    today = dates.today()
    other = make_org("Old Roofing")
    person = make_user(name="Stale", organization=org)
    held = make_credential(make_definition("Skill S"), person, C.AWARDED,
                           expiry_date=today + timedelta(days=10))
    moved = make_credential(make_definition("Skill T"), person, C.AWARDED,
                            expiry_date=today + timedelta(days=40))
    with app.app_context():
        db.session.execute(text("UPDATE staff_micro_credentials SET organization_id = NULL "
                                "WHERE id = :id"), {"id": held.id})
        db.session.execute(text("UPDATE staff_micro_credentials SET organization_id = :o "
                                "WHERE id = :id"), {"o": other.id, "id": moved.id})
        db.session.commit()
        stamps = list(db.session.scalars(
            select(StaffMicroCredential.updated_at).where(
                StaffMicroCredential.user_id == person.id).order_by(StaffMicroCredential.id)))
        assert mc.org_matrix(org.id, today=today).summary == mc.ExpirySummary(0, 0, 0)

        resynced = sweep.credential_organizations(today)
        db.session.commit()
        assert resynced.items == 2 and resynced.lines
        assert _organizations(person.id) == [org.id, org.id]
        assert mc.org_matrix(org.id, today=today).summary == mc.ExpirySummary(0, 1, 2)
        assert list(db.session.scalars(select(StaffMicroCredential.updated_at).where(
            StaffMicroCredential.user_id == person.id)
            .order_by(StaffMicroCredential.id))) == stamps
        assert sweep.credential_organizations(today).items == 0
        assert sweep.PHASES[0] is sweep.credential_organizations


@pytest.mark.parametrize("first", ["move", "assign"])
def test_a_move_and_a_new_credential_at_once_agree(make_app: Any, make_org: Any,
                                                   make_user: Any, make_definition: Any,
                                                   first: str) -> None:
    """Two admins at once: one moves a person to another organization while the other
    assigns them a credential. Whichever starts first holds its transaction open for a
    moment after its write; the other must not leave the new credential in the old
    organization (on PostgreSQL: without the FOR SHARE read, the assignment reads the
    committed old organization, or the move's UPDATE misses the uncommitted credential)."""
    # As in production: on SQLite, anything outside a GET request begins IMMEDIATE.
    app = make_app(SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    old, new = make_org("Old Roofing"), make_org("New Roofing")
    person = make_user(name="Mover", organization=old)
    definition = make_definition()
    written = threading.Event()
    errors: list[BaseException] = []

    def move() -> None:
        with app.app_context():
            user_service.update_user(db.session.get(User, person.id), Actor.system(),
                                     organization_id=new.id)
            db.session.flush()
            written.set()
            time.sleep(0.5)  # the other request runs into this open transaction
            db.session.commit()

    def assign() -> None:
        with app.app_context():
            mc.assign(db.session.get(MicroCredentialDefinition, definition.id), [person.id],
                      Actor.system())
            written.set()
            time.sleep(0.5)
            db.session.commit()

    def run(work: Any, wait: bool) -> None:
        try:
            if wait:
                assert written.wait(timeout=30)
            work()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
            written.set()

    steps = {"move": move, "assign": assign}
    second = "assign" if first == "move" else "move"
    threads = [threading.Thread(target=run, args=(steps[first], False)),
               threading.Thread(target=run, args=(steps[second], True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        assert db.session.get(User, person.id).organization_id == new.id
        assert _organizations(person.id) == [new.id]


@pytest.fixture
def pg_credentials(app: Any, make_org: Any, make_user: Any, make_definition: Any) -> Any:
    """PostgreSQL with 20,000 staff credentials over 20 organizations of 100 people,
    vacuumed and analyzed (the planner's estimates, the visibility map)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
    orgs = [make_org() for _ in range(20)]
    definitions = [make_definition() for _ in range(10)]
    with app.app_context():
        for org in orgs:
            db.session.execute(text("""
                INSERT INTO users (email, name, role, organization_id, active,
                                   email_compliance, sms_critical, email_training,
                                   session_token, created_at, updated_at)
                SELECT 'p' || :org || '-' || i || '@example.test', 'Person ' || i, 'staff',
                       :org, true, true, false, true, md5(:org || '-' || i), now(), now()
                FROM generate_series(1, 100) AS i"""), {"org": org.id})
        db.session.execute(text("""
            INSERT INTO staff_micro_credentials (definition_id, user_id, organization_id,
                                                 status, expiry_date, created_at, updated_at)
            SELECT d.id, u.id, u.organization_id,
                   (ARRAY['AWARDED','AWARDED','EXPIRED','IN_TRAINING'])[1 + (u.id + d.id) % 4],
                   CURRENT_DATE + ((u.id * 7 + d.id) % 400 - 30), now(), now()
            FROM users u CROSS JOIN micro_credential_definitions d
            WHERE u.organization_id = ANY(:orgs) AND d.id = ANY(:definitions)"""),
            {"orgs": [o.id for o in orgs], "definitions": [d.id for d in definitions]})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE staff_micro_credentials")
            conn.exec_driver_sql("ANALYZE users")
        yield orgs[0]


def test_the_summary_is_read_from_the_organization_index(pg_credentials: Any) -> None:
    """The columns-and-summary statement reads one organization's entries of
    ix_staff_micro_credentials_org_summary: no scan of every staff credential, no join
    to users (fails with the index dropped: a sequential scan)."""
    found: list[Any] = []
    (plan,) = plans_of(lambda: found.append(mc.org_matrix(pg_credentials.id,
                                                          today=dates.today())),
                       keep=lambda statement: "sum(CASE" in statement)
    assert len(found[0].definitions) == 10
    assert "ix_staff_micro_credentials_org_summary" in plan, plan
    assert "Seq Scan on staff_micro_credentials" not in plan, plan
    assert " users" not in plan, plan
