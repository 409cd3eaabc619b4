"""One rule for a valid award (app/services/credentials/status.py): the Python predicate
and the SQL expression agree on every status and on the day boundary (due today counts
as expired), and the expired condition is its complement among awards."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CredentialStatus, StaffMicroCredential
from app.services import dates
from app.services.credentials.status import expired_condition, is_valid, valid_condition

C = CredentialStatus


@pytest.mark.parametrize("status", list(C))
def test_the_predicate_and_the_sql_agree(app: Any, org: Any, make_user: Any,
                                         make_definition: Any, make_credential: Any,
                                         status: CredentialStatus) -> None:
    today = dates.today()
    expiries = {"none": None, "yesterday": today - timedelta(days=1), "today": today,
                "tomorrow": today + timedelta(days=1)}
    made = {}
    for label in expiries:
        person = make_user(name=f"Staff {label}", organization=org)
        made[label] = make_credential(make_definition(f"Skill {label}"), person)
    with app.app_context():
        # Any status with any date (an award due today, one the sweep has not reached).
        for label, expiry in expiries.items():
            row = db.session.get(StaffMicroCredential, made[label].id)
            row.status, row.expiry_date = status, expiry
        db.session.flush()
        ids = [c.id for c in made.values()]
        valid_sql = set(db.session.scalars(select(StaffMicroCredential.id).where(
            StaffMicroCredential.id.in_(ids), valid_condition(today))))
        expired_sql = set(db.session.scalars(select(StaffMicroCredential.id).where(
            StaffMicroCredential.id.in_(ids), expired_condition(today))))
        valid_py = {made[label].id for label, expiry in expiries.items()
                    if is_valid(status, expiry, today)}
        assert valid_sql == valid_py
        assert valid_sql.isdisjoint(expired_sql)
        if status == C.AWARDED:
            assert valid_py == {made["none"].id, made["tomorrow"].id}
            assert expired_sql == {made["yesterday"].id, made["today"].id}
        else:
            assert valid_py == set()
        db.session.rollback()
