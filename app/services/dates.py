"""Dates every domain shares: the one `today()` (the UTC calendar date; services and jobs
never ask the host's local clock), month arithmetic for validity periods (`add_months`)
and the UTC midnight that starts a day for date filters (`utc_midnight`)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time

from app.models.base import utcnow


def today() -> date:
    """Today's date in UTC."""
    return utcnow().date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def utc_midnight(day: date) -> datetime:
    """The first moment of `day`, UTC."""
    return datetime.combine(day, time.min, tzinfo=UTC)
