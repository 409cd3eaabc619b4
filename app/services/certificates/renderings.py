"""Every PDF rendering of a certificate, by SHA-256: the public PDF check recognizes
each file ever handed out (the copy sent to an employer before a reinstate re-rendered
it too) and answers with its certificate's status now."""

from __future__ import annotations

from rq import Retry
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateRendering, CertificateStatus
from app.services import storage
from app.services.enqueue import enqueue_batched_after_commit
from app.services.errors import NotFound

RENDER_PDFS_JOB = "app.jobs.certificates.render_certificate_pdfs"
#: Certificates per PDF job: what one transaction issued (a bulk import's batch, a bulk
#: action's, a campaign's) shares jobs of up to this many; a single issue is a job of one.
PDF_BATCH = 50
#: A batch renders in a few seconds; the limit leaves room for a loaded machine.
PDF_JOB_TIMEOUT = 900
#: A job that raised (a certificate failed, the worker died) is tried again: what it
#: rendered is kept and skipped, the rest is rendered.
PDF_JOB_RETRY = {"max": 3, "interval": [10, 60, 300]}


def render_pdf_later(certificate_id: int) -> None:
    """Queue the certificate's PDF once the transaction commits, in a batch with the
    other certificates this transaction queues (a rolled-back SAVEPOINT drops its own)."""
    enqueue_batched_after_commit(RENDER_PDFS_JOB, [certificate_id], PDF_BATCH,
                                 job_timeout=PDF_JOB_TIMEOUT, retry=Retry(**PDF_JOB_RETRY))


def record_rendering(certificate_id: int, sha256: str, pdf_key: str | None) -> None:
    """Keep a rendering's hash with its certificate (flushes; once per hash: a rendering
    that happens to be byte-identical to an earlier one adds nothing)."""
    known = db.session.scalar(select(CertificateRendering.certificate_id).where(
        CertificateRendering.sha256 == sha256))
    if known is not None:
        return
    db.session.add(CertificateRendering(certificate_id=certificate_id, sha256=sha256,
                                        pdf_key=pdf_key))
    db.session.flush()


def renderings_of(certificate_id: int) -> list[CertificateRendering]:
    return list(db.session.scalars(
        select(CertificateRendering).where(CertificateRendering.certificate_id == certificate_id)
        .order_by(CertificateRendering.id)))


def holder_pdf(user_id: int, certificate_id: int) -> tuple[Certificate, bytes | None]:
    """The holder's own certificate and its current PDF (None while the PDF job is still
    rendering it). Only the recipient gets it; anyone else, or an unknown id, gets
    NotFound ("Certificate not found."). Only an issued certificate has a PDF to download,
    expired included (it was genuine and says its dates); a pending, rejected, revoked
    or superseded one raises NotFound saying why (a withdrawn certificate's PDF must not
    travel on as if it were valid)."""
    certificate = db.session.get(Certificate, certificate_id)
    if certificate is None or certificate.recipient_id != user_id:
        raise NotFound("Certificate not found.")
    if certificate.status != CertificateStatus.ISSUED:
        raise NotFound(f"This certificate is {certificate.status.label.lower()}, so it has "
                       "no PDF to download.")
    if not certificate.pdf_key or not storage.exists(certificate.pdf_key):
        return certificate, None
    return certificate, storage.read(certificate.pdf_key)
