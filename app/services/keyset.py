"""Keyset ("older / newer") pagination: a page starts after (or ends before) the row a
cursor names by its sort key, so page 10,000 costs what page 1 costs (no OFFSET scan).

A list is ordered by one key (nullable; NULLs come last) and then the id, both in the
list's direction. A cursor is the text `<key>.<id>` of a boundary row: the key as
integer microseconds since 1970 (a datetime), an integer, or `n` (NULL). It is part of
the URL (`after=` / `before=`), so a page stays shareable; a cursor that cannot be read
is a ValidationFailed (422) naming the parameter, never a 500.

Rows whose key is NULL are read as a segment of their own (ordered by id): a row
comparison `(key, id) < (:k, :i)` walks a `(key DESC NULLS LAST, id DESC)` index and
stops after the page, where `OR key IS NULL` would not."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, func, literal_column, select, tuple_

from app.extensions import db
from app.services.errors import ValidationFailed

T = TypeVar("T")
Columns = Callable[[Select[Any]], Select[Any]]

EPOCH = datetime(1970, 1, 1)
_CURSOR = re.compile(r"(n|-?[0-9]{1,19})\.([0-9]{1,10})(\.r)?")
MAX_ID = 2**31 - 1
_MIN_MICROS = int((datetime(1, 1, 2) - EPOCH).total_seconds()) * 10**6
_MAX_MICROS = int((datetime(9999, 12, 30) - EPOCH).total_seconds()) * 10**6


@dataclass(frozen=True)
class Order:
    """A list's order: `key` (then `id`) descending or ascending, NULL keys last.
    `datetime_key` says how a cursor's key is written (microseconds) and read.

    `reversed`: the list runs the other way round from the order its index is built in
    (oldest first on a newest-first index, which is read backward). Its cursors say so
    (`<key>.<id>.r`), so a page link always carries its sort; a cursor of the other
    direction is refused like any unreadable one."""
    key: Any
    id: Any
    descending: bool = True
    nullable: bool = True
    datetime_key: bool = True
    reversed: bool = False

    @property
    def index_descending(self) -> bool:
        return self.descending != self.reversed

    def key_order(self, descending: bool) -> Any:
        """The key in `descending` order, with the NULLS placement the index has read in
        that direction (DESC NULLS LAST backward is ASC NULLS FIRST), so PostgreSQL reads
        the index in order instead of sorting. Each segment holds NULLs or none, so the
        placement changes no result."""
        if not self.nullable:
            return self.key.desc() if descending else self.key.asc()
        key = self.key.desc() if descending else self.key.asc()
        return key.nulls_last() if descending == self.index_descending else key.nulls_first()


@dataclass(frozen=True)
class Cursor:
    key: Any  # datetime (aware, UTC), int, or None
    id: int


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    items: list[T]
    per_page: int
    # Counted up to a cap (count_limit): `total_capped` says there are more than `total`.
    total: int
    total_capped: bool
    older: str | None  # the cursor of the next page (after=), None on the last
    newer: str | None  # the cursor of the previous page (before=), None on the first

    @property
    def has_next(self) -> bool:
        return self.older is not None

    @property
    def has_prev(self) -> bool:
        return self.newer is not None


def encode(order: Order, key: Any, id_: int) -> str:
    return _encode(order, key, id_) + (".r" if order.reversed else "")


def _encode(order: Order, key: Any, id_: int) -> str:
    if key is None:
        return f"n.{id_}"
    if order.datetime_key:
        if key.tzinfo is not None:  # naive datetimes are UTC already
            key = key.astimezone(UTC).replace(tzinfo=None)
        delta = key - EPOCH
        return f"{(delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds}.{id_}"
    return f"{int(key)}.{id_}"


def decode(order: Order, text: str | None, name: str) -> Cursor | None:
    """The cursor in `text` (None when empty). Raises ValidationFailed."""
    if text is None or text == "":
        return None
    match = _CURSOR.fullmatch(text.strip())
    problem = "This page link is not valid any more: go back to the first page."
    if match is None:
        raise ValidationFailed(problem, fields={name: [problem]})
    raw, id_, reversed_ = match.groups()
    if int(id_) > MAX_ID or (raw == "n" and not order.nullable) or (
            bool(reversed_) != order.reversed):
        raise ValidationFailed(problem, fields={name: [problem]})
    if raw == "n":
        return Cursor(None, int(id_))
    number = int(raw)
    if order.datetime_key:
        if not _MIN_MICROS <= number <= _MAX_MICROS:
            raise ValidationFailed(problem, fields={name: [problem]})
        # Aware, as the app's datetime columns (UTCDateTime) take and give them.
        return Cursor((EPOCH + timedelta(microseconds=number)).replace(tzinfo=UTC), int(id_))
    if abs(number) > 2**63 - 1:
        raise ValidationFailed(problem, fields={name: [problem]})
    return Cursor(number, int(id_))


def decode_pair(order: Order, after: str | None,
                before: str | None) -> tuple[Cursor | None, Cursor | None]:
    """The `after=` and `before=` cursors of a request. Raises ValidationFailed for one
    that cannot be read, or both at once."""
    if after and before:
        message = "Use after or before, not both."
        raise ValidationFailed(message, fields={"before": [message]})
    return decode(order, after, "after"), decode(order, before, "before")


def _segment(stmt: Select[Any], order: Order, *, nulls: bool | None, reverse: bool,
             bound: Cursor | None, limit: int, ids_first: bool = False) -> Select[Any]:
    """Rows of one segment (the non-NULL keys, or the NULL ones) beyond `bound`, in list
    order (or its mirror when `reverse`), at most `limit`. `nulls` None: both segments,
    from the very start, in list order (only where key_order() puts NULLs last)."""
    descending = order.descending != reverse
    if nulls is None:
        key = order.key_order(descending)
        return _limited(stmt, order, (key, order.id.desc() if descending else order.id.asc()),
                        limit, ids_first)
    if nulls:
        stmt = stmt.where(order.key.is_(None))
        if bound is not None:
            after_id = bindparam("cursor_id", type_=order.id.type, required=True)
            stmt = stmt.where(order.id < after_id if descending else order.id > after_id)
        return _limited(stmt, order, (order.id.desc() if descending else order.id.asc(),),
                        limit, ids_first)
    if order.nullable:
        stmt = stmt.where(order.key.is_not(None))
    if bound is not None:
        here = tuple_(order.key, order.id)
        # Named, and given at execution (_walk): a cached statement serves every cursor.
        there = tuple_(bindparam("cursor_key", type_=order.key.type, required=True),
                       bindparam("cursor_id", type_=order.id.type, required=True))
        stmt = stmt.where(here < there if descending else here > there)
    # The index's own NULLS placement (DESC NULLS LAST; its backward scan ASC NULLS
    # FIRST), so PostgreSQL reads it in order instead of sorting; a key that is never
    # NULL has a plain index (read backward for DESC), so a plain ORDER BY.
    key = order.key_order(descending)
    return _limited(stmt, order, (key, order.id.desc() if descending else order.id.asc()),
                    limit, ids_first)


def _limited(stmt: Select[Any], order: Order, order_by: tuple[Any, ...], limit: int,
             ids_first: bool) -> Select[Any]:
    """`stmt` in `order_by`, at most `limit`. `ids_first`: the page's ids are chosen in a
    subquery of the id and key alone, so where the rows matching are many but scattered
    (a people search: thousands of certificates of a few hundred people, in no index
    order) PostgreSQL sorts index entries (an index-only scan of the recipient's list
    order) and reads only the page's rows, not every match's, to sort them."""
    if ids_first:
        ids = select(order.id).order_by(*order_by).limit(limit)
        if stmt.whereclause is not None:
            ids = ids.where(stmt.whereclause)
        stmt = stmt.where(order.id.in_(ids.scalar_subquery()))
    return stmt.order_by(*order_by).limit(limit)


def _order_by(order: Order) -> tuple[Any, Any]:
    """The list-order index's own ORDER BY, for a count that walks it (NULL keys last,
    or first when the list reads its index backward)."""
    key = order.key_order(order.descending)
    return key, order.id.desc() if order.descending else order.id.asc()


def _fetch(stmt: Select[Any], rows: bool, params: dict[str, Any]) -> list[Any]:
    return list(db.session.execute(stmt, params).all() if rows
                else db.session.scalars(stmt, params).unique())


class StatementCache:
    """Statements built once for the SQL they make, and run with each request's values
    (named bind parameters): building a list page's statements cost more app CPU than
    running them (issue 16: ~1.5 ms a page, its subqueries, joins and cache key). Keys
    name everything the SQL depends on; a value that differs between requests must be a
    named parameter given at execution (`required=True`, so a missing one is an error,
    never the value of the request that built it). Statements are immutable and shared
    between threads; beyond `size` the oldest built goes."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._statements: dict[Hashable, Any] = {}
        self._lock = threading.RLock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        statement = self._statements.get(key)
        if statement is None:
            with self._lock:
                statement = self._statements.get(key)
                if statement is None:
                    statement = self._statements[key] = build()
                    if len(self._statements) > self.size:
                        del self._statements[next(iter(self._statements))]
        return statement


STATEMENTS = StatementCache()


@dataclass(frozen=True)
class _Run:
    """How keyset_page builds and runs its statements: `base` gives the list's statement
    (filters only); with a `key`, what it derives is taken from STATEMENTS and run with
    `params` (the values of the base's named parameters)."""
    base: Callable[[], Select[Any]]
    key: Hashable | None
    params: dict[str, Any]

    def statement(self, shape: tuple[Any, ...], build: Callable[[], Select[Any]]) -> Any:
        return build() if self.key is None else STATEMENTS.get((self.key, *shape), build)


def _walk(run: _Run, order: Order, start: Cursor | None, reverse: bool, want: int,
          rows: bool, ids_first: bool = False, columns: Columns | None = None) -> list[Any]:
    """Up to `want` rows from `start` (exclusive; None: from the very start), in list
    order or (`reverse`) its mirror, crossing from one segment into the next: forward the
    non-NULL keys come first and the NULL ones after them; backward the other way."""
    if not order.nullable:
        plan = [(False, start)]
    elif start is None and not reverse and not order.reversed:
        # A first page: the index's own order (NULLS LAST) is the list's, NULL keys after
        # the others, so one statement reads both segments where a page of few matches
        # (a search for one person) took a second for its empty NULL segment (issue 16).
        plan = [(None, None)]
    elif start is None:
        plan = [(False, None), (True, None)]
    elif (start.key is None) != reverse:
        # Forward from a NULL key, or backward from a non-NULL one: the last segment.
        plan = [(start.key is None, start)]
    else:
        plan = [(start.key is None, start), (start.key is not None, None)]
    found: list[Any] = []
    for nulls, bound in plan:
        limit = want - len(found)

        def build(nulls: bool | None = nulls, bound: Cursor | None = bound,
                  limit: int = limit) -> Select[Any]:
            segment = _segment(run.base(), order, nulls=nulls, reverse=reverse, bound=bound,
                               limit=limit, ids_first=ids_first)
            return columns(segment) if columns else segment

        segment = run.statement(("page", order, nulls, bound is not None, reverse, limit,
                                 ids_first, columns), build)
        params = run.params if bound is None else {
            **run.params, "cursor_key": bound.key, "cursor_id": bound.id}
        found += _fetch(segment, rows or columns is not None, params)
        if len(found) >= want:
            break
    return found


def _key_of(item: Any, order: Order, rows: bool) -> tuple[Any, int]:
    # A row of columns (keyset_page's `columns`) names its key; a row of entities, the first.
    obj = item[0] if rows and not hasattr(item, order.id.key) else item
    return getattr(obj, order.key.key), getattr(obj, order.id.key)


def count_capped(stmt: Select[Any], limit: int, *, ordered: bool = False) -> tuple[int, bool]:
    """How many rows `stmt` has, counting at most `limit` (+1 to know there are more).

    `ordered` keeps `stmt`'s ORDER BY (the list's order) in the LIMIT subquery, so the
    count walks the index the page itself just read (an index-only scan where the filters
    are in that index) instead of a sequential scan that reads the heap until it has seen
    `limit` matches: at ten million rows those heap pages are cold, 100 ms - 1 s a page."""
    return capped(db.session.scalar(capped_count_statement(stmt, limit, ordered=ordered)) or 0,
                  limit)


def capped_count_statement(stmt: Select[Any], limit: int, *,
                           ordered: bool = False) -> Select[tuple[int]]:
    """count_capped()'s statement, for a count that is the same on every request (built
    once, it costs about half what it cost built on each: issue 16)."""
    if not ordered:
        stmt = stmt.order_by(None)
    ids = stmt.with_only_columns(literal_column("1"), maintain_column_froms=True).limit(limit + 1)
    return select(func.count()).select_from(ids.subquery())


def capped(total: int, limit: int) -> tuple[int, bool]:
    """A capped_count_statement()'s result as count_capped() gives it."""
    return (limit, True) if total > limit else (total, False)


def keyset_page(stmt: Select[Any] | Callable[[], Select[Any]], order: Order, per_page: int, *,
                after: Cursor | None = None, before: Cursor | None = None, rows: bool = False,
                count_limit: int | None = 10_000, ids_first: bool = False,
                count_in_order: bool = True, columns: Columns | None = None,
                cache_key: Hashable | None = None,
                params: dict[str, Any] | None = None) -> KeysetPage[Any]:
    """One page of `stmt` (filters only; its ORDER BY is replaced by `order`): the first,
    the one after `after`, or the one before `before`. `ids_first`: see _limited().
    `count_in_order`: the capped count walks the list order (its index), see below.
    `columns`: turns each page query into a SELECT of plain columns (which must include
    the order's key and id by name); the items are then rows, the count is `stmt`'s.

    `cache_key`: what `stmt`'s SQL depends on (see StatementCache), to build the page's
    and the count's statements once; `stmt` is then a function that builds it (called
    only when they are built; a statement itself is never cached) and `params` the
    values of its named parameters."""
    base = stmt if callable(stmt) else (lambda: stmt)
    run = _Run(lambda: base().order_by(None), cache_key if callable(stmt) else None,
               params or {})
    return _page(run, order, per_page, after=after, before=before, rows=rows,
                 count_limit=count_limit, ids_first=ids_first,
                 count_in_order=count_in_order, columns=columns)


def _page(run: _Run, order: Order, per_page: int, *, after: Cursor | None,
          before: Cursor | None, rows: bool, count_limit: int | None, ids_first: bool,
          count_in_order: bool, columns: Columns | None) -> KeysetPage[Any]:
    """keyset_page(), its statements built or taken from the cache by `run`."""
    if before is not None:
        found = _walk(run, order, before, True, per_page + 1, rows, ids_first, columns)
        if len(found) <= per_page:
            # Back at the start: show a whole first page, not its last few rows.
            return _page(run, order, per_page, after=None, before=None, rows=rows,
                         count_limit=count_limit, ids_first=ids_first,
                         count_in_order=count_in_order, columns=columns)
        items = list(reversed(found[:per_page]))
        more_before, more_after = True, True
    else:
        found = _walk(run, order, after, False, per_page + 1, rows, ids_first, columns)
        items = found[:per_page]
        more_before, more_after = after is not None, len(found) > per_page
    if count_limit is None:
        total, more = db.session.scalar(select(func.count()).select_from(
            run.base().subquery()), run.params) or 0, False
    else:
        # In list order: it walks the page's own index. Not where no index has the list's
        # order under the filters (a people search): an order would sort every match
        # (188,000 for "whitlock" at 10M, 180 ms) where the plain count stops at the cap.
        def build() -> Select[Any]:
            counted = run.base()
            if count_in_order:
                counted = counted.order_by(*_order_by(order))
            return capped_count_statement(counted, count_limit, ordered=count_in_order)

        count = run.statement(("count", order, count_limit, count_in_order), build)
        total, more = capped(db.session.scalar(count, run.params) or 0, count_limit)
    rows = rows or columns is not None
    older = encode(order, *_key_of(items[-1], order, rows)) if more_after and items else None
    newer = encode(order, *_key_of(items[0], order, rows)) if more_before and items else None
    return KeysetPage(items=items, per_page=per_page, total=total, total_capped=more,
                      older=older, newer=newer)


def cursor_after(order: Order, item: Any, rows: bool = False) -> str:
    """The cursor that continues a list after `item` (the API's `next` from a page)."""
    return encode(order, *_key_of(item, order, rows))

