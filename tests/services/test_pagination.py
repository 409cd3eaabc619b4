"""paginate(): exact counts, and counts that stop at count_limit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Organization
from app.services.pagination import paginate


def _orgs(make_org: Callable[..., Organization], n: int) -> None:
    for i in range(n):
        make_org(f"Paged {i:02d}")


def _stmt() -> Any:
    return (select(Organization).where(Organization.name.like("Paged %"))
            .order_by(Organization.name))


def test_exact_count_and_clamped_page(app: Flask, make_org: Callable[..., Organization]) -> None:
    _orgs(make_org, 7)
    with app.app_context():
        page = paginate(_stmt(), 9, 3)
        assert (page.total, page.pages, page.page, page.total_capped) == (7, 3, 3, False)
        assert [o.name for o in page.items] == ["Paged 06"]
        assert not page.has_next and page.has_prev


def test_count_stops_at_the_limit_and_says_so(app: Flask,
                                              make_org: Callable[..., Organization]) -> None:
    _orgs(make_org, 7)
    with app.app_context():
        capped = paginate(_stmt(), 1, 2, count_limit=4)
        assert (capped.total, capped.total_capped) == (4, True)
        assert capped.has_next
        # A page past the limit is still reachable: counting goes as far as that page.
        later = paginate(_stmt(), 3, 2, count_limit=4)
        assert [o.name for o in later.items] == ["Paged 04", "Paged 05"]
        assert later.has_next
        # Under the limit the count is exact.
        exact = paginate(_stmt(), 1, 2, count_limit=10)
        assert (exact.total, exact.total_capped) == (7, False)
        db.session.rollback()
