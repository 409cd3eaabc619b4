"""Every awarded micro-credential on the platform, for an admin: in good standing
(credentials/status.py valid_condition) or expired (expired_condition), filtered by
expiry range, credential, organization and person, sorted and paged. The admin
dashboard's "Micro-credentials expiring" figures link here with an expiry range, and
count with the same rule, so a figure and its list hold the same rows.

The query string is read by `parse_filters`: an unreadable value is a ValidationFailed
naming the field (a clear 422), never a quietly wider list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import contains_eager

from app.models import MicroCredentialDefinition, Organization, StaffMicroCredential, User
from app.services.credentials.matrix import credential_filters
from app.services.credentials.status import expired_condition, valid_condition
from app.services.errors import ValidationFailed
from app.services.fields import parse_date, parse_id
from app.services.pagination import Page, paginate
from app.services.sorting import Ascending, Sort, Sorting
from app.services.users import people_matching

SMC = StaffMicroCredential
Definition = MicroCredentialDefinition
STATES = ("valid", "expired")
# Counting stops here (a page says "25 of 10,000+"), as on the other dashboard lists.
COUNT_LIMIT = 10_000

_NAME = Ascending(func.lower(User.name))
#: ?sort=expires|name|credential|organization|awarded: the soonest expiry first by default
#: (what falls due next); people A-Z within a date, title or organization.
SORTS = Sorting({
    "expires": (SMC.expiry_date, _NAME),
    "name": (func.lower(User.name),),
    "credential": (func.lower(Definition.title), _NAME),
    "organization": (func.lower(Organization.name), _NAME),
    "awarded": (SMC.awarded_at, _NAME),
}, default="expires", tiebreak=SMC.id, first_dir={"awarded": "desc"})


@dataclass(frozen=True)
class AwardFilters:
    state: str = "valid"  # one of STATES
    definition_id: int | None = None
    organization_id: int | None = None
    q: str = ""
    expires_from: date | None = None  # both inclusive
    expires_to: date | None = None

    def args(self) -> dict[str, Any]:
        """The query arguments that keep these filters (a link, a hidden input)."""
        return {"state": None if self.state == "valid" else self.state,
                "definition_id": self.definition_id, "organization_id": self.organization_id,
                "q": self.q or None,
                "expires_from": self.expires_from.isoformat() if self.expires_from else None,
                "expires_to": self.expires_to.isoformat() if self.expires_to else None}


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _date(args: Mapping[str, Any], field: str) -> date | None:
    raw = args.get(field)
    if raw is None or not str(raw).strip():
        return None
    day = parse_date(raw)
    if day is None:
        raise _refuse(field, "Enter the expiry date as YYYY-MM-DD (for example 2026-03-31).")
    return day


def _id(args: Mapping[str, Any], field: str, message: str) -> int | None:
    raw = args.get(field)
    if raw is None or not str(raw).strip():
        return None
    try:
        return parse_id(raw)
    except ValueError:
        raise _refuse(field, message) from None


def parse_filters(args: Mapping[str, Any]) -> AwardFilters:
    """The list's filters from a query string. Raises ValidationFailed (field named) for
    an unknown state, a date that is not YYYY-MM-DD, an expiry range that ends before it
    starts, or a credential / organization that is not an id."""
    state = str(args.get("state") or "valid").strip().lower()
    if state not in STATES:
        raise _refuse("state", "Show valid or expired credentials.")
    expires_from, expires_to = _date(args, "expires_from"), _date(args, "expires_to")
    if expires_from and expires_to and expires_to < expires_from:
        raise _refuse("expires_to", "The expiry range ends before it starts.")
    return AwardFilters(
        state=state,
        definition_id=_id(args, "definition_id", "Choose a micro-credential from the list."),
        organization_id=_id(args, "organization_id", "Choose an organization from the list."),
        q=str(args.get("q") or "").strip()[:200], expires_from=expires_from,
        expires_to=expires_to)


def standing(state: str, today: date) -> ColumnElement[bool]:
    """The credentials domain's one rule for each state (credentials/status.py)."""
    return valid_condition(today) if state == "valid" else expired_condition(today)


def awarded_credentials(filters: AwardFilters, today: date,
                        sort: Sort | None = None) -> Select[Any]:
    """The awards behind the filters, with their holder, organization and definition
    loaded by the same join (a page costs one query)."""
    stmt = (select(SMC)
            .join(User, User.id == SMC.user_id)
            .join(Definition, Definition.id == SMC.definition_id)
            .outerjoin(Organization, Organization.id == User.organization_id)
            .options(contains_eager(SMC.user).contains_eager(User.organization),
                     contains_eager(SMC.definition))
            .where(standing(filters.state, today),
                   # The matrix's conditions on one credential (the same filters there).
                   *credential_filters(today, definition_id=filters.definition_id,
                                       expires_from=filters.expires_from,
                                       expires_to=filters.expires_to)))
    if filters.organization_id:
        stmt = stmt.where(User.organization_id == filters.organization_id)
    if filters.q:
        stmt = stmt.where(people_matching(filters.q))
    return (sort or SORTS.default_sort()).apply(stmt)


def awarded_page(filters: AwardFilters, today: date, page: int, per_page: int,
                 sort: Sort | None = None) -> Page[StaffMicroCredential]:
    return paginate(awarded_credentials(filters, today, sort), page, per_page,
                    count_limit=COUNT_LIMIT)
