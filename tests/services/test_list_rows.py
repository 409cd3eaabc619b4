"""The admin certificate list reads its table rows as plain tuples (queries.ListRow, issue
16): the page a person sees is the one the ORM entities drew, for every kind of row (a
course and a track certificate, issued, expired, needing re-certification, revoked,
superseded by a successor, rejected; with and without an issuer and a recommender), on
every tab, searched, and across pages (the cursors are the same)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType, CertificationTrack
from app.services.certificates.queries import CertificateFilters, ListRow, find_keyset
from app.web.certificate_rows import certificate_rows

S = CertificateStatus
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
URLS = {"detail": ("/admin/certificates/", "?status=issued"), "person": ("/people/", ""),
        "track": ("/training/tracks/", "")}


@pytest.fixture
def rows(app: Any, make_user: Any, make_track: Any, org: Any) -> Any:
    admin = make_user(name="Issuing <Admin>")
    coach = make_user(name="Coach & Co")
    people = [make_user(name=f"Whitlock {i} <b>", organization=org) for i in range(3)]
    track = make_track("Rows & Tracks")
    with app.app_context():
        moved = db.session.get(CertificationTrack, track.id)
        moved.version_major, moved.major_version_changed_at = 2, NOW - timedelta(days=400)
        course_id = track.courses[0].id
        made = []

        def add(**values: Any) -> Certificate:
            values.setdefault("issued_at", NOW - timedelta(days=len(made)))
            certificate = Certificate(recipient_id=people[len(made) % 3].id, **values)
            db.session.add(certificate)
            db.session.flush()
            made.append(certificate)
            return certificate

        number = iter(range(1, 100))
        for kind in (CertificateType.COMPLETION, CertificateType.MASTERY):
            add(type=kind, status=S.ISSUED, course_id=course_id, issued_by_id=admin.id,
                recommended_by_id=coach.id, number=f"CERT-2026-{next(number):05d}")
        add(type=CertificateType.COMPLETION, status=S.ISSUED, track_id=track.id,
            track_version="1.0", number=f"CERT-2026-{next(number):05d}")  # re-certify
        add(type=CertificateType.COMPLETION, status=S.ISSUED, track_id=track.id,
            track_version="2.0", number=f"CERT-2026-{next(number):05d}",
            expires_at=date(2026, 1, 1))  # expired
        old = add(type=CertificateType.TEACHING, status=S.SUPERSEDED, course_id=course_id,
                  number=f"CERT-2026-{next(number):05d}")
        add(type=CertificateType.TEACHING, status=S.ISSUED, course_id=course_id,
            supersedes_id=old.id, number=f"CERT-2026-{next(number):05d}")
        add(type=CertificateType.MASTERY, status=S.REVOKED, track_id=track.id,
            track_version="2.0", issued_by_id=admin.id, number=f"CERT-2026-{next(number):05d}")
        add(type=CertificateType.MASTERY, status=S.REJECTED, course_id=course_id,
            issued_at=None, recommended_by_id=coach.id)
        db.session.commit()
    return app


@pytest.mark.parametrize("status", ["issued", "revoked", "rejected", ""])
@pytest.mark.parametrize("q", ["", "whitlock", "CERT-2026-00003"])
def test_tuple_rows_draw_what_entities_drew(rows: Any, status: str, q: str) -> None:
    filters = CertificateFilters(status=status, q=q)
    today = date(2026, 12, 1)
    with rows.test_request_context():
        fast, slow = find_keyset(filters, 3, page_rows=True), find_keyset(filters, 3)
        pages = 0
        while True:
            assert all(isinstance(item, ListRow) for item in fast.items)
            assert [r.id for r in fast.items] == [c.id for c in slow.items]
            assert (fast.older, fast.newer, fast.total) == (slow.older, slow.newer, slow.total)
            assert (str(certificate_rows(fast.items, URLS, today, select=True))
                    == str(certificate_rows(slow.items, URLS, today, select=True)))
            pages += 1
            if not fast.older:
                break
            fast = find_keyset(filters, 3, after=fast.older, page_rows=True)
            slow = find_keyset(filters, 3, after=slow.older)
        assert pages >= (2 if status in ("", "issued") and not q.startswith("CERT") else 1)


def test_every_kind_of_row_is_on_the_pages(rows: Any) -> None:
    with rows.test_request_context():
        html = str(certificate_rows(find_keyset(CertificateFilters(status=""), 50,
                                                page_rows=True).items, URLS, date(2026, 12, 1)))
    for shown in ("Re-certification required", "Expired", "Superseded", "Revoked", "Rejected",
                  "Active", "by Issuing &lt;Admin&gt;", "recommended by Coach &amp; Co",
                  "Rows &amp; Tracks", "Whitlock 0 &lt;b&gt;"):
        assert shown in html, shown


def test_a_name_search_sends_its_people_as_one_typed_integer_array(rows: Any) -> None:
    """On PostgreSQL the people's ids are one integer[] parameter in its text form (cheap
    for the client), which the server reads as a constant array, never as text cast per
    row (50c5ac9 did that: 3-4x the database's CPU)."""
    from sqlalchemy import text

    from app.services.certificates.queries import IntArrayText

    assert IntArrayText.of([3, 1, 2]) == "{3,1,2}"
    with rows.test_request_context():
        assert find_keyset(CertificateFilters(status="issued", q="whitlock"), 50).total == 5
        if db.engine.dialect.name != "postgresql":
            return
        plan = db.session.connection().exec_driver_sql(
            "EXPLAIN (VERBOSE) SELECT id FROM certificates WHERE recipient_id = ANY(%(ids)s)",
            {"ids": IntArrayText.of([5, 7])}).scalars().all()
        assert "'{5,7}'::integer[]" in "\n".join(plan)
        assert db.session.scalar(text("SELECT pg_typeof(:ids)::text"),
                                 {"ids": IntArrayText.of([5])}) == "integer[]"


def test_a_name_search_keeps_its_people_out_of_python(rows: Any, make_user: Any) -> None:
    """On PostgreSQL the matched people's ids come back as one text (array_agg::text)
    and go out as the integer[] parameter: one row whatever the number of people, so
    the page's Python does not grow with a common surname (issue 16)."""
    from sqlalchemy import event, select

    from app.models import User
    from app.services.certificates.queries import _recipient_terms

    with rows.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the array parameter is PostgreSQL's")
    for i in range(40):
        make_user(name=f"Whitlock Extra {i}")
    fetched: list[int] = []

    def count_rows(conn: Any, cursor: Any, *args: Any) -> None:
        fetched.append(cursor.rowcount)

    with rows.test_request_context():
        expected = set(db.session.scalars(select(User.id).where(User.name.ilike("%whitlock%"))))
        assert len(expected) == 43
        event.listen(db.engine, "after_cursor_execute", count_rows)
        try:
            params, people = _recipient_terms("whitlock")
        finally:
            event.remove(db.engine, "after_cursor_execute", count_rows)
        assert people == 43 and fetched == [1]
        ids = params["recipient_ids"]  # recipient_id = ANY(:recipient_ids)
        assert set(map(int, ids.strip("{}").split(","))) == expected
        assert find_keyset(CertificateFilters(status="issued", q="whitlock"), 50).total == 5


def test_the_page_joins_its_people_course_and_track_to_its_own_rows(rows: Any) -> None:
    """On PostgreSQL the page's certificates are chosen (filtered, ordered, limited) on
    certificates alone and its people, course and track are joined to those rows: the
    plan's Limit is under the joins, not over them, so the joins are planned over a page,
    not the table (planning them was 2.7 ms of the statement's 4 at 10M; issue 16)."""
    from tests.plans import plans_of

    with rows.test_request_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("plans are checked on PostgreSQL")
        for filters in (CertificateFilters(status="issued"),
                        CertificateFilters(status="revoked", q="whitlock")):
            plans = plans_of(lambda f=filters: find_keyset(f, 2, page_rows=True),
                             keep=lambda sql: "JOIN users AS recipient" in sql)
            assert plans, filters
            for plan in plans:
                top, *_ = plan.splitlines()
                assert not top.startswith("Limit"), plan
                assert "->  Limit" in plan, plan


def _expected_ids(filters: CertificateFilters, descending: bool = True) -> list[int]:
    """The list's rows worked out in Python, from every certificate: what the cached
    statements must find for these filters, newest issue first (or oldest), the ones
    never issued last either way (by id, in the same direction)."""
    from app.models import User

    def keep(c: Certificate) -> bool:
        person = db.session.get(User, c.recipient_id)
        q = filters.q.strip().lower()
        status = filters.status.upper()
        return ((not status or c.status == S(status)
                 or (status == S.REVOKED and c.status == S.SUPERSEDED))
                and (not q or (q.upper() == c.number if q.startswith("cert-")
                               else q in person.name.lower() or q in person.email))
                and filters.course_id in (None, c.course_id)
                and filters.user_id in (None, c.recipient_id)
                and (not filters.type or c.type == CertificateType(filters.type.upper()))
                and (filters.date_from is None or (
                    c.issued_at is not None and c.issued_at.date() >= filters.date_from)))

    matched = [c for c in db.session.scalars(db.select(Certificate)) if keep(c)]
    issued = sorted((c for c in matched if c.issued_at is not None),
                    key=lambda c: (c.issued_at, c.id), reverse=descending)
    never = sorted((c for c in matched if c.issued_at is None), key=lambda c: c.id,
                   reverse=descending)
    return [c.id for c in issued + never]


@pytest.mark.parametrize("field, values", [
    ("q", ["whitlock 0", "whitlock 1", "whitlock 2"]),
    ("q", ["CERT-2026-00001", "CERT-2026-00004"]),
    ("type", ["mastery", "completion", "teaching"]),
    ("status", ["issued", "revoked", "rejected"]),
    ("date_from", [date(2026, 10, 30), date(2026, 10, 28)]),
    ("user_id", [0, 1, 2]),
])
@pytest.mark.parametrize("page_rows", [True, False], ids=["rows", "entities"])
def test_statements_built_once_run_with_each_requests_values(
        rows: Any, field: str, values: list[Any], page_rows: bool) -> None:
    """The page's and the count's statements are built once for the filters given
    (keyset.StatementCache) and run with each request's values: filters of the same kind
    with other values, page after page by cursor (older, then newer back to the first),
    in either order, as rows or entities, find the rows they name, not the ones of the
    request that built the statement."""
    from app.models import User
    from app.services.certificates.queries import ISSUED_SORTS
    from app.services.keyset import STATEMENTS

    with rows.test_request_context():
        people = [u.id for u in db.session.scalars(db.select(User).where(
            User.name.like("Whitlock%")).order_by(User.id))]
        STATEMENTS._statements.clear()
        for direction, value in [(d, v) for d in ("desc", "asc", "desc")
                                 for v in [*values, values[0]]]:
            sort = ISSUED_SORTS.parse("issued", direction)
            value = people[value] if field == "user_id" else value
            filters = CertificateFilters(**{field: value})
            expected = _expected_ids(filters, descending=direction == "desc")
            assert expected, filters  # the data has rows for every value

            def page_of(filters: Any = filters, sort: Any = sort, **cursor: Any) -> Any:
                return find_keyset(filters, 2, page_rows=page_rows, sort=sort, **cursor)

            pages = [page_of()]
            for _ in range(len(expected)):  # at most: a page repeated would never end
                assert pages[-1].total == len(expected), filters
                if pages[-1].older is None:
                    break
                pages.append(page_of(after=pages[-1].older))
            assert [r.id for p in pages for r in p.items] == expected, filters
            for older, newer in pairwise(pages):  # and back: newer by newer
                back = page_of(before=newer.newer)
                assert [r.id for r in back.items] == [r.id for r in older.items], filters
        assert STATEMENTS._statements  # they were cached


_FILTERS = st.fixed_dictionaries({}, optional={
    "status": st.sampled_from(["issued", "revoked", "rejected", "pending", "", "bogus"]),
    "q": st.sampled_from(["whitlock", "whitlock 1", "<b>", "%", "_", "/", "co", "nobody",
                          "CERT-2026-00002", "CERT-2026-00009"]),
    "type": st.sampled_from(["completion", "mastery", "teaching", ""]),
    "date_from": st.sampled_from([date(2026, 10, 27), date(2026, 10, 31)]),
    "date_to": st.sampled_from([date(2026, 10, 30), date(2026, 11, 2)]),
    "expires_from": st.sampled_from([date(2025, 6, 1), date(2026, 6, 1)]),
})


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.tuples(_FILTERS, st.integers(1, 4), st.sampled_from(["desc", "asc"]),
                                   st.booleans()), min_size=2, max_size=6))
def test_any_requests_one_after_another_get_what_a_fresh_build_gets(
        rows: Any, requests: list[tuple[dict[str, Any], int, str, bool]]) -> None:
    """Generated runs of list requests sharing the statement cache, each walked page by
    page: every page (rows, cursors, count) is what the same request gets with the
    statements built afresh."""
    from app.services.certificates.queries import sorts_for
    from app.services.keyset import STATEMENTS

    def walk(filters: CertificateFilters, per_page: int, direction: str,
             page_rows: bool, fresh: bool) -> list[Any]:
        sort = sorts_for(filters).parse(None, direction)
        seen, after = [], None
        for _ in range(12):
            if fresh:
                STATEMENTS._statements.clear()
            page = find_keyset(filters, per_page, page_rows=page_rows, sort=sort, after=after)
            seen.append(([item.id for item in page.items], page.total, page.older, page.newer))
            if page.older is None:
                break
            after = page.older
        return seen

    with rows.test_request_context():
        STATEMENTS._statements.clear()
        shared = [walk(CertificateFilters(**f), n, d, r, fresh=False) for f, n, d, r in requests]
        fresh = [walk(CertificateFilters(**f), n, d, r, fresh=True) for f, n, d, r in requests]
    assert shared == fresh
