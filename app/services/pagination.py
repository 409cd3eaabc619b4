"""Offset pagination over a select, with one COUNT and one page query."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, literal_column, select

from app.extensions import db

T = TypeVar("T")

MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # beyond it OFFSET would overflow a BIGINT (?page=10**20)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int
    # True when counting stopped at paginate's count_limit: there are more than `total`.
    total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or self.total_capped

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)


def clamp_page(value: Any, default: int = 1) -> int:
    try:
        page = int(value)
    except (TypeError, ValueError):
        return default
    return max(1, min(page, MAX_PAGE))


def paginate(stmt: Select[Any], page: int, per_page: int, *, rows: bool = False,
             count_limit: int | None = None) -> Page[Any]:
    """One page of `stmt`: its scalars, or whole rows when it selects several columns.

    With `count_limit`, counting stops after max(count_limit, the rows up to this page)
    rows, and the page says so (`total_capped`): counting a million rows costs more than
    showing 25."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    capped = False
    if count_limit is None:
        total = db.session.scalar(select(func.count()).select_from(
            stmt.order_by(None).subquery())) or 0
    else:
        limit = max(count_limit, page * per_page) + 1
        ids = stmt.order_by(None).with_only_columns(literal_column("1"),
                                                    maintain_column_froms=True).limit(limit)
        total = db.session.scalar(select(func.count()).select_from(ids.subquery())) or 0
        if total == limit:
            total, capped = limit - 1, True
    pages = max(1, ceil(total / per_page))
    page = min(page, pages)
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.execute(paged).all() if rows else db.session.scalars(paged))
    return Page(items=items, page=page, per_page=per_page, total=total, total_capped=capped)
