"""The header's global search: people, certificate numbers, tracks and courses, scoped by
the viewer's role (issue 14). One implementation for the results page and the dropdown.

Who finds what:
- admin: everyone, any certificate by its number, every track and course;
- manager: everyone, every track and course (no certificates);
- org admin: the people of their own organization, and certificates (by number) held by
  them; no catalogue;
- staff: the active tracks and their current courses (what /learn shows).

Index-friendly at millions of certificates: a certificate is found only by its exact
number (CERT-YYYY-NNNNN, the unique index on `number`); people through people_matching
(the trigram indexes on lower(name) and email on PostgreSQL) with at least
MIN_PEOPLE_QUERY characters; tracks and courses are small tables. Every query has a
small LIMIT (`limit`, at most MAX_LIMIT) and text is bounded and cleaned first, so no
input can cost more than a few index probes or raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, load_only, selectinload

from app.extensions import db
from app.models import Certificate, CertificationTrack, Course, Role, User
from app.services import people
from app.services.certificates.queries import NUMBER_QUERY
from app.services.fields import has_control, strip_bidi
from app.services.users import people_matching

MAX_QUERY = 100  # characters kept of what was typed
# Trigram indexes answer patterns of three characters or more; shorter ones would scan.
MIN_PEOPLE_QUERY = 3
MAX_LIMIT = 50


@dataclass
class SearchResults:
    q: str
    people: list[User] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    tracks: list[CertificationTrack] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.people) + len(self.certificates) + len(self.tracks) + len(self.courses)


def clean_query(raw: object) -> str:
    """What is searched for: text without control or bidi characters, whitespace
    collapsed, at most MAX_QUERY characters; anything else (a list, None) is ""."""
    if not isinstance(raw, str):
        return ""
    text = strip_bidi("".join(" " if has_control(ch) else ch for ch in raw))
    return " ".join(text.split())[:MAX_QUERY]


def scope(viewer: User) -> frozenset[str]:
    """The kinds of result the viewer may see."""
    if viewer.role == Role.ADMIN:
        return frozenset({"people", "certificates", "tracks", "courses"})
    if viewer.role == Role.MANAGER:
        return frozenset({"people", "tracks", "courses"})
    if viewer.role == Role.ORG_ADMIN:
        return (frozenset({"people", "certificates"}) if viewer.organization_id is not None
                else frozenset())
    return frozenset({"tracks", "courses"})


def search(viewer: User, raw_query: object, *, limit: int = 5) -> SearchResults:
    """Up to `limit` results of each kind the viewer may see, best first."""
    q = clean_query(raw_query)
    limit = max(1, min(limit, MAX_LIMIT))
    results = SearchResults(q=q)
    if not q:
        return results
    kinds = scope(viewer)
    number = q.upper()
    if NUMBER_QUERY.fullmatch(number):
        # A certificate number is looked up, not matched: nothing else is searched.
        if "certificates" in kinds:
            results.certificates = _certificate(viewer, number)
        return results
    if "people" in kinds and len(q) >= MIN_PEOPLE_QUERY:
        results.people = _people(viewer, q, limit)
    if "tracks" in kinds:
        results.tracks = _tracks(viewer, q, limit)
    if "courses" in kinds:
        results.courses = _courses(viewer, q, limit)
    return results


def _certificate(viewer: User, number: str) -> list[Certificate]:
    # Its people, course and track by primary key afterwards: the lookup itself stays a
    # single probe of the unique index on number (a join here let the planner walk
    # another index instead).
    stmt = (select(Certificate).where(Certificate.number == number)
            .options(selectinload(Certificate.recipient), selectinload(Certificate.course),
                     selectinload(Certificate.track)))
    certificate = db.session.scalar(stmt)
    if certificate is None:
        return []
    if not people.may_see(viewer, certificate.recipient):
        return []  # another organization's: as if it did not exist
    return [certificate]


def _people(viewer: User, q: str, limit: int) -> list[User]:
    stmt = (select(User).where(people_matching(q), people.visible_to(viewer))
            .options(load_only(User.id, User.name, User.email, User.role,
                               User.organization_id, User.active),
                     joinedload(User.organization))
            # By lower(name), which no b-tree orders: the planner takes the matches from
            # the trigram indexes and sorts the few, rather than walking every name in
            # order hoping to meet a match (a full scan for a rare one).
            .order_by(func.lower(User.name), User.id).limit(limit))
    return list(db.session.scalars(stmt))


def _pattern_in(column: object, q: str) -> object:
    return func.lower(column).contains(q.lower(), autoescape=True)


def _tracks(viewer: User, q: str, limit: int) -> list[CertificationTrack]:
    stmt = (select(CertificationTrack).where(_pattern_in(CertificationTrack.name, q))
            .order_by(CertificationTrack.name, CertificationTrack.id).limit(limit))
    if viewer.role not in (Role.ADMIN, Role.MANAGER):
        stmt = stmt.where(CertificationTrack.active.is_(True))
    return list(db.session.scalars(stmt))


def _courses(viewer: User, q: str, limit: int) -> list[Course]:
    stmt = (select(Course).join(Course.track).where(_pattern_in(Course.title, q))
            .options(joinedload(Course.track))
            .order_by(Course.title, Course.id).limit(limit))
    if viewer.role not in (Role.ADMIN, Role.MANAGER):
        stmt = stmt.where(CertificationTrack.active.is_(True), Course.archived_at.is_(None))
    return list(db.session.scalars(stmt))
