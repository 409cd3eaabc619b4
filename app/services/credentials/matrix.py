"""The organization matrix: an org admin's staff x the definitions any of them hold, in
three queries whatever the size (the page of staff, the columns, the page's cells), and
the same credentials as flat rows for CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select

from app.extensions import db
from app.models import (
    CredentialStatus,
    MicroCredentialDefinition,
    StaffMicroCredential,
    User,
)
from app.services.credentials.assignments import ASSIGNABLE_ROLES
from app.services.credentials.status import EXPIRY_BANDS, expired_condition, valid_condition
from app.services.pagination import Page, paginate
from app.services.users import people_matching

# --- The organization matrix ---------------------------------------------------------

@dataclass
class Matrix:
    """Plain rows, not ORM entities (issue 16: ~300 entities a page were a fifth of its
    app CPU): staff (id, name, email, organization_id: what person_link and may_see
    read), definitions (id, title, level, issuing_body) and cells (user_id,
    definition_id, status, expiry_date: what matrix_cells draws)."""

    staff: Page[Any]
    definitions: list[Any]
    cells: dict[tuple[int, int], Any]
    # The whole organization's expiry counts (not the page's, nor the filters').
    summary: ExpirySummary

    def __post_init__(self) -> None:
        # Each user's cells by column position, so a row costs its held cells, not its
        # columns (25 staff x 50 columns: 1,250 lookups for ~80 cells).
        column = {d.id: i for i, d in enumerate(self.definitions)}
        self._held: dict[int, list[tuple[int, Any]]] = {}
        for (user_id, definition_id), cell in self.cells.items():
            if definition_id in column:
                self._held.setdefault(user_id, []).append((column[definition_id], cell))

    def row(self, user_id: int) -> list[Any | None]:
        """The user's cells in column order (None where they hold nothing)."""
        row: list[Any | None] = [None] * len(self.definitions)
        for position, cell in self._held.get(user_id, ()):
            row[position] = cell
        return row


def org_matrix(organization_id: int, *, definition_id: int | None = None, status: str = "",
               q: str = "", page: int = 1, per_page: int = 25, today: date,
               expires_from: date | None = None, expires_to: date | None = None,
               risk: str = "", valid: bool = False) -> Matrix:
    """Staff of one organization x the definitions any of them hold.

    Three queries whatever the size: the page of staff (with its count), the columns
    with the whole organization's expiry summary (one pass over its credentials, joined
    to the definitions it names), and the cells for that page. Filters keep the staff
    with a matching credential (one credential meeting them all): its definition,
    status, expiry dates (inclusive) and `risk="expired"` (expired, or awarded and due
    by today: expiry_band's rule) and `valid` (awarded and in date: the rule the
    dashboard's compliance figure counts).
    """
    conditions = credential_filters(today, definition_id=definition_id, status=status,
                                    expires_from=expires_from, expires_to=expires_to,
                                    risk=risk, valid=valid)
    staff_stmt = (select(User.id, User.name, User.email, User.organization_id)
                  .where(User.organization_id == organization_id,
                         User.role.in_(ASSIGNABLE_ROLES))
                  .order_by(User.name, User.id))
    if conditions:
        held = select(StaffMicroCredential.id).where(StaffMicroCredential.user_id == User.id,
                                                     *conditions)
        staff_stmt = staff_stmt.where(held.correlate(User).exists())
    if q.strip():
        staff_stmt = staff_stmt.where(people_matching(q))
    staff = paginate(staff_stmt, page, per_page, rows=True)

    # The credentials' own copy of their holder's organization (membership.py): an
    # index-only aggregate of ix_staff_micro_credentials_org_summary, where the join
    # through users read every staff credential (issue 16).
    counts = (select(StaffMicroCredential.definition_id, *_expiry_counts(today))
              .where(StaffMicroCredential.organization_id == organization_id)
              .group_by(StaffMicroCredential.definition_id).subquery())
    held_columns = db.session.execute(
        select(MicroCredentialDefinition.id, MicroCredentialDefinition.title,
               MicroCredentialDefinition.level, MicroCredentialDefinition.issuing_body,
               counts.c.expired, counts.c.within_30, counts.c.within_90)
        .join(counts, counts.c.definition_id == MicroCredentialDefinition.id)
        .order_by(MicroCredentialDefinition.level.desc(), MicroCredentialDefinition.title,
                  MicroCredentialDefinition.id)).all()
    summary = ExpirySummary(*(sum(int(row[i] or 0) for row in held_columns)
                              for i in (4, 5, 6)))
    definitions = [row for row in held_columns
                   if definition_id is None or row.id == definition_id]

    cells: dict[tuple[int, int], Any] = {}
    user_ids = [u.id for u in staff.items]
    if user_ids and definitions:
        for credential in db.session.execute(
                select(StaffMicroCredential.user_id, StaffMicroCredential.definition_id,
                       StaffMicroCredential.status, StaffMicroCredential.expiry_date)
                .where(StaffMicroCredential.user_id.in_(user_ids),
                       StaffMicroCredential.definition_id.in_([d.id for d in definitions]))):
            cells[(credential.user_id, credential.definition_id)] = credential
    return Matrix(staff, definitions, cells, summary)


def credential_filters(today: date, *, definition_id: int | None = None, status: str = "",
                       expires_from: date | None = None, expires_to: date | None = None,
                       risk: str = "", valid: bool = False) -> list[Any]:
    """The conditions on one StaffMicroCredential for the matrix's filters (see
    org_matrix); the CSV export applies the same ones to its rows."""
    conditions: list[Any] = []
    if definition_id is not None:
        conditions.append(StaffMicroCredential.definition_id == definition_id)
    if status in CredentialStatus.__members__:
        conditions.append(StaffMicroCredential.status == CredentialStatus(status))
    if expires_from is not None:
        conditions.append(StaffMicroCredential.expiry_date >= expires_from)
    if expires_to is not None:
        conditions.append(StaffMicroCredential.expiry_date <= expires_to)
    if risk == "expired":
        conditions.append(expired_condition(today))
    if valid:
        conditions.append(valid_condition(today))
    return conditions


def org_credentials_for_export(organization_id: int, *, today: date,
                               definition_id: int | None = None, status: str = "",
                               q: str = "", expires_from: date | None = None,
                               expires_to: date | None = None, risk: str = "",
                               valid: bool = False) -> Select[Any]:
    """The organization's staff credentials as flat rows, for CSV export: the matrix's
    staff, and of their credentials those meeting the matrix's filters (the page's
    search, definition, status, expiry dates, risk and validity), so the file holds
    what the filtered page shows."""
    stmt = (select(User.name, User.email, MicroCredentialDefinition.title,
                   MicroCredentialDefinition.level, StaffMicroCredential.status,
                   StaffMicroCredential.awarded_at, StaffMicroCredential.expiry_date)
            .join(StaffMicroCredential, StaffMicroCredential.user_id == User.id)
            .join(MicroCredentialDefinition,
                  MicroCredentialDefinition.id == StaffMicroCredential.definition_id)
            .where(User.organization_id == organization_id, User.role.in_(ASSIGNABLE_ROLES),
                   *credential_filters(today, definition_id=definition_id, status=status,
                                       expires_from=expires_from, expires_to=expires_to,
                                       risk=risk, valid=valid))
            .order_by(User.name, User.id, MicroCredentialDefinition.level.desc(),
                      MicroCredentialDefinition.title))
    if q.strip():
        stmt = stmt.where(people_matching(q))
    return stmt


@dataclass(frozen=True)
class ExpirySummary:
    """The matrix's headline: expired credentials, and awarded ones due within 30 and
    within 90 days (expiry_band's rule: due today counts as expired)."""

    expired: int
    within_30: int
    within_90: int


def _expiry_counts(today: date) -> tuple[Any, Any, Any]:
    """The summary's three sums (expired, within 30 days, within 90 days)."""
    awarded = StaffMicroCredential.status == CredentialStatus.AWARDED
    expiry = StaffMicroCredential.expiry_date
    expired = expired_condition(today)
    soon, later = (today + timedelta(days=EXPIRY_BANDS[0]),
                   today + timedelta(days=EXPIRY_BANDS[-1]))
    return (func.sum(case((expired, 1), else_=0)).label("expired"),
            func.sum(case((awarded & (expiry > today) & (expiry <= soon), 1),
                          else_=0)).label("within_30"),
            func.sum(case((awarded & (expiry > today) & (expiry <= later), 1),
                          else_=0)).label("within_90"))

