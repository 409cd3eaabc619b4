"""Every PDF rendering of a certificate, by SHA-256: the public PDF check recognizes
each file ever handed out (the copy sent to an employer before a reinstate re-rendered
it too) and answers with its certificate's status now."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import CertificateRendering


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
