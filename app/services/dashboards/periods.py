"""The buckets a dashboard counts into (months, weeks, day ranges) and the one GROUP BY
expression that sorts rows into them.

A bucket is a half-open range [start, end) of dates. Counting groups by a CASE over the
bucket starts, so the same SQL runs on SQLite and PostgreSQL, every query is bounded by
its first and last bucket (an index range, never the whole table) and a bucket's edges
are the ones its link to the list uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case

from app.services.dates import add_months, utc_midnight


@dataclass(frozen=True)
class Bucket:
    """One bar of a chart: its label, the dates it covers ([start, end)), its count and
    the filtered list behind it."""

    label: str
    start: date
    end: date  # exclusive
    count: int = 0
    url: str = ""

    @property
    def last(self) -> date:
        """The last day it covers (the lists' `to` filters are inclusive)."""
        return self.end - timedelta(days=1)


def months(today: date, count: int = 12, *, ahead: bool = False) -> list[Bucket]:
    """`count` calendar months: the last ones up to this month (oldest first), or, with
    `ahead`, this month and the ones after it."""
    first = today.replace(day=1)
    start = first if ahead else add_months(first, -(count - 1))
    starts = [add_months(start, i) for i in range(count + 1)]
    return [Bucket(s.strftime("%b %Y"), s, e) for s, e in zip(starts, starts[1:], strict=False)]


def weeks(today: date, count: int = 12) -> list[Bucket]:
    """`count` weeks of seven days ending today (oldest first), labelled by their first day."""
    end = today + timedelta(days=1)
    starts = [end - timedelta(days=7 * (count - i)) for i in range(count + 1)]
    return [Bucket(f"{s.day} {s:%b}", s, e) for s, e in zip(starts, starts[1:], strict=False)]


def day_bands(today: date, bands: Sequence[int] = (30, 60, 90), *,
              first: int = 0) -> list[Bucket]:
    """Days from today: `first`-30, 31-60, 61-90 (first=0: today counts in the first)."""
    lows = [first] + [b + 1 for b in bands[:-1]]
    return [Bucket(f"{low}–{high} days", today + timedelta(days=low),
                   today + timedelta(days=high + 1))
            for low, high in zip(lows, bands, strict=True)]


def bucket_index(column: Any, buckets: Sequence[Bucket], *, timestamp: bool) -> Any:
    """The bucket number of `column` (0 = the first bucket), for GROUP BY. Callers bound
    the query to [buckets[0].start, buckets[-1].end) with `within`."""
    def edge(day: date) -> Any:
        return utc_midnight(day) if timestamp else day
    whens = [(column >= edge(b.start), i) for i, b in reversed(list(enumerate(buckets)))]
    return case(*whens, else_=-1)


def within(column: Any, buckets: Sequence[Bucket], *, timestamp: bool) -> Any:
    """`column` in [first start, last end)."""
    start, end = buckets[0].start, buckets[-1].end
    if timestamp:
        return (column >= utc_midnight(start)) & (column < utc_midnight(end))
    return (column >= start) & (column < end)


def fill(buckets: Sequence[Bucket], rows: Any) -> list[Bucket]:
    """The buckets with the counts of (bucket number, count) rows."""
    counts = {int(i): int(n) for i, n in rows if i is not None and int(i) >= 0}
    return [replace(b, count=counts.get(i, 0)) for i, b in enumerate(buckets)]


def with_urls(buckets: Sequence[Bucket], url: Any) -> list[Bucket]:
    """The buckets with the link each figure gives to the list behind it (views build
    URLs; services have no request)."""
    return [replace(b, url=url(b)) for b in buckets]
