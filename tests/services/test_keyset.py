"""Keyset pagination (app/services/keyset.py) over the admin lists: every row once, in
order, across pages, with ties on the sort key and NULL keys; filters kept; unreadable
cursors refused with ValidationFailed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType, User
from app.services import keyset
from app.services.certificates.queries import CertificateFilters, find_keyset, search
from app.services.errors import ValidationFailed

S = CertificateStatus
BASE = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _certificates(app: Any, people: list[User], track: Any) -> None:
    """30 issued (in groups of three with the very same issue time: ties), 4 revoked, 5
    pending (two without a recommendation time) and 3 rejected (no issue time: NULL keys
    in the every-status list)."""
    with app.app_context():
        rows = []
        for i in range(30):
            rows.append(Certificate(type=CertificateType.COMPLETION, status=S.ISSUED,
                                    recipient_id=people[i % len(people)].id, track_id=track.id,
                                    number=f"CERT-2026-{i + 1:05d}",
                                    issued_at=BASE - timedelta(hours=i // 3)))
        for i in range(4):
            rows.append(Certificate(type=CertificateType.MASTERY, status=S.REVOKED,
                                    recipient_id=people[i % len(people)].id, track_id=track.id,
                                    number=f"CERT-2026-{i + 101:05d}",
                                    issued_at=BASE - timedelta(days=2, hours=i // 2)))
        for i in range(5):
            rows.append(Certificate(type=CertificateType.TEACHING, status=S.PENDING,
                                    recipient_id=people[i % len(people)].id, track_id=track.id,
                                    recommended_at=None if i < 2 else BASE - timedelta(days=i)))
        for i in range(3):
            rows.append(Certificate(type=CertificateType.TEACHING, status=S.REJECTED,
                                    recipient_id=people[i].id, track_id=track.id))
        db.session.add_all(rows)
        db.session.commit()


@pytest.fixture
def listed(app: Any, make_user: Any, org: Any, make_track: Any) -> Any:
    people = [make_user(name=f"Person {i}", organization=org) for i in range(4)]
    _certificates(app, people, make_track("Keyset track", exam=False))
    return app


def _everything(filters: CertificateFilters) -> list[int]:
    return [c.id for c in db.session.scalars(search(filters)).unique()]


def _walk_forward(filters: CertificateFilters, per_page: int) -> list[int]:
    seen: list[int] = []
    page = find_keyset(filters, per_page)
    pages = 0
    while True:
        assert len(page.items) <= per_page
        seen += [c.id for c in page.items]
        pages += 1
        assert pages < 100
        if page.older is None:
            return seen
        page = find_keyset(filters, per_page, after=page.older)
        assert page.newer is not None  # a page after the first has a way back


@pytest.mark.parametrize("status", ["issued", "", "revoked", "pending", "rejected"])
@pytest.mark.parametrize("per_page", [1, 4, 7, 25])
def test_older_pages_list_every_row_once_in_order(listed: Any, status: str,
                                                  per_page: int) -> None:
    with listed.app_context():
        filters = CertificateFilters(status=status)
        expected = _everything(filters)
        assert expected, status
        assert _walk_forward(filters, per_page) == expected


@pytest.mark.parametrize("status", ["issued", "", "pending"])
def test_newer_pages_walk_back_to_the_first(listed: Any, status: str) -> None:
    with listed.app_context():
        filters = CertificateFilters(status=status)
        expected = _everything(filters)
        # Go to the last page, then back by `before` until the first.
        page = find_keyset(filters, 4)
        while page.older is not None:
            page = find_keyset(filters, 4, after=page.older)
        back = [c.id for c in page.items]
        while page.newer is not None:
            page = find_keyset(filters, 4, before=page.newer)
            back = [c.id for c in page.items] + back
        assert page.items and page.newer is None  # the first page, whole
        assert [c.id for c in page.items] == expected[:4]
        # Every row is there, in order; the first page may overlap the one after it
        # when the list does not divide into whole pages from the end.
        deduplicated = list(dict.fromkeys(back))
        assert deduplicated == expected


def test_filters_are_kept_across_pages(listed: Any) -> None:
    with listed.app_context():
        person = db.session.scalar(db.select(User).where(User.name == "Person 1"))
        filters = CertificateFilters(status="issued", user_id=person.id)
        ids = _walk_forward(filters, 2)
        rows = [db.session.get(Certificate, i) for i in ids]
        assert len(ids) == 8 and {c.recipient_id for c in rows} == {person.id}
        assert {c.status for c in rows} == {S.ISSUED}


def test_ties_on_the_issue_time_are_ordered_by_id(listed: Any) -> None:
    with listed.app_context():
        page = find_keyset(CertificateFilters(status="issued"), 2)  # splits a tie of three
        rest = find_keyset(CertificateFilters(status="issued"), 2, after=page.older)
        first_three = [c for c in page.items] + [rest.items[0]]
        assert len({c.issued_at for c in first_three}) == 1
        ids = [c.id for c in first_three]
        assert ids == sorted(ids, reverse=True)


def test_count_is_capped(listed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services.certificates import queries

    monkeypatch.setattr(queries, "COUNT_LIMIT", 10)
    with listed.app_context():
        page = find_keyset(CertificateFilters(status="issued"), 4)
        assert (page.total, page.total_capped) == (10, True)
        page = find_keyset(CertificateFilters(status="revoked"), 4)
        assert (page.total, page.total_capped) == (4, False)


@pytest.mark.parametrize("scattered", [0, 500])
@pytest.mark.parametrize("status", ["issued", ""])
def test_a_people_search_pages_the_same_rows_ids_first_or_not(
        listed: Any, monkeypatch: pytest.MonkeyPatch, status: str, scattered: int) -> None:
    """A search for a few people picks each page's ids in a subquery (ids_first), one for
    many people walks the list order: the same rows, in order, either way, both ways."""
    from app.services.certificates import queries

    monkeypatch.setattr(queries, "SCATTERED_PEOPLE", scattered)
    with listed.app_context():
        filters = CertificateFilters(status=status, q="person 1")
        expected = _everything(filters)
        assert expected
        assert _walk_forward(filters, 3) == expected
        page = find_keyset(filters, 3, after=find_keyset(filters, 3).older)
        back = find_keyset(filters, 3, before=page.newer)
        assert [c.id for c in back.items] == expected[:3]
        assert (page.total, page.total_capped) == (len(expected), False)


@pytest.mark.parametrize("scattered", [0, 500])
@pytest.mark.parametrize("q", ["", "person 1"])
@pytest.mark.parametrize("status", ["", "pending", "rejected"])
def test_a_first_page_reads_both_segments_in_one_statement(
        listed: Any, monkeypatch: pytest.MonkeyPatch, status: str, q: str,
        scattered: int) -> None:
    """A first page longer than the list's rows with a key (NULL keys: pending ones with
    no recommendation, rejected ones with no issue time) reads them and the NULL ones in
    one statement, in list order (issue 16: a one-person search paid a second)."""
    from sqlalchemy import event

    from app.services.certificates import queries

    monkeypatch.setattr(queries, "SCATTERED_PEOPLE", scattered)
    with listed.app_context():
        filters = CertificateFilters(status=status, q=q)
        expected = _everything(filters)
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            page = find_keyset(filters, len(expected) + 1)
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
        assert [c.id for c in page.items] == expected and page.older is None
        pages = [s for s in statements if "FROM certificates" in s and "count(" not in s]
        assert len(pages) == 1, pages


def test_a_capped_count_in_list_order_counts_the_same(listed: Any) -> None:
    with listed.app_context():
        stmt = queries_matching(CertificateFilters(status="issued"))
        assert keyset.count_capped(stmt, 100, ordered=True) == (30, False)
        assert keyset.count_capped(stmt, 100) == (30, False)
        assert keyset.count_capped(stmt, 29, ordered=True) == (29, True)


def queries_matching(filters: CertificateFilters) -> Any:
    from app.services.certificates.queries import matching

    return matching(filters)


@pytest.mark.parametrize("cursor", ["x", "1", "1.", ".1", "n.", "1.2.3", "9" * 30 + ".1",
                                    "1.99999999999", "-1" + "0" * 18 + ".1", " ", "n.-1",
                                    "1.1\x00", "١٢.٣"])
def test_unreadable_cursors_are_refused(listed: Any, cursor: str) -> None:
    with listed.app_context(), pytest.raises(ValidationFailed) as error:
        find_keyset(CertificateFilters(status="issued"), 4, after=cursor)
    assert error.value.fields == {"after": [error.value.message]}


def test_after_and_before_together_are_refused(listed: Any) -> None:
    with listed.app_context(), pytest.raises(ValidationFailed):
        find_keyset(CertificateFilters(), 4, after="1.1", before="1.1")


def test_a_cursor_reads_back_what_it_wrote() -> None:
    order = keyset.Order(Certificate.issued_at, Certificate.id)
    for moment in (datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
                   datetime(1970, 1, 1, tzinfo=UTC),
                   datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                   datetime(9999, 12, 1, tzinfo=UTC)):
        cursor = keyset.decode(order, keyset.encode(order, moment, 42), "after")
        assert cursor == keyset.Cursor(moment, 42)
    assert keyset.decode(order, keyset.encode(order, None, 7), "after") == keyset.Cursor(None, 7)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cursor=st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(-(2**70), 2**70), st.integers(-5, 2**40)),
    st.builds(lambda b: f"n.{b}", st.integers(0, 2**33))))
def test_any_cursor_is_a_page_or_a_validation_error(listed: Any, cursor: str) -> None:
    with listed.app_context():
        for status in ("issued", "", "pending"):
            for direction in ("after", "before"):
                try:
                    page = find_keyset(CertificateFilters(status=status), 3,
                                       **{direction: cursor})
                except ValidationFailed as error:
                    assert direction in error.fields
                else:
                    assert len(page.items) <= 3
                db.session.rollback()


@pytest.mark.parametrize("status", ["issued", "revoked", "", "pending"])
def test_the_other_direction_pages_every_row_once_and_its_cursors_carry_it(listed: Any,
                                                                          status: str) -> None:
    """Oldest first (Pending: newest recommendation first) reads the same index backward:
    every row once, in the reversed order, ties and NULL keys included, Older and Newer
    both; its cursors end in `.r` and the default order refuses them (and vice versa)."""
    from app.services.certificates.queries import sorts_for
    filters = CertificateFilters(status=status)
    sorting = sorts_for(filters)
    flipped = sorting.parse(sorting.default, "asc" if sorting.default_dir == "desc" else "desc")
    with listed.app_context():
        default_ids = []
        page = find_keyset(filters, 4)
        while True:
            default_ids += [c.id for c in page.items]
            if not page.older:
                break
            page = find_keyset(filters, 4, after=page.older)
        seen, pages = [], []
        page = find_keyset(filters, 4, sort=flipped)
        while True:
            pages.append(page)
            seen += [c.id for c in page.items]
            if not page.older:
                break
            assert page.older.endswith(".r")
            with pytest.raises(ValidationFailed):  # a link of one order is not the other's
                find_keyset(filters, 4, after=page.older)
            page = find_keyset(filters, 4, sort=flipped, after=page.older)
        assert len(seen) == len(set(seen)) == len(default_ids)
        keyed = {c.id: c for c in db.session.scalars(search(filters)).unique()}
        key = "recommended_at" if status == "pending" else "issued_at"
        non_null = [i for i in seen if getattr(keyed[i], key) is not None]
        values = [getattr(keyed[i], key) for i in non_null]
        assert values == sorted(values, reverse=(status == "pending"))  # the other way round
        assert seen[len(non_null):] == [i for i in seen if getattr(keyed[i], key) is None]
        # Back again with Newer: the same pages.
        for earlier, later in zip(pages, pages[1:], strict=False):
            back = find_keyset(filters, 4, sort=flipped, before=later.newer)
            assert [c.id for c in back.items] == [c.id for c in earlier.items]
        if default_ids and find_keyset(filters, 4).older:
            with pytest.raises(ValidationFailed):
                find_keyset(filters, 4, sort=flipped, after=find_keyset(filters, 4).older)


@pytest.mark.parametrize("status", ["issued", "revoked", "pending"])
def test_the_other_direction_reads_the_list_index_backward_on_postgresql(listed: Any,
                                                                         status: str) -> None:
    """No sort of the matching rows: the page queries of the reversed order (both key
    segments) and its capped count are index scans of a list-order index, read backward."""
    from sqlalchemy import event, text

    from app.services.certificates.queries import sorts_for
    with listed.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("query plans are checked on PostgreSQL")
        filters = CertificateFilters(status=status)
        sorting = sorts_for(filters)
        flipped = sorting.parse(sorting.default,
                                "asc" if sorting.default_dir == "desc" else "desc")
        statements: list[tuple[str, Any]] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if "ORDER BY" in statement:
                statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            find_keyset(filters, 4, sort=flipped, after=find_keyset(
                filters, 4, sort=flipped).older)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert statements
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE certificates"))
            # A table this small is planned by cost: with sorts and scans of the whole
            # table priced out, a Sort left in the plan is one no index can spare.
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            conn.execute(text("SET LOCAL enable_sort = off"))
            for statement, parameters in statements:
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}",
                                                      parameters).scalars())
                assert "Sort" not in plan.replace("Sort Key", ""), plan
