"""Finding certificates: by id, the one live (pending or issued) certificate of a
recipient, subject and type (and the Conflict a second one gets), the admin list's
filters and search (a certificate number matches exactly; other text matches the
recipient's name or email), its capped count, and a person's certificates and checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Integer, Select, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    User,
)
from app.services.dates import utc_midnight
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.keyset import KeysetPage, Order, decode, keyset_page
from app.services.pagination import Page, paginate
from app.services.users import people_matching

S = CertificateStatus
ALREADY = "User already has this certificate"
NUMBER_QUERY = re.compile(r"CERT-\d{4}-\d{5,}")  # a search for one certificate number


def already_live() -> Conflict:
    return Conflict(ALREADY, fields={"user_id": [ALREADY]})


def get_certificate(certificate_id: int) -> Certificate:
    """Raises NotFound."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("Certificate not found.")
    return certificate


def live_certificate(recipient_id: int, course_id: int | None, track_id: int | None,
                     type_: CertificateType, major: int | None = None) -> Certificate | None:
    """The live certificate of a recipient, subject and type (a track certificate: of
    that major version, 1 by default)."""
    key = Certificate.make_live_key(recipient_id, course_id, track_id, type_, major)
    return db.session.scalar(select(Certificate).where(Certificate.live_key == key))


# --- Finding -------------------------------------------------------------------------

@dataclass(frozen=True)
class CertificateFilters:
    status: str = ""
    q: str = ""
    course_id: int | None = None
    track_id: int | None = None
    user_id: int | None = None
    type: str = ""
    date_from: date | None = None
    date_to: date | None = None


# A name search looks the people up first, once (trigram indexes on PostgreSQL, migration
# 0021), and then reads their certificates by that list: the planner sees how many people
# it is and picks the list order's index or the recipients' by that. Beyond this many
# people (a one-letter search) the IN takes the subquery instead.
PEOPLE_LIST_LIMIT = 5_000


def _recipient_in(q: str) -> Any:
    people = select(User.id).where(people_matching(q))
    ids = list(db.session.scalars(people.limit(PEOPLE_LIST_LIMIT + 1)))
    if len(ids) > PEOPLE_LIST_LIMIT:
        return Certificate.recipient_id.in_(people)
    if db.session.get_bind().dialect.name == "postgresql":
        # One array parameter, not thousands of placeholders.
        return Certificate.recipient_id == any_(bindparam(
            "recipient_ids", ids, type_=postgresql.ARRAY(Integer)))
    return Certificate.recipient_id.in_(ids)


def search(filters: CertificateFilters) -> Select[tuple[Certificate]]:
    """Certificates matching the filters: newest issue first (pending: oldest first).
    status "revoked" lists the superseded ones as well (neither is valid any more)."""
    stmt = (select(Certificate)
            # Many-to-one, so joined in the page's own query (one round trip, no IN lists).
            .options(joinedload(Certificate.recipient), joinedload(Certificate.course),
                     joinedload(Certificate.track), joinedload(Certificate.issued_by),
                     joinedload(Certificate.recommended_by)))
    if filters.status.upper() == S.REVOKED:  # the Revoked tab: superseded ones too
        stmt = stmt.where(Certificate.status.in_([S.REVOKED, S.SUPERSEDED]))
    elif filters.status.upper() in S.__members__:
        stmt = stmt.where(Certificate.status == S(filters.status.upper()))
    q = filters.q.strip()
    if NUMBER_QUERY.fullmatch(q.upper()):
        stmt = stmt.where(Certificate.number == q.upper())
    elif q:
        stmt = stmt.where(_recipient_in(q))
    if filters.course_id is not None:
        stmt = stmt.where(Certificate.course_id == filters.course_id)
    if filters.track_id is not None:
        stmt = stmt.where(Certificate.track_id == filters.track_id)
    if filters.user_id is not None:
        stmt = stmt.where(Certificate.recipient_id == filters.user_id)
    if filters.type.upper() in CertificateType.__members__:
        stmt = stmt.where(Certificate.type == CertificateType(filters.type.upper()))
    if filters.date_from:
        stmt = stmt.where(Certificate.issued_at >= utc_midnight(filters.date_from))
    if filters.date_to and filters.date_to < date.max:
        stmt = stmt.where(Certificate.issued_at < utc_midnight(
            date.fromordinal(filters.date_to.toordinal() + 1)))
    if filters.status.upper() == "PENDING":
        return stmt.order_by(Certificate.recommended_at.asc().nulls_last(), Certificate.id)
    return stmt.order_by(Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())


# Counting stops here (the page shows "of 10000+"): an exact count of a million-row tab
# reads every index entry of it, ~200 ms, on every page view.
COUNT_LIMIT = 10_000


def find(filters: CertificateFilters, page: int, per_page: int) -> Page[Certificate]:
    """A numbered page (the API's `page`; OFFSET, so for shallow pages)."""
    return paginate(search(filters), page, per_page, count_limit=COUNT_LIMIT)


def list_order(filters: CertificateFilters) -> Order:
    """search()'s order as a keyset: newest issue first; the Pending tab oldest
    recommendation first."""
    if filters.status.upper() == "PENDING":
        return Order(Certificate.recommended_at, Certificate.id, descending=False)
    return Order(Certificate.issued_at, Certificate.id)


def find_keyset(filters: CertificateFilters, per_page: int, *, after: str | None = None,
                before: str | None = None) -> KeysetPage[Certificate]:
    """The page after (older) or before (newer) a cursor of list_order(), or the first:
    any depth costs what the first page costs. Raises ValidationFailed for a cursor that
    cannot be read, or both."""
    order = list_order(filters)
    if after and before:
        message = "Use after or before, not both."
        raise ValidationFailed(message, fields={"before": [message]})
    return keyset_page(search(filters), order, per_page, after=decode(order, after, "after"),
                       before=decode(order, before, "before"), count_limit=COUNT_LIMIT)


def pending_count() -> int:
    return db.session.scalar(select(func.count(Certificate.id)).where(
        Certificate.status == S.PENDING)) or 0


def certificates_of(user_id: int) -> list[Certificate]:
    """A person's certificates for their /me, rejected requests included (with their
    reason: a rejection does not vanish)."""
    return list(db.session.scalars(
        select(Certificate).options(selectinload(Certificate.course),
                                    selectinload(Certificate.track))
        .where(Certificate.recipient_id == user_id, Certificate.status.in_(
            [S.PENDING, S.ISSUED, S.REJECTED, S.REVOKED, S.SUPERSEDED]))
        .order_by(Certificate.created_at.desc())))


def verifications_of(user_id: int, limit: int = 20) -> list[tuple[Certificate, Any]]:
    """The latest checks of the user's certificates: (certificate, verification)."""
    rows = db.session.execute(
        select(Certificate, CertificateVerification)
        .join(CertificateVerification, CertificateVerification.certificate_id == Certificate.id)
        .where(Certificate.recipient_id == user_id)
        .order_by(CertificateVerification.verified_at.desc()).limit(limit))
    return [(row[0], row[1]) for row in rows]
