"""The platform admin's dashboard: one function per figure, each an aggregate query
bounded by status and date range on an existing index (the certificates table may hold
ten million rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateVerification,
    DeliveryStatus,
    NotificationDelivery,
    StaffMicroCredential,
    User,
)
from app.services.certificates.queries import pending_count
from app.services.credentials.status import valid_condition
from app.services.dashboards.periods import (
    Bucket,
    bucket_index,
    day_bands,
    fill,
    months,
    weeks,
    within,
)
from app.services.dates import utc_midnight


@dataclass(frozen=True)
class Capped:
    """A count that stops at a limit (`more`: at least that many)."""

    count: int
    more: bool = False

    def __str__(self) -> str:
        return f"{self.count:,}+" if self.more else f"{self.count:,}"


def pending_approvals() -> Capped:
    """Certificates waiting for approval (capped like the Pending tab's badge: the
    partial index of pending ones, read in order)."""
    return Capped(*pending_count())


def certificates_issued_per_month(today: date, count: int = 12) -> list[Bucket]:
    """Certificates issued in each of the last `count` calendar months that are still
    issued (what the Issued tab lists for that month). Index: (status, issued_at)."""
    buckets = months(today, count)
    index = bucket_index(Certificate.issued_at, buckets, timestamp=True)
    rows = db.session.execute(
        select(index, func.count()).where(
            Certificate.status == CertificateStatus.ISSUED,
            within(Certificate.issued_at, buckets, timestamp=True))
        .group_by(index))
    return fill(buckets, rows)


def certificates_expiring(today: date) -> list[Bucket]:
    """Issued certificates expiring in 0-30, 31-60 and 61-90 days (one expiring today is
    not expired yet). Index: (status, expires_at)."""
    buckets = day_bands(today)
    index = bucket_index(Certificate.expires_at, buckets, timestamp=False)
    rows = db.session.execute(
        select(index, func.count()).where(
            Certificate.status == CertificateStatus.ISSUED,
            within(Certificate.expires_at, buckets, timestamp=False))
        .group_by(index))
    return fill(buckets, rows)


def micro_credentials_expiring(today: date) -> list[Bucket]:
    """Awarded micro-credentials in good standing expiring in 0-30, 31-60 and 61-90 days:
    the certificates' bands, counted under the credentials domain's rule for a valid
    award (one due today is expired already, so the first band starts tomorrow in
    effect). Each band links to credentials/awarded.py's list, which applies the same
    rule to the same dates. Index: (status, expiry_date)."""
    buckets = day_bands(today)
    expiry = StaffMicroCredential.expiry_date
    index = bucket_index(expiry, buckets, timestamp=False)
    rows = db.session.execute(
        select(index, func.count()).where(
            valid_condition(today), within(expiry, buckets, timestamp=False))
        .group_by(index))
    return fill(buckets, rows)


def verifications_per_week(today: date, count: int = 12) -> list[Bucket]:
    """Public verification checks (page, JSON, code, PDF) in each of the last `count`
    weeks. Index: verified_at (migration 0029)."""
    buckets = weeks(today, count)
    index = bucket_index(CertificateVerification.verified_at, buckets, timestamp=True)
    rows = db.session.execute(
        select(index, func.count()).where(
            within(CertificateVerification.verified_at, buckets, timestamp=True))
        .group_by(index))
    return fill(buckets, rows)


FAILED_LIMIT = 10_000


def failed_deliveries() -> Capped:
    """Email and SMS deliveries that failed for good (capped; index (status, id))."""
    ids = (select(NotificationDelivery.id)
           .where(NotificationDelivery.status == DeliveryStatus.FAILED)
           .limit(FAILED_LIMIT + 1).subquery())
    n = db.session.scalar(select(func.count()).select_from(ids)) or 0
    return Capped(min(n, FAILED_LIMIT), n > FAILED_LIMIT)


COUNT_LIMIT = 10_000


def verification_checks(date_from: date | None, date_to: date | None) -> Select[Any]:
    """The checks behind verifications_per_week, newest first, as rows (when, channel,
    certificate id, number, recipient name), between two dates (both inclusive)."""
    stmt = (select(CertificateVerification.verified_at, CertificateVerification.channel,
                   Certificate.id.label("certificate_id"), Certificate.number,
                   User.name.label("recipient_name"))
            .join(Certificate, Certificate.id == CertificateVerification.certificate_id)
            .join(User, User.id == Certificate.recipient_id)
            .order_by(CertificateVerification.verified_at.desc(),
                      CertificateVerification.id.desc()))
    if date_from:
        stmt = stmt.where(CertificateVerification.verified_at >= utc_midnight(date_from))
    if date_to and date_to < date.max:
        stmt = stmt.where(CertificateVerification.verified_at
                          < utc_midnight(date_to + timedelta(days=1)))
    return stmt
