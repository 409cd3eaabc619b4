"""An org admin's dashboard: compliance per credential, the expiry forecast by month
and the staff at risk. Every query is bounded to the organization's people (and the
forecast to its twelve months)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import CredentialStatus, MicroCredentialDefinition, StaffMicroCredential, User
from app.services.credentials.assignments import ASSIGNABLE_ROLES
from app.services.credentials.status import expired_condition, valid_condition
from app.services.dashboards.periods import Bucket, bucket_index, fill, months, within

C = CredentialStatus
SOON_DAYS = 30


@dataclass(frozen=True)
class Compliance:
    definition_id: int
    title: str
    assigned: int  # staff with the credential in any status
    valid: int  # awarded and not due yet

    @property
    def percent(self) -> int:
        return round(100 * self.valid / self.assigned) if self.assigned else 0


def compliance(organization_id: int, today: date) -> list[Compliance]:
    """Per credential the organization's staff hold: how many of them hold it valid
    (awarded, not expiring by today) out of everyone assigned it."""
    valid = valid_condition(today)
    rows = db.session.execute(
        select(MicroCredentialDefinition.id, MicroCredentialDefinition.title,
               func.count(StaffMicroCredential.id), func.sum(case((valid, 1), else_=0)))
        .join(StaffMicroCredential,
              StaffMicroCredential.definition_id == MicroCredentialDefinition.id)
        .join(User, User.id == StaffMicroCredential.user_id)
        # The matrix's staff (its compliance link lists exactly these people).
        .where(User.organization_id == organization_id, User.role.in_(ASSIGNABLE_ROLES))
        .group_by(MicroCredentialDefinition.id, MicroCredentialDefinition.title)
        .order_by(MicroCredentialDefinition.title)).all()
    return [Compliance(d, t, int(n), int(v or 0)) for d, t, n, v in rows]


def expiry_forecast(organization_id: int, today: date, count: int = 12) -> list[Bucket]:
    """Awarded credentials expiring in each of this and the next 11 months (this month
    from tomorrow: one due today counts as expired)."""
    buckets = months(today, count, ahead=True)
    buckets[0] = replace(buckets[0], start=today + timedelta(days=1))
    index = bucket_index(StaffMicroCredential.expiry_date, buckets, timestamp=False)
    rows = db.session.execute(
        select(index, func.count())
        # The credentials' copy of their holder's organization (credentials/membership.py):
        # one organization's entries of ix_staff_micro_credentials_org_summary, no join.
        .where(StaffMicroCredential.organization_id == organization_id,
               StaffMicroCredential.status == C.AWARDED,
               within(StaffMicroCredential.expiry_date, buckets, timestamp=False))
        .group_by(index)).all()
    return fill(buckets, rows)


@dataclass(frozen=True)
class AtRisk:
    user_id: int
    name: str
    title: str
    expiry_date: date | None
    expired: bool


@dataclass(frozen=True)
class Risk:
    expired_people: int
    soon_people: int
    soon_until: date
    rows: list[AtRisk]  # the first few, soonest (most overdue) first


RISK_ROWS = 10


def staff_at_risk(organization_id: int, today: date) -> Risk:
    """People of the organization with a credential expired (or due by today) and with
    one expiring within 30 days, and the first few such credentials."""
    until = today + timedelta(days=SOON_DAYS)
    expired = expired_condition(today)
    soon = ((StaffMicroCredential.status == C.AWARDED)
            & (StaffMicroCredential.expiry_date > today)
            & (StaffMicroCredential.expiry_date <= until))
    base = (select(StaffMicroCredential.user_id)
            .where(StaffMicroCredential.organization_id == organization_id))
    expired_people = db.session.scalar(select(func.count()).select_from(
        base.where(expired).distinct().subquery())) or 0
    soon_people = db.session.scalar(select(func.count()).select_from(
        base.where(soon).distinct().subquery())) or 0
    rows = db.session.execute(
        select(User.id, User.name, MicroCredentialDefinition.title,
               StaffMicroCredential.expiry_date, case((expired, True), else_=False))
        .join(User, User.id == StaffMicroCredential.user_id)
        .join(MicroCredentialDefinition,
              MicroCredentialDefinition.id == StaffMicroCredential.definition_id)
        .where(User.organization_id == organization_id, expired | soon)
        .order_by(StaffMicroCredential.expiry_date.asc().nulls_first(), User.name, User.id)
        .limit(RISK_ROWS)).all()
    return Risk(int(expired_people), int(soon_people), until,
                [AtRisk(u, n, t, e, bool(x)) for u, n, t, e, x in rows])
