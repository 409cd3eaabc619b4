"""Offset pagination over a select, with one COUNT and one page query."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from app.extensions import db

T = TypeVar("T")

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

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
    return max(1, page)


def paginate(stmt: Select[Any], page: int, per_page: int, *, rows: bool = False) -> Page[Any]:
    """One page of `stmt`: its scalars, or whole rows when it selects several columns."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    pages = max(1, ceil((total or 0) / per_page))
    page = min(max(1, page), pages)
    paged = stmt.limit(per_page).offset((page - 1) * per_page)
    items = list(db.session.execute(paged).all() if rows else db.session.scalars(paged))
    return Page(items=items, page=page, per_page=per_page, total=total or 0)
