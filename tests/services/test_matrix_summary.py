"""The org matrix reads its columns and the expiry summary in one pass over the
organization's credentials (issue 16): the columns any of its staff hold, the whole
organization's counts, the filters narrowing the columns but never the summary."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.extensions import db
from app.models import CredentialStatus, StaffMicroCredential
from app.services import credentials as mc
from app.services import dates

C = CredentialStatus


def test_one_pass_gives_the_same_columns_and_summary(app: Any, org: Any, make_org: Any,
                                                     make_user: Any, make_definition: Any,
                                                     make_credential: Any) -> None:
    today = dates.today()
    people = [make_user(name=f"Staff {i}", organization=org) for i in range(4)]
    outsider = make_user(name="Elsewhere", organization=make_org("Other Roofing"))
    a, b, c, unheld = (make_definition(f"Skill {n}", level=n) for n in (5, 4, 3, 2))
    make_credential(a, people[0], C.AWARDED, expiry_date=today + timedelta(days=10))
    make_credential(a, people[1], C.AWARDED, expiry_date=today + timedelta(days=60))
    make_credential(a, people[3], C.AWARDED, expiry_date=today + timedelta(days=20))
    due = make_credential(b, people[1], C.AWARDED, expiry_date=today + timedelta(days=200))
    make_credential(c, people[2], C.IN_TRAINING)
    make_credential(unheld, outsider, C.AWARDED, expiry_date=today + timedelta(days=5))
    with app.app_context():
        # Due today counts as expired (the nightly job has not marked it yet).
        db.session.get(StaffMicroCredential, due.id).expiry_date = today
        db.session.commit()
        one_pass = mc.org_matrix(org.id, today=today)
        assert [d.id for d in one_pass.definitions] == [a.id, b.id, c.id]
        assert one_pass.summary == mc.ExpirySummary(expired=1, within_30=2, within_90=3)
        narrowed = mc.org_matrix(org.id, definition_id=c.id, today=today)
        assert [d.id for d in narrowed.definitions] == [c.id]
        assert narrowed.summary == one_pass.summary  # the whole organization's
        empty = mc.org_matrix(make_org("Nobody Ltd").id, today=today)
        assert empty.definitions == [] and empty.summary == mc.ExpirySummary(0, 0, 0)
        db.session.rollback()
