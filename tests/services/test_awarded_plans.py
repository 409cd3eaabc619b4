"""On PostgreSQL the admin dashboard's "Micro-credentials expiring" figure and the awarded
list behind a band read a range of ix_staff_micro_credentials_status_expiry_date (status,
expiry_date), never every staff credential: no new index was needed for either."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from app.services import dashboards as dash
from app.services.credentials import awarded
from app.services.dashboards.periods import day_bands
from tests.plans import insert_plan_people_and_definitions, plans_of

TODAY = date(2026, 6, 15)
INDEX = "ix_staff_micro_credentials_status_expiry_date"


@pytest.fixture
def pg(app: Any) -> Any:
    """20,000 staff credentials (2,000 people x 10 definitions), a fifth of them not
    awarded, expiry dates spread over eight years (a 90-day band is about 3 %), analyzed."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
        insert_plan_people_and_definitions()
        db.session.execute(text("""
            INSERT INTO staff_micro_credentials (definition_id, user_id, status, expiry_date,
                                                 created_at, updated_at)
            SELECT d.id, u.id,
                   CASE WHEN (u.id + d.id) % 5 = 0 THEN 'IN_TRAINING' ELSE 'AWARDED' END,
                   DATE '2023-01-01' + ((u.id * 7 + d.id * 13) % 2920), now(), now()
            FROM users u CROSS JOIN micro_credential_definitions d
            WHERE u.email LIKE 'plan%' AND d.title LIKE 'Plan credential %'"""))
        db.session.commit()
        db.session.execute(text("ANALYZE staff_micro_credentials"))
        db.session.execute(text("ANALYZE users"))
        db.session.commit()
        yield app


def test_the_expiring_figure_reads_a_range_of_status_and_expiry(pg: Any) -> None:
    with pg.app_context():
        (plan,) = plans_of(lambda: dash.admin.micro_credentials_expiring(TODAY))
        print(plan)
        assert INDEX in plan and "Seq Scan on staff_micro_credentials" not in plan


def test_a_bands_list_and_its_count_read_the_same_range(pg: Any) -> None:
    band = day_bands(TODAY)[1]
    filters = awarded.AwardFilters(expires_from=band.start, expires_to=band.last)
    with pg.app_context():
        plans = plans_of(lambda: awarded.awarded_page(filters, TODAY, 1, 25))
        assert len(plans) == 2  # the capped count, the page
        for plan in plans:
            print(plan)
            assert INDEX in plan and "Seq Scan on staff_micro_credentials" not in plan
        rows = awarded.awarded_page(filters, TODAY, 1, 25)
        assert rows.total > 25 and all(
            band.start <= c.expiry_date <= band.last for c in rows.items)
        assert TODAY + timedelta(days=31) == band.start
