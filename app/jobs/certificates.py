"""Certificate jobs: render certificates' PDFs (a batch per job), build a bulk export
(a ZIP of PDFs).

All are idempotent and safe to run twice, even at the same time: a PDF or an export
is stored first and then claimed with a conditional UPDATE, and the run that loses the
claim deletes its own file and reports what the winner stored.

PDFs are rendered a batch of certificates per job (`render_certificate_pdfs`; what a
transaction issued shares batches, see renderings.render_pdf_later): a job costs a fork,
an app context, a database connection and RQ's bookkeeping, about twice a PDF's own
render when each certificate had a job of its own. Each certificate is its own short
transaction (locked, rendered, stored, recorded, committed), so a job that dies midway
keeps what it did and its retry renders only the rest; one that fails is logged, the
others go on, and the job then raises naming it so RQ's retry tries that one again.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from dataclasses import fields
from datetime import date
from typing import Any

from rq import get_current_job
from rq.timeouts import BaseTimeoutException
from sqlalchemy import func, or_, select, update

from app.extensions import db, rq
from app.models import Certificate, CertificateExport, CertificateStatus
from app.models.base import utcnow
from app.services import certificates as certificate_service
from app.services import pdf, storage
from app.services.certificates import exports

log = logging.getLogger(__name__)

#: The most certificates one export may hold; a larger one fails with a clear error.
MAX_EXPORT_CERTIFICATES = 5000
#: Certificates whose PDF an export rendered are committed in batches of this many, so
#: a long export that fails late keeps the PDFs it made.
_COMMIT_EVERY = 50


# --- One certificate -------------------------------------------------------------------

def _discard(key: str) -> None:
    try:
        storage.path_for(key).unlink(missing_ok=True)
    except (OSError, ValueError):  # pragma: no cover - nothing else to do with it
        log.warning("could not delete the unclaimed file %s", key)


def _ensure_pdf(certificate: Certificate) -> tuple[str, str | None]:
    """Render and store the certificate's PDF unless its stored file is there already.

    Returns ("already_rendered", key), ("rendered", key) or ("skipped", None) when the
    certificate is not issued (or stopped being issued while this ran). Flushes, never
    commits: the caller does.
    """
    if certificate.status != CertificateStatus.ISSUED:
        return "skipped", None
    if certificate.pdf_key and storage.exists(certificate.pdf_key):
        return "already_rendered", certificate.pdf_key
    stale_key = certificate.pdf_key
    data = pdf.render_certificate(certificate)
    key, sha256 = storage.save(data, "certificates")
    # Claim: only if it is still issued and nobody stored a PDF meanwhile.
    claimed = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate.id,
               Certificate.status == CertificateStatus.ISSUED,
               Certificate.pdf_key.is_(None) if stale_key is None
               else Certificate.pdf_key == stale_key)
        .values(pdf_key=key, pdf_sha256=sha256)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(certificate)
    if claimed != 1:
        _discard(key)
        if certificate.status != CertificateStatus.ISSUED:
            return "skipped", None
        return "already_rendered", certificate.pdf_key
    # Kept with its certificate for good: the public PDF check recognizes this file even
    # after a later re-render replaces it.
    certificate_service.record_rendering(certificate.id, sha256, key)
    return "rendered", key


class PdfBatchIncomplete(RuntimeError):
    """Some certificates of a PDF batch failed (the others were rendered and committed);
    raised after the batch so RQ's retry renders the failed ones again."""


def _render_one(certificate_id: int) -> dict[str, Any]:
    """One certificate of a batch, in a transaction of its own: its row locked (a second
    job waits, then finds the PDF stored and skips: each rendered once), rendered unless
    its stored file is there, stored, claimed, recorded, committed. Raises (after
    rolling back and deleting the unclaimed file) when any of that fails."""
    certificate = db.session.scalar(
        select(Certificate).where(Certificate.id == certificate_id)
        .with_for_update(of=Certificate).execution_options(populate_existing=True))
    if certificate is None:
        db.session.rollback()
        return {"certificate_id": certificate_id, "status": "skipped",
                "reason": "certificate is gone"}
    status, key = "skipped", None
    try:
        status, key = _ensure_pdf(certificate)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        if status == "rendered" and key:
            _discard(key)  # never recorded: no row points at it
        raise
    result: dict[str, Any] = {"certificate_id": certificate_id, "status": status}
    if status == "skipped":
        result["reason"] = f"certificate is {certificate.status.value.lower()}"
    else:
        result.update(key=key, sha256=certificate.pdf_sha256)
    return result


def render_pdfs(certificate_ids: list[int]) -> dict[str, Any]:
    """Render the PDFs of these certificates (see the module docstring); returns what it
    did per outcome, with each failure's error. Commits."""
    done: dict[str, Any] = {"rendered": [], "already_rendered": [], "skipped": [],
                            "failed": {}}
    results: list[dict[str, Any]] = []
    for certificate_id in dict.fromkeys(certificate_ids):  # each id once, in order
        try:
            result = _render_one(certificate_id)
        except BaseTimeoutException:
            raise  # the job's time is up: the retry renders the rest, each once
        except Exception as exc:
            log.exception("certificate %s: the PDF could not be rendered", certificate_id)
            done["failed"][certificate_id] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        results.append(result)
        done[result["status"]].append(certificate_id)
    done["results"] = results
    return done


@rq.job
def render_certificate_pdfs(certificate_ids: list[int]) -> dict[str, Any]:
    """Render, store and record the PDFs of these issued certificates, each once; the
    summary is the job's result (and its meta, when some failed and the job raises)."""
    done = render_pdfs(certificate_ids)
    summary = {key: (len(value) if key != "failed" else value)
               for key, value in done.items() if key != "results"}
    if done["failed"]:
        job = get_current_job()
        if job is not None:
            job.meta["pdfs"] = summary
            job.save_meta()
        raise PdfBatchIncomplete(
            f"{len(done['failed'])} of {len(certificate_ids)} certificate PDFs failed: "
            + "; ".join(f"{cid}: {error}" for cid, error in done["failed"].items()))
    return summary


@rq.job
def render_certificate_pdf(certificate_id: int) -> dict[str, Any]:
    """Render, store and record an issued certificate's PDF, once (the one-certificate
    job that outbox rows written before the batched job still name)."""
    done = render_pdfs([certificate_id])
    if done["failed"]:
        raise PdfBatchIncomplete(done["failed"][certificate_id])
    return done["results"][0]


# --- Bulk export -----------------------------------------------------------------------

_FILTER_FIELDS = {f.name for f in fields(certificate_service.CertificateFilters)}
_INT_FILTERS = {"course_id", "track_id", "user_id"}
_DATE_FILTERS = {"date_from", "date_to", "expires_from", "expires_to"}


class ExportError(ValueError):
    """The export cannot be built as asked; the message is shown to whoever asked."""


def export_filters(raw: dict[str, Any] | None) -> certificate_service.CertificateFilters:
    """CertificateFilters from an export's stored JSON: ISO dates, integer ids, empty
    values as "not filtered". Raises ExportError for an unknown or unreadable filter."""
    values: dict[str, Any] = {}
    for name, value in (raw or {}).items():
        if name == exports.IDS:  # the chosen certificates: export_ids()
            continue
        if name not in _FILTER_FIELDS:
            raise ExportError(f"Unknown filter {name!r}.")
        if value is None or value == "":
            continue
        try:
            if name in _DATE_FILTERS:
                values[name] = (value if isinstance(value, date)
                                else date.fromisoformat(str(value)))
            elif name in _INT_FILTERS:
                values[name] = int(value)
            else:
                values[name] = str(value)
        except (TypeError, ValueError) as exc:
            raise ExportError(f"Filter {name!r} has an unreadable value {value!r}.") from exc
    return certificate_service.CertificateFilters(**values)


def export_ids(raw: dict[str, Any] | None) -> list[int] | None:
    """The certificates an export of ticked rows names (None: all the filters match).
    Raises ExportError for an unreadable list."""
    ids = (raw or {}).get(exports.IDS)
    if ids is None:
        return None
    if not isinstance(ids, list) or not all(type(i) is int and i > 0 for i in ids):
        raise ExportError("The export names its certificates unreadably.")
    return ids


def _zip_entry(certificate: Certificate, data: bytes) -> tuple[zipfile.ZipInfo, bytes]:
    stamp = certificate.issued_at or utcnow()
    info = zipfile.ZipInfo(f"{certificate.number}.pdf",
                           date_time=(max(stamp.year, 1980), stamp.month, stamp.day,
                                      stamp.hour, stamp.minute, stamp.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info, data


def _build(export: CertificateExport) -> dict[str, Any]:
    filters = export_filters(export.filters)
    # Only issued certificates have PDFs: pending and rejected ones were never
    # certificates, and a revoked one's PDF must not travel on as if it were valid.
    matching = certificate_service.search(filters).where(
        Certificate.status == CertificateStatus.ISSUED)
    ids = export_ids(export.filters)
    if ids is not None:
        matching = matching.where(Certificate.id.in_(ids))
    count = db.session.scalar(
        select(func.count()).select_from(matching.order_by(None).subquery())) or 0
    if count > MAX_EXPORT_CERTIFICATES:
        raise ExportError(
            f"These filters match {count:,} issued certificates; one export holds at most "
            f"{MAX_EXPORT_CERTIFICATES:,}. Narrow the filters (dates, track, course) and "
            f"export in parts.")
    certificates = list(db.session.scalars(matching))
    rendered = included = 0
    uncommitted: list[str] = []  # PDFs stored whose keys are not committed yet
    with tempfile.TemporaryFile() as spool:
        try:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for certificate in certificates:
                    status, key = _ensure_pdf(certificate)
                    if status == "skipped" or key is None:  # revoked while this ran
                        continue
                    if status == "rendered":
                        rendered += 1
                        uncommitted.append(key)
                        if len(uncommitted) >= _COMMIT_EVERY:
                            db.session.commit()
                            uncommitted.clear()
                    archive.writestr(*_zip_entry(certificate, storage.read(key)))
                    included += 1
            db.session.commit()  # the PDFs rendered on the way
        except BaseException:
            db.session.rollback()
            for key in uncommitted:
                _discard(key)
            raise
        spool.seek(0)
        data = spool.read()
    return {"data": data, "count": included, "rendered": rendered}


@rq.job
def build_certificate_export(export_id: int) -> dict[str, Any]:
    """Build an export's ZIP (`<number>.pdf` for each issued certificate its filters
    match, rendering missing PDFs), store it and mark the export ready; or mark it failed
    with the reason. A ready export is left as it is."""
    export = db.session.get(CertificateExport, export_id)
    if export is None:
        return {"export_id": export_id, "status": "skipped", "reason": "export is gone"}
    if export.status == "ready" and export.storage_key and storage.exists(export.storage_key):
        return {"export_id": export_id, "status": "already_ready",
                "certificate_count": export.certificate_count, "key": export.storage_key}
    # A ready export whose file was lost is built again, and may be claimed again.
    lost_key = export.storage_key if export.status == "ready" else None
    claimable = (CertificateExport.status != "ready") if lost_key is None else or_(
        CertificateExport.status != "ready", CertificateExport.storage_key == lost_key)
    try:
        built = _build(export)
    except Exception as exc:
        db.session.rollback()
        if not isinstance(exc, ExportError):
            log.exception("certificate export %s failed", export_id)
        message = str(exc) if isinstance(exc, ExportError) else (
            f"The export could not be built ({type(exc).__name__}: {exc}).")
        db.session.execute(
            update(CertificateExport)
            .where(CertificateExport.id == export_id, claimable)
            .values(status="failed", storage_key=None, error=message[:2000], finished_at=utcnow())
            .execution_options(synchronize_session=False))
        db.session.commit()
        return {"export_id": export_id, "status": "failed", "error": message}
    key, _sha256 = storage.save(built["data"], "exports")
    claimed = db.session.execute(
        update(CertificateExport)
        .where(CertificateExport.id == export_id, claimable)
        .values(status="ready", certificate_count=built["count"], storage_key=key,
                error=None, finished_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if claimed != 1:  # another run finished it first; keep theirs
        _discard(key)
        db.session.refresh(export)
        return {"export_id": export_id, "status": "already_ready",
                "certificate_count": export.certificate_count, "key": export.storage_key}
    return {"export_id": export_id, "status": "ready", "certificate_count": built["count"],
            "rendered": built["rendered"], "key": key, "bytes": len(built["data"])}
