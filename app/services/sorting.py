"""Sortable lists: one whitelist per list, one parser, one ORDER BY.

A list declares which sort keys it offers and the SQL each one orders by:

    USERS = Sorting({"name": (func.lower(User.name),), "email": (User.email,)},
                    default="name", tiebreak=User.id)

`USERS.parse(args.get("sort"), args.get("dir"))` gives a `Sort` (an unknown key or
direction falls back to the default: a URL can never cause an error), and
`sort.apply(stmt)` replaces the statement's ORDER BY with the chosen columns, NULLs last
in both directions, then the tiebreak (usually the id) in the same direction, so pages
never overlap or skip rows. Templates draw the headers with `sort_header` in
partials/macros.html (a link per column, `aria-sort` on the sorted one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.sql.elements import ColumnElement

ASC, DESC = "asc", "desc"


@dataclass(frozen=True)
class Ascending:
    """A secondary column that stays A-Z whichever way the sort goes (level 10 to 1,
    then titles A-Z)."""

    column: ColumnElement[Any]


@dataclass(frozen=True)
class Sort:
    key: str
    direction: str
    sorting: Sorting

    @property
    def descending(self) -> bool:
        return self.direction == DESC

    @property
    def is_default(self) -> bool:
        return self.key == self.sorting.default and self.direction == self.sorting.default_dir

    def order_by(self) -> list[ColumnElement[Any]]:
        ordered = []
        for col in self.sorting.keys[self.key]:
            if isinstance(col, Ascending):
                ordered.append(col.column.asc().nulls_last())
            else:
                ordered.append((col.desc() if self.descending else col.asc()).nulls_last())
        # The tiebreak is a primary key (never NULL), in the chosen direction.
        tiebreak = self.sorting.tiebreak
        return [*ordered, tiebreak.desc() if self.descending else tiebreak.asc()]

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.order_by(None).order_by(*self.order_by())

    def aria(self, key: str) -> str:
        """The `aria-sort` value of the column `key`."""
        if key != self.key:
            return "none"
        return "descending" if self.descending else "ascending"

    def next_direction(self, key: str) -> str:
        """The direction a click on the column `key` asks for: the other way round on
        the sorted column, the column's natural direction on any other."""
        if key == self.key:
            return ASC if self.descending else DESC
        return self.sorting.first_dir.get(key, ASC)

    def args(self) -> dict[str, str | None]:
        """Query arguments that keep this sort (none when it is the default)."""
        if self.is_default:
            return {"sort": None, "dir": None}
        return {"sort": self.key, "dir": self.direction}


@dataclass(frozen=True)
class Sorting:
    """The sorts one list offers: key -> the columns it orders by."""

    keys: Mapping[str, Sequence[ColumnElement[Any] | Ascending]]
    default: str
    tiebreak: ColumnElement[Any]
    default_dir: str = ASC
    #: Keys whose first click sorts descending (dates: newest first).
    first_dir: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.default not in self.keys:
            raise ValueError(f"default sort {self.default!r} is not one of the keys")
        if self.first_dir is None:
            object.__setattr__(self, "first_dir", {})

    def parse(self, key: Any, direction: Any = None) -> Sort:
        """The sort a URL asks for. No key: the default column, in `direction` if that is
        asc or desc; a key this list does not offer: the default sort, direction and all
        (a sort no index serves is not quietly half-applied)."""
        if key is None or key == "":
            return Sort(self.default, self._direction(direction, self.default_dir), self)
        if not (isinstance(key, str) and key in self.keys):
            return self.default_sort()
        fallback = self.default_dir if key == self.default else (
            self.first_dir or {}).get(key, ASC)
        return Sort(key, self._direction(direction, fallback), self)

    @staticmethod
    def _direction(value: Any, fallback: str) -> str:
        return value if value in (ASC, DESC) else fallback

    def default_sort(self) -> Sort:
        return Sort(self.default, self.default_dir, self)
