"""Finding certificates: by id, the one live (pending or issued) certificate of a
recipient, subject and type (and the Conflict a second one gets), the admin list's
filters and search (a certificate number matches exactly; other text matches the
recipient's name or email), its capped count, and a person's certificates and checks."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from math import ceil
from typing import Any

import psycopg
from psycopg.adapt import Dumper
from psycopg.postgres import types as psycopg_types
from psycopg.pq import Format
from sqlalchemy import Select, String, Text, any_, bindparam, cast, func, select
from sqlalchemy.orm import aliased, defer, joinedload, selectinload
from sqlalchemy.sql.util import ClauseAdapter
from sqlalchemy.types import NullType

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    CertificationTrack,
    Course,
    User,
)
from app.models.certificates import major_of
from app.services.dates import utc_midnight
from app.services.errors import Conflict, NotFound
from app.services.keyset import (
    KeysetPage,
    Order,
    capped,
    capped_count_statement,
    count_capped,
    decode_pair,
    keyset_page,
)
from app.services.pagination import MAX_PAGE, MAX_PER_PAGE, Page
from app.services.sorting import Sort, Sorting
from app.services.users import people_like, people_pattern

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
    # Expiry dates, both inclusive (the dashboard's "expiring in 31-60 days" links).
    expires_from: date | None = None
    expires_to: date | None = None


# A name search looks the people up first, once (trigram indexes on PostgreSQL, migration
# 0021), and then reads their certificates by that list: the planner sees how many people
# it is and picks the list order's index or the recipients' by that. Beyond this many
# people (a one-letter search) the IN takes the subquery instead.
PEOPLE_LIST_LIMIT = 5_000


def _recipient_terms(q: str) -> tuple[dict[str, Any], int]:
    """The parameters of _matching_statement's people condition for a name search, and
    how many people it names (PEOPLE_LIST_LIMIT + 1: more). `recipient_ids` the people
    found; `people_q` (too many to list) the pattern the condition looks them up by."""
    pattern = people_pattern(q)
    if db.session.get_bind().dialect.name == "postgresql":
        # The ids come back as one text, PostgreSQL's own '{1,2,3}' (array_agg::text),
        # and go out again as one array parameter typed integer[] (IntArrayText): the
        # server parses it once, at bind time, and the planner sees how many people it
        # is. No id becomes a Python object: 3,800 people of a common surname were
        # 3,800 rows through the ORM (~1/3 of the page's Python calls, issue 16).
        count, ids_text = db.session.execute(_people_lookup(True), {"people_q": pattern}).one()
        if count > PEOPLE_LIST_LIMIT:
            return {"people_q": pattern}, count
        return {"recipient_ids": IntArrayText(ids_text)}, count
    ids = list(db.session.scalars(_people_lookup(False), {"people_q": pattern}))
    if len(ids) > PEOPLE_LIST_LIMIT:
        return {"people_q": pattern}, len(ids)
    return {"recipient_ids": ids}, len(ids)


@cache
def _people_lookup(as_array_text: bool) -> Select[Any]:
    """The people a name search names (their ids, at most PEOPLE_LIST_LIMIT + 1): built
    once, run with each search's `people_q`. `as_array_text`: (how many, the ids as
    PostgreSQL's array text)."""
    people = select(User.id).where(people_like(
        bindparam("people_q", type_=String(), required=True))).limit(
        PEOPLE_LIST_LIMIT + 1)
    if not as_array_text:
        return people
    matched = people.subquery()
    return select(func.count(), func.coalesce(cast(func.array_agg(matched.c.id), Text), "{}"))


class IntArrayText(str):
    """An integer[] parameter already in PostgreSQL's text form, '{1,2,3}', sent with the
    integer[] type by its psycopg dumper below. psycopg's own dump of a Python list of
    ints costs ~0.5 µs an element (3,800 people of a common surname: ~2 ms a statement, and
    a search page has two); the text costs ~0.1 µs. Not a text value cast in the SQL
    (50c5ac9): PostgreSQL evaluates such a cast for every row it tests."""

    @classmethod
    def of(cls, ids: list[int]) -> IntArrayText:
        return cls("{" + ",".join(map(str, map(int, ids))) + "}")


class _IntArrayTextDumper(Dumper):
    format = Format.TEXT
    oid = psycopg_types["int4"].array_oid

    def dump(self, obj: Any) -> bytes:
        return str(obj).encode("ascii")


# Every connection copies the global adapters when it is made, so this is registered at
# import, before the app's engine connects.
psycopg.adapters.register_dumper(IntArrayText, _IntArrayTextDumper)


# Many-to-one, so joined in the page's own query (one round trip, no IN lists).
_ROW_LOADS = (joinedload(Certificate.recipient), joinedload(Certificate.course),
              joinedload(Certificate.track), joinedload(Certificate.issued_by),
              joinedload(Certificate.recommended_by))


# What the admin page's rows show, and no more: the snapshot (JSON parsed per row) and
# the signed credential stay unread, and the people are read for their name and email.
_PAGE_LOADS = (defer(Certificate.snapshot), defer(Certificate.credential_jws),
               joinedload(Certificate.recipient).load_only(User.id, User.name, User.email),
               joinedload(Certificate.course), joinedload(Certificate.track),
               joinedload(Certificate.issued_by).load_only(User.id, User.name),
               joinedload(Certificate.recommended_by).load_only(User.id, User.name))


# What the API's pages read (serializers.to_api): every certificate column but the signed
# credential, and the people's id, name and email only, not their fifteen columns (three
# of them datetimes converted on every row; issue 16).
_API_LOADS = (defer(Certificate.credential_jws),
              joinedload(Certificate.recipient).load_only(User.id, User.name, User.email),
              joinedload(Certificate.course), joinedload(Certificate.track),
              joinedload(Certificate.issued_by).load_only(User.id, User.name, User.email),
              joinedload(Certificate.recommended_by).load_only(User.id, User.name,
                                                               User.email))


# The admin page's rows as plain tuples (issue 16): one SELECT of the columns a row shows,
# with its people, course and track outer-joined, and no ORM entities (five per row, ~1/5
# of the page's app CPU). ListRow carries the names certificate_rows() and the standing
# read; the Pending tab's cards read more (notes, figures) and keep entities.
_Recipient, _IssuedBy, _RecommendedBy = (aliased(User, name=n) for n in
                                         ("recipient", "issued_by", "recommended_by"))
# The certificate columns a row reads (and the people it joins by), chosen on
# certificates alone: filtered, ordered and limited to the page before anything is joined.
_PAGE_COLUMNS = (
    Certificate.id, Certificate.status, Certificate.type, Certificate.number,
    Certificate.issued_at, Certificate.expires_at, Certificate.course_id,
    Certificate.track_id, Certificate.track_version, Certificate.recipient_id,
    Certificate.issued_by_id, Certificate.recommended_by_id)
_JOINED_COLUMNS = (
    _Recipient.id.label("recipient_id"), _Recipient.name.label("recipient_name"),
    _Recipient.email.label("recipient_email"),
    Course.title.label("course_title"), Course.track_id.label("course_track_id"),
    CertificationTrack.name.label("track_name"),
    CertificationTrack.version_major.label("track_major"),
    CertificationTrack.version_minor.label("track_minor"),
    CertificationTrack.major_version_changed_at.label("major_changed_at"),
    CertificationTrack.recertification_grace_days.label("grace_days"),
    _IssuedBy.name.label("issued_by_name"), _RecommendedBy.name.label("recommended_by_name"))


@dataclass(frozen=True, slots=True)
class Named:
    """A person, course or track as a list row shows it."""
    id: int | None = None
    name: str = ""
    email: str = ""
    title: str = ""
    track_id: int | None = None
    version: str = ""


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of the admin list: the attributes of a Certificate that its row reads
    (certificate_rows, certificate_badge), and the version terms the standing takes from
    a non-ORM row (status._version_terms: covered_major, track_major, ...)."""
    id: int
    status: CertificateStatus
    type: CertificateType
    number: str | None
    issued_at: Any
    expires_at: date | None
    course_id: int | None
    track_id: int | None
    track_version: str | None
    recipient: Named
    course: Named | None
    track: Named | None
    issued_by: Named | None
    recommended_by: Named | None
    covered_major: int | None
    track_major: int | None
    major_changed_at: Any
    grace_days: int

    @classmethod
    def of(cls, r: Any) -> ListRow:
        track = (Named(id=r.track_id, name=r.track_name,
                       version=f"{r.track_major}.{r.track_minor}")
                 if r.track_id is not None and r.track_name is not None else None)
        # A course certificate is never sent back by its track's version (status.py).
        terms = track is not None and r.course_id is None
        return cls(
            id=r.id, status=r.status, type=r.type, number=r.number, issued_at=r.issued_at,
            expires_at=r.expires_at, course_id=r.course_id, track_id=r.track_id,
            track_version=r.track_version,
            recipient=Named(id=r.recipient_id, name=r.recipient_name, email=r.recipient_email),
            course=(Named(id=r.course_id, title=r.course_title, track_id=r.course_track_id)
                    if r.course_id is not None and r.course_title is not None else None),
            track=track,
            issued_by=Named(name=r.issued_by_name) if r.issued_by_name is not None else None,
            recommended_by=(Named(name=r.recommended_by_name)
                            if r.recommended_by_name is not None else None),
            covered_major=major_of(r.track_version) if terms else None,
            track_major=r.track_major if terms else None,
            major_changed_at=r.major_changed_at if terms else None,
            grace_days=(r.grace_days or 0) if terms else 0)


def _as_rows(stmt: Select[Any]) -> Select[Any]:
    """`stmt` (a page of select(Certificate): the list's filters, order and LIMIT) as the
    rows' columns: the page's certificates in a subquery, then their people, course and
    track joined to those rows alone, in the same order. PostgreSQL plans the five joins
    over 26 rows in a fraction of what planning them over the whole table took (at ten
    million certificates 2.7 ms of the page statement's 4, on every list view; issue 16)."""
    page = stmt.with_only_columns(*_PAGE_COLUMNS, maintain_column_froms=True).subquery("page")
    c = page.c
    in_page = ClauseAdapter(page).traverse  # the list's ORDER BY, on the page's columns
    return (select(c.id, c.status, c.type, c.number, c.issued_at, c.expires_at, c.course_id,
                   c.track_id, c.track_version, *_JOINED_COLUMNS)
            .select_from(page)
            .join(_Recipient, _Recipient.id == c.recipient_id)
            .outerjoin(Course, Course.id == c.course_id)
            .outerjoin(CertificationTrack, CertificationTrack.id == c.track_id)
            .outerjoin(_IssuedBy, _IssuedBy.id == c.issued_by_id)
            .outerjoin(_RecommendedBy, _RecommendedBy.id == c.recommended_by_id)
            .order_by(*(in_page(clause) for clause in stmt._order_by_clauses)))


def search(filters: CertificateFilters) -> Select[tuple[Certificate]]:
    """Certificates matching the filters: newest issue first (pending: oldest first),
    with what a row shows loaded. status "revoked" lists the superseded ones as well
    (neither is valid any more)."""
    return matching(filters).options(*_ROW_LOADS)


def matching(filters: CertificateFilters) -> Select[tuple[Certificate]]:
    """search() without loading the rows' people, course and track (for ids, counts)."""
    return _matching(filters)[0]


def _matching(filters: CertificateFilters) -> tuple[Select[tuple[Certificate]], int | None]:
    """matching(), and how many people a name search found (None: no name search)."""
    tab, params, people = _terms(filters)
    return _matching_statement(tab, params), people


def _terms(filters: CertificateFilters) -> tuple[str, dict[str, Any], int | None]:
    """What _matching_statement() builds from the filters: the tab ("REVOKED" lists the
    superseded too, a status by itself, "" every status), the values of the conditions it
    has by name, and how many people a name search found (None: no name search). The
    tab and the names are all the statement's SQL depends on."""
    status = filters.status.upper()
    tab = status if status in S.__members__ else ""
    params: dict[str, Any] = {}
    people = None
    q = filters.q.strip()
    if NUMBER_QUERY.fullmatch(q.upper()):
        params["number"] = q.upper()
    elif q:
        found, people = _recipient_terms(q)
        params.update(found)
    for name in ("course_id", "track_id", "user_id"):
        if getattr(filters, name) is not None:
            params[name] = getattr(filters, name)
    if filters.type.upper() in CertificateType.__members__:
        params["type"] = CertificateType(filters.type.upper())
    if filters.date_from:
        params["issued_from"] = utc_midnight(filters.date_from)
    if filters.date_to and filters.date_to < date.max:
        params["issued_before"] = utc_midnight(
            date.fromordinal(filters.date_to.toordinal() + 1))
    if filters.expires_from:
        params["expires_from"] = filters.expires_from
    if filters.expires_to:
        params["expires_to"] = filters.expires_to
    return tab, params, people


def _matching_statement(tab: str, params: dict[str, Any], *,
                        cached: bool = False) -> Select[tuple[Certificate]]:
    """The list's certificates for _terms(): each condition a parameter named as in
    `params`, holding its value; `cached`: holding none, required at execution, so that
    the statement built once for a tab and these names serves every request's values
    (and keeps no one's ids)."""
    stmt = select(Certificate)
    if tab == S.REVOKED:  # the Revoked tab: superseded ones too
        stmt = stmt.where(Certificate.status.in_([S.REVOKED, S.SUPERSEDED]))
    elif tab:
        stmt = stmt.where(Certificate.status == S(tab))
    for name, value in params.items():
        stmt = stmt.where(_condition(name, value, cached))
    if tab == "PENDING":
        return stmt.order_by(Certificate.recommended_at.asc().nulls_last(), Certificate.id)
    return stmt.order_by(Certificate.issued_at.desc().nulls_last(), Certificate.id.desc())


# _terms()'s names of a comparison with a column: the column and the comparison.
_COMPARED = {
    "number": (Certificate.number, operator.eq),
    "course_id": (Certificate.course_id, operator.eq),
    "track_id": (Certificate.track_id, operator.eq),
    "user_id": (Certificate.recipient_id, operator.eq),
    "type": (Certificate.type, operator.eq),
    "issued_from": (Certificate.issued_at, operator.ge),
    "issued_before": (Certificate.issued_at, operator.lt),
    "expires_from": (Certificate.expires_at, operator.ge),
    "expires_to": (Certificate.expires_at, operator.le),
}


def _condition(name: str, value: Any, cached: bool) -> Any:
    """The condition _terms()'s `name` makes, of a parameter of that name (holding
    `value`, or with `cached` none: see _matching_statement)."""
    def param(**kind: Any) -> Any:
        return (bindparam(name, required=True, **kind) if cached
                else bindparam(name, value, **kind))

    if name in _COMPARED:
        column, compare = _COMPARED[name]
        return compare(column, param(type_=column.type))
    if name == "people_q":  # too many people to list: looked up by the pattern
        return Certificate.recipient_id.in_(
            select(User.id).where(people_like(param(type_=String()))))
    if db.session.get_bind().dialect.name == "postgresql":  # an IntArrayText
        return Certificate.recipient_id == any_(param(type_=NullType()))
    return Certificate.recipient_id.in_(param(expanding=True))


# Counting stops here (the page shows "of 10000+"): an exact count of a million-row tab
# reads every index entry of it, ~200 ms, on every page view.
COUNT_LIMIT = 10_000


def find(filters: CertificateFilters, page: int, per_page: int) -> Page[Certificate]:
    """A numbered page (the API's `page`). OFFSET reads every row it skips, so it skips
    ids only (an index-only scan of the list order) and then loads the page's rows."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    stmt, people = _matching(filters)
    # In list order (the list's index), except a people search (see find_keyset).
    total, capped = count_capped(stmt, max(COUNT_LIMIT, page * per_page),
                                 ordered=people is None)
    page = min(page, max(1, ceil(total / per_page)))
    ids = list(db.session.scalars(stmt.with_only_columns(Certificate.id)
                                  .limit(per_page).offset((page - 1) * per_page)))
    rows = {c.id: c for c in db.session.scalars(
        select(Certificate).options(*_API_LOADS).where(Certificate.id.in_(ids))).unique()}
    return Page(items=[rows[i] for i in ids if i in rows], page=page, per_page=per_page,
                total=total, total_capped=capped)


#: The sorts the list offers, only those an index reads in order at ten million rows
#: (migration 0021's list-order indexes, read forward or backward under every filter):
#: issued newest or oldest first; the Pending tab's recommendations oldest or newest
#: first. Not offered: expiry (its index, status + expires_at, has no id to break ties
#: and no course, type or recipient to filter by), names (a join and a sort of every
#: match).
ISSUED_SORTS = Sorting({"issued": (Certificate.issued_at,)}, default="issued",
                       default_dir="desc", tiebreak=Certificate.id)
PENDING_SORTS = Sorting({"recommended": (Certificate.recommended_at,)},
                        default="recommended", tiebreak=Certificate.id)


def sorts_for(filters: CertificateFilters) -> Sorting:
    return PENDING_SORTS if filters.status.upper() == "PENDING" else ISSUED_SORTS


def list_order(filters: CertificateFilters, sort: Sort | None = None) -> Order:
    """search()'s order as a keyset: newest issue first (or oldest, reading the same
    index backward); the Pending tab oldest recommendation first (or newest)."""
    reverse = sort is not None and not sort.is_default
    if filters.status.upper() == "PENDING":
        return Order(Certificate.recommended_at, Certificate.id, descending=reverse,
                     reversed=reverse)
    return Order(Certificate.issued_at, Certificate.id, descending=not reverse,
                 reversed=reverse)


def find_keyset(filters: CertificateFilters, per_page: int, *, after: str | None = None,
                before: str | None = None, page_rows: bool = False,
                sort: Sort | None = None) -> KeysetPage[Certificate]:
    """The page after (older) or before (newer) a cursor of list_order(), or the first:
    any depth costs what the first page costs. `page_rows`: load only what the admin
    page's rows show (the API's serializer reads more). `sort`: one of sorts_for(); its
    cursors carry it. Raises ValidationFailed for a cursor that cannot be read (or of
    the other direction), or both."""
    order = list_order(filters, sort)
    after_, before_ = decode_pair(order, after, before)
    tab, params, people = _terms(filters)
    # The admin page's tables read plain rows (ListRow); its Pending cards, entities.
    tuples = page_rows and tab != "PENDING"
    loads = () if tuples else (_PAGE_LOADS if page_rows else _API_LOADS)

    def statement() -> Select[Any]:
        return _matching_statement(tab, params, cached=True).options(*loads)

    # A search for a few people: their certificates are scattered (in no index order), so
    # the page's ids are sorted from index entries and only its rows are read. Many
    # people: walking the list order finds a page soon, and planning the array twice
    # costs more (3,800 people: 18 ms).
    # The page's and the count's statements are built once for what their SQL depends
    # on (keyset.StatementCache): the tab, the filters given, the rows read, the order.
    shape = ("certificates", db.session.get_bind().dialect.name, tab, tuple(params),
             "rows" if tuples else "page" if page_rows else "api")
    page = keyset_page(statement, order, per_page, after=after_, before=before_,
                       count_limit=COUNT_LIMIT, count_in_order=people is None,
                       ids_first=people is not None and people <= SCATTERED_PEOPLE,
                       columns=_as_rows if tuples else None, cache_key=shape, params=params)
    if tuples:
        page = replace(page, items=[ListRow.of(r) for r in page.items])
    return page


# Up to this many people a name search's page sorts index entries (ids_first in keyset).
SCATTERED_PEOPLE = 500


def pending_count() -> tuple[int, bool]:
    """The Pending tab's badge, capped like the lists' counts (`(COUNT_LIMIT, True)`:
    more): it is on every list view, and an exact count of 140,000 pending reads them all
    (~50 ms at ten million certificates). The cap reads the partial index in order."""
    return capped(db.session.scalar(_pending_count_statement(COUNT_LIMIT)) or 0, COUNT_LIMIT)


@cache
def _pending_count_statement(limit: int) -> Select[tuple[int]]:
    """Built once per cap (the same on every list view and the dashboard): building it
    per request cost 0.35 ms of app CPU, as much as running it (issue 16)."""
    return capped_count_statement(
        select(Certificate).where(Certificate.status == S.PENDING).order_by(
            Certificate.recommended_at.asc().nulls_last(), Certificate.id),
        limit, ordered=True)


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
