"""The log of certificate checks (the holder's "checked on ..." list on /me), written in
batches outside the requests that make the checks.

A public check must cost little more than Flask itself (issue 5), and a write per
check costs more than everything else it does: a transaction, an INSERT and a COMMIT
on the request's own time. So a check only appends (certificate id, channel, time) to
this process's buffer, and a daemon thread writes the buffer in one multi-row INSERT
every VERIFICATION_LOG_FLUSH_SECONDS (default 1) or as soon as it holds
VERIFICATION_LOG_FLUSH_ROWS rows (default 500); the buffer is also written at normal
interpreter exit (a gunicorn worker's graceful stop included). `verified_at` is the
time of the check, not of the write.

The trade-off, accepted for this log only: a process that dies without exiting
(SIGKILL, OOM, power loss) loses the checks of its last second or so, and a check
shows up to a second after it was made wherever this table is read: the holder's
/me list (certificates.queries), the admin dashboard's verification figures and
/admin/verifications (dashboards.admin). Those are counts and lists for people, not
records anything depends on; nothing may treat this table as complete. While the
database is unreachable, up to MAX_PENDING rows wait for the next flush; beyond that
the oldest are dropped (and logged).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from app.extensions import db
from app.models import Certificate, CertificateVerification
from app.models.base import utcnow

log = logging.getLogger(__name__)

EXTENSION = "credwright.verification_log"
# verified_at is stored as naive UTC (app.models.base.UTCDateTime).
_UNNEST_INSERT = (
    "INSERT INTO certificate_verifications (certificate_id, channel, verified_at) "
    "SELECT * FROM unnest(%(ids)s::integer[], %(channels)s::varchar[], "
    "%(times)s::timestamp[])")
MAX_PENDING = 100_000
# The writer thread ends after this long without checks (a new check starts it again),
# so idle processes and test apps do not keep one each.
IDLE_SECONDS = 60.0


class VerificationLog:
    """One process's buffer of checks for one database (one per app)."""

    def __init__(self, engine: Engine, flush_seconds: float, flush_rows: int) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.flush_rows = flush_rows
        self._reset()

    def _reset(self) -> None:
        # Also after a fork: the child starts with an empty buffer and no thread.
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # one writer at a time keeps rows in order
        self._rows: list[dict[str, Any]] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, certificate_id: int, channel: str, at: datetime | None = None) -> None:
        if self._pid != os.getpid():
            self._reset()
        row = {"certificate_id": certificate_id, "channel": channel,
               "verified_at": at or utcnow()}
        with self._lock:
            self._rows.append(row)
            pending = len(self._rows)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="verification-log")
                self._thread.start()
        if pending >= self.flush_rows:
            self._wake.set()

    def pending(self) -> int:
        return len(self._rows)

    def flush(self) -> int:
        """Write every buffered check now; the number written."""
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                return self._insert(rows)
            except SQLAlchemyError:
                log.exception("could not record %d certificate checks; will retry", len(rows))
                with self._lock:
                    self._rows[:0] = rows
                    dropped = len(self._rows) - MAX_PENDING
                    if dropped > 0:
                        del self._rows[:dropped]
                        log.error("dropped the %d oldest unrecorded certificate checks",
                                  dropped)
                return 0

    def _insert(self, rows: list[dict[str, Any]]) -> int:
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Three arrays, one statement: a fraction of the client CPU of a
                    # multi-row VALUES with a bound parameter per value.
                    conn.exec_driver_sql(_UNNEST_INSERT, {
                        "ids": [r["certificate_id"] for r in rows],
                        "channels": [r["channel"] for r in rows],
                        "times": [r["verified_at"].astimezone(UTC).replace(tzinfo=None)
                                  for r in rows]})
                else:
                    conn.execute(insert(CertificateVerification), rows)  # one INSERT
            return len(rows)
        except IntegrityError:
            # A certificate deleted since its check: keep the checks of the others.
            with self.engine.begin() as conn:
                ids = {r["certificate_id"] for r in rows}
                existing = set(conn.scalars(select(Certificate.id).where(Certificate.id.in_(ids))))
                kept = [r for r in rows if r["certificate_id"] in existing]
                if kept:
                    conn.execute(insert(CertificateVerification), kept)
            return len(kept)

    def _run(self) -> None:
        idle = 0.0
        while True:
            woken = self._wake.wait(self.flush_seconds)
            self._wake.clear()
            written = self.flush()
            idle = 0.0 if written or woken else idle + self.flush_seconds
            with self._lock:
                if idle >= IDLE_SECONDS and not self._rows:
                    self._thread = None
                    return

    def close(self) -> None:
        """Write what is left (at exit, or when an app is torn down)."""
        if self._pid == os.getpid():
            self.flush()


_logs: weakref.WeakSet[VerificationLog] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for each in list(_logs):
        each.close()


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    verification_log = VerificationLog(
        engine, float(app.config.get("VERIFICATION_LOG_FLUSH_SECONDS", 1.0)),
        int(app.config.get("VERIFICATION_LOG_FLUSH_ROWS", 500)))
    app.extensions[EXTENSION] = verification_log
    _logs.add(verification_log)


def of(app: Flask | None = None) -> VerificationLog:
    return (app or current_app).extensions[EXTENSION]


def record(certificate_id: int, channel: str) -> None:
    """Log a check of a certificate (written within about a second)."""
    of().add(certificate_id, channel)


def flush(app: Flask | None = None) -> int:
    """Write the buffered checks now (tests, and callers that must read them back)."""
    return of(app).flush()
