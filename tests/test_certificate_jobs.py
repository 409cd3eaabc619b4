"""Certificate jobs: the PDF rendered at issue (once), and bulk exports as ZIPs."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader
from sqlalchemy import update

from app.extensions import db
from app.jobs import certificates as jobs
from app.jobs.certificates import build_certificate_export, render_certificate_pdf
from app.models import (
    Certificate,
    CertificateExport,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    User,
)
from app.models.base import utcnow
from app.services import certificates, pdf, storage, training
from app.services.context import Actor


@pytest.fixture
def app(make_app, tmp_path: Path) -> Flask:
    """Stored files go to a temporary directory, not instance/storage."""
    return make_app(STORAGE_DIR=str(tmp_path / "storage"), PUBLIC_BASE_URL="https://certs.test")


def _issue(app: Flask, user: User, track: CertificationTrack,
           type_: CertificateType = CertificateType.COMPLETION) -> int:
    """Issue through the service and commit: the PDF job runs then, inline."""
    with app.app_context():
        certificate = certificates.issue_certificate(
            Actor.system(), recipient=db.session.get(User, user.id), type_=type_,
            track=db.session.get(CertificationTrack, track.id))
        db.session.commit()
        return certificate.id


def _get(app: Flask, certificate_id: int) -> Certificate:
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        db.session.expunge(certificate)
        return certificate


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _stored_files(app: Flask, prefix: str) -> list[Path]:
    root = Path(app.config["STORAGE_DIR"]) / prefix
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _read(app: Flask, key: str) -> bytes:
    with app.app_context():
        return storage.read(key)


# --- render_certificate_pdf ------------------------------------------------------------

def test_issuing_renders_and_stores_the_pdf(app, make_user, make_track):
    user = make_user(name="Aroha Ngāti Pōneke")
    track = make_track("Roofing Fundamentals")
    certificate = _get(app, _issue(app, user, track))
    assert certificate.status == CertificateStatus.ISSUED
    assert certificate.pdf_key and certificate.pdf_key.startswith("certificates/")
    data = _read(app, certificate.pdf_key)
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == certificate.pdf_sha256
    text = _text(data)
    assert "Aroha Ngāti Pōneke" in text and "Roofing Fundamentals" in text
    assert certificate.number in text and certificate.verification_code in text
    assert f"https://certs.test/verify/{certificate.verification_id}" in text


def test_the_job_is_idempotent(app, make_user, make_track):
    certificate_id = _issue(app, make_user(), make_track())
    before = _get(app, certificate_id)
    with app.app_context():
        again = render_certificate_pdf(certificate_id)
        third = render_certificate_pdf(certificate_id)
    assert again["status"] == third["status"] == "already_rendered"
    assert again["key"] == before.pdf_key and again["sha256"] == before.pdf_sha256
    after = _get(app, certificate_id)
    assert (after.pdf_key, after.pdf_sha256) == (before.pdf_key, before.pdf_sha256)
    assert len(_stored_files(app, "certificates")) == 1


def test_a_lost_file_is_rendered_again(app, make_user, make_track):
    certificate_id = _issue(app, make_user(), make_track())
    old = _get(app, certificate_id)
    with app.app_context():
        storage.path_for(old.pdf_key).unlink()
        result = render_certificate_pdf(certificate_id)
    assert result["status"] == "rendered" and result["key"] != old.pdf_key
    new = _get(app, certificate_id)
    assert new.pdf_key == result["key"]
    assert hashlib.sha256(_read(app, new.pdf_key)).hexdigest() == new.pdf_sha256


def test_the_pdf_shows_the_snapshot_not_todays_names(app, make_user, make_track):
    user = make_user(name="Zoë Brontë")
    track = make_track("Flashings 101")
    certificate_id = _issue(app, user, track)
    with app.app_context():
        db.session.get(User, user.id).name = "Somebody Else"
        training.update_track(db.session.get(CertificationTrack, track.id), Actor.system(),
                              name="Renamed Track")
        certificate = db.session.get(Certificate, certificate_id)
        storage.path_for(certificate.pdf_key).unlink()
        db.session.commit()
        assert render_certificate_pdf(certificate_id)["status"] == "rendered"
    text = _text(_read(app, _get(app, certificate_id).pdf_key))
    assert "Zoë Brontë" in text and "Flashings 101" in text
    assert "Somebody Else" not in text and "Renamed Track" not in text


def test_revoked_pending_and_missing_certificates_are_skipped(app, make_user, make_track):
    track = make_track()
    revoked_id = _issue(app, make_user(), track)
    pending_user = make_user()
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, revoked_id), Actor.system(),
                            "Issued in error.", "issued_in_error")
        db.session.execute(update(Certificate).where(Certificate.id == revoked_id)
                           .values(pdf_key=None, pdf_sha256=None))
        pending = Certificate(type=CertificateType.COMPLETION, status=CertificateStatus.PENDING,
                              recipient_id=pending_user.id, track_id=track.id)
        db.session.add(pending)
        db.session.commit()
        pending_id = pending.id
        revoked = render_certificate_pdf(revoked_id)
        waiting = render_certificate_pdf(pending_id)
        gone = render_certificate_pdf(987654)
    assert revoked == {"certificate_id": revoked_id, "status": "skipped",
                       "reason": "certificate is revoked"}
    assert waiting["status"] == "skipped" and waiting["reason"] == "certificate is pending"
    assert gone["status"] == "skipped"
    assert _get(app, revoked_id).pdf_key is None and _get(app, pending_id).pdf_key is None


def test_a_reinstated_certificate_gets_its_pdf_again(app, make_user, make_track):
    certificate_id = _issue(app, make_user(), make_track())
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        certificates.revoke(certificate, Actor.system(), "Checking.", "other")
        db.session.commit()
        certificates.reinstate(db.session.get(Certificate, certificate_id), Actor.system())
        db.session.commit()  # reinstate clears the PDF and queues the job again
    reinstated = _get(app, certificate_id)
    assert reinstated.status == CertificateStatus.ISSUED and reinstated.pdf_key
    assert hashlib.sha256(_read(app, reinstated.pdf_key)).hexdigest() == reinstated.pdf_sha256


def test_a_failed_render_stores_nothing_and_a_rerun_recovers(app, make_user, make_track,
                                                             monkeypatch, caplog):
    def broken(certificate: Any) -> bytes:
        raise RuntimeError("renderer down")

    monkeypatch.setattr(pdf, "render_certificate", broken)
    certificate_id = _issue(app, make_user(), make_track())  # the inline job fails, logged
    assert "inline job render_certificate_pdf" in caplog.text
    assert _get(app, certificate_id).pdf_key is None
    assert _stored_files(app, "certificates") == []
    monkeypatch.undo()
    with app.app_context():
        assert render_certificate_pdf(certificate_id)["status"] == "rendered"
    assert _get(app, certificate_id).pdf_key


def test_a_run_that_loses_the_race_keeps_the_winners_pdf(app, make_user, make_track,
                                                        monkeypatch):
    certificate_id = _issue(app, make_user(), make_track())
    with app.app_context():
        winner = db.session.get(Certificate, certificate_id)
        winner_key, winner_sha = winner.pdf_key, winner.pdf_sha256
        # This run saw no PDF; while it renders, another run stores one.
        db.session.execute(update(Certificate).where(Certificate.id == certificate_id)
                           .values(pdf_key=None, pdf_sha256=None))
        db.session.commit()
        real = pdf.render_certificate

        def render_while_another_run_wins(certificate: Any) -> bytes:
            data = real(certificate)
            db.session.execute(update(Certificate).where(Certificate.id == certificate_id)
                               .values(pdf_key=winner_key, pdf_sha256=winner_sha))
            return data

        monkeypatch.setattr(pdf, "render_certificate", render_while_another_run_wins)
        result = render_certificate_pdf(certificate_id)
    assert result["status"] == "already_rendered" and result["key"] == winner_key
    assert _get(app, certificate_id).pdf_key == winner_key
    assert len(_stored_files(app, "certificates")) == 1  # the loser deleted its copy


# --- build_certificate_export ----------------------------------------------------------

def _export(app: Flask, filters: dict[str, Any] | None = None) -> int:
    with app.app_context():
        export = CertificateExport(filters=filters or {})
        db.session.add(export)
        db.session.commit()
        return export.id


def _build(app: Flask, export_id: int) -> tuple[dict[str, Any], CertificateExport]:
    with app.app_context():
        result = build_certificate_export(export_id)
        export = db.session.get(CertificateExport, export_id)
        db.session.expunge(export)
    return result, export


def _zip(app: Flask, export: CertificateExport) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(_read(app, export.storage_key)))


def test_an_export_zips_the_issued_certificates(app, make_user, make_track):
    track = make_track()
    issued = [_get(app, _issue(app, make_user(), track)) for _ in range(2)]
    revoked_id = _issue(app, make_user(), track)
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, revoked_id), Actor.system(),
                            "Misconduct.", "misconduct")
        db.session.commit()
    result, export = _build(app, _export(app))
    assert result["status"] == "ready" and result["certificate_count"] == 2
    assert export.status == "ready" and export.certificate_count == 2
    assert export.finished_at is not None and export.error is None
    assert export.storage_key.startswith("exports/")
    archive = _zip(app, export)
    assert sorted(archive.namelist()) == sorted(f"{c.number}.pdf" for c in issued)
    for certificate in issued:
        info = archive.getinfo(f"{certificate.number}.pdf")
        assert info.compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(info) == _read(app, certificate.pdf_key)
    assert archive.testzip() is None


def test_an_export_renders_missing_pdfs(app, make_user, make_track):
    track = make_track()
    first = _issue(app, make_user(), track)
    second = _issue(app, make_user(), track)
    with app.app_context():
        certificate = db.session.get(Certificate, second)
        storage.path_for(certificate.pdf_key).unlink()
        certificate.pdf_key = certificate.pdf_sha256 = None
        db.session.commit()
    result, export = _build(app, _export(app))
    assert result["status"] == "ready" and result["rendered"] == 1
    assert export.certificate_count == 2
    rendered = _get(app, second)
    assert rendered.pdf_key and _zip(app, export).read(f"{rendered.number}.pdf") == _read(
        app, rendered.pdf_key)
    assert _get(app, first).pdf_key


def test_an_export_is_built_once(app, make_user, make_track):
    _issue(app, make_user(), make_track())
    export_id = _export(app)
    first, export = _build(app, export_id)
    again, same = _build(app, export_id)
    assert first["status"] == "ready" and again["status"] == "already_ready"
    assert same.storage_key == export.storage_key and same.finished_at == export.finished_at
    assert len(_stored_files(app, "exports")) == 1


def test_a_ready_export_whose_file_was_lost_is_built_again(app, make_user, make_track):
    _issue(app, make_user(), make_track())
    export_id = _export(app)
    _, export = _build(app, export_id)
    with app.app_context():
        storage.path_for(export.storage_key).unlink()
    result, rebuilt = _build(app, export_id)
    assert result["status"] == "ready" and rebuilt.storage_key != export.storage_key
    assert rebuilt.certificate_count == 1 and len(_zip(app, rebuilt).namelist()) == 1


def test_an_export_of_nothing_is_ready_with_zero(app, make_user, make_track):
    result, export = _build(app, _export(app))  # no certificates at all
    assert result["status"] == "ready" and export.status == "ready"
    assert export.certificate_count == 0 and _zip(app, export).namelist() == []
    _issue(app, make_user(), make_track())
    result, export = _build(app, _export(app, {"q": "nobody-matches-this"}))
    assert export.status == "ready" and export.certificate_count == 0
    assert _zip(app, export).namelist() == []


def test_export_filters_come_from_json(app, make_user, make_track):
    wanted, other = make_track("Wanted"), make_track("Other")
    mine = _get(app, _issue(app, make_user(), wanted))
    _issue(app, make_user(), other)
    today = utcnow().date()
    filters = {"track_id": str(wanted.id), "date_from": today.isoformat(),
               "date_to": today.isoformat(), "status": "ISSUED", "type": "", "q": ""}
    _, export = _build(app, _export(app, filters))
    assert export.status == "ready"
    assert _zip(app, export).namelist() == [f"{mine.number}.pdf"]
    tomorrow = (today + timedelta(days=1)).isoformat()
    _, later = _build(app, _export(app, {"date_from": tomorrow}))
    assert later.status == "ready" and later.certificate_count == 0


def test_an_export_over_the_cap_fails_with_a_clear_error(app, make_user, make_track,
                                                         monkeypatch):
    monkeypatch.setattr(jobs, "MAX_EXPORT_CERTIFICATES", 1)
    track = make_track()
    _issue(app, make_user(), track)
    _issue(app, make_user(), track)
    result, export = _build(app, _export(app))
    assert result["status"] == "failed" and export.status == "failed"
    assert "match 2 issued certificates" in export.error and "at most 1" in export.error
    assert export.storage_key is None and export.finished_at is not None
    assert _stored_files(app, "exports") == []


def test_the_cap_is_five_thousand():
    assert jobs.MAX_EXPORT_CERTIFICATES == 5000


@pytest.mark.parametrize(("filters", "message"), [
    ({"colour": "blue"}, "Unknown filter 'colour'"),
    ({"date_from": "last tuesday"}, "Filter 'date_from' has an unreadable value"),
    ({"track_id": "seven"}, "Filter 'track_id' has an unreadable value"),
])
def test_an_export_with_bad_filters_fails(app, filters, message):
    result, export = _build(app, _export(app, filters))
    assert export.status == "failed" and message in export.error
    assert result == {"export_id": export.id, "status": "failed", "error": export.error}


def test_a_failed_export_says_why_and_can_be_run_again(app, make_user, make_track,
                                                      monkeypatch):
    certificate_id = _issue(app, make_user(), make_track())
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        storage.path_for(certificate.pdf_key).unlink()

    def broken(certificate: Any) -> bytes:
        raise RuntimeError("renderer down")

    monkeypatch.setattr(pdf, "render_certificate", broken)
    export_id = _export(app)
    result, export = _build(app, export_id)
    assert export.status == "failed" and "renderer down" in export.error
    monkeypatch.undo()
    result, export = _build(app, export_id)
    assert result["status"] == "ready" and export.certificate_count == 1
    assert export.error is None


def test_a_missing_export_is_skipped(app):
    with app.app_context():
        assert build_certificate_export(424242)["status"] == "skipped"


# --- every rendering kept -----------------------------------------------------------------

def test_every_rendering_keeps_its_hash_with_its_certificate(app, make_user, make_track):
    """Reinstate re-renders the PDF: the new hash is current and the first one is kept."""
    user = make_user(name="Hemi Walker")
    track = make_track("Re-rendered")
    certificate_id = _issue(app, user, track)
    first = _get(app, certificate_id)
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        certificates.revoke(certificate, Actor.system(), "Checking.", "other")
        db.session.commit()
        certificates.reinstate(db.session.get(Certificate, certificate_id), Actor.system())
        db.session.commit()  # the PDF job runs again, inline
    second = _get(app, certificate_id)
    assert second.pdf_key and second.pdf_key != first.pdf_key
    assert second.pdf_sha256 != first.pdf_sha256  # a new file (xhtml2pdf stamps it)
    with app.app_context():
        kept = certificates.renderings_of(certificate_id)
        hashes = [r.sha256 for r in kept]
        assert second.pdf_sha256 in hashes and first.pdf_sha256 in hashes
        assert len(set(hashes)) == len(hashes)
        assert all(r.certificate_id == certificate_id for r in kept)
        # The job run again finds the PDF there: no new rendering.
        render_certificate_pdf(certificate_id)
        assert len(certificates.renderings_of(certificate_id)) == len(kept)


def test_a_byte_identical_rendering_is_kept_once(app, make_user, make_track):
    user = make_user(name="Rangi Parata")
    certificate_id = _issue(app, user, make_track("Same bytes"))
    current = _get(app, certificate_id)
    with app.app_context():
        certificates.record_rendering(certificate_id, current.pdf_sha256, current.pdf_key)
        db.session.commit()
        assert [r.sha256 for r in certificates.renderings_of(certificate_id)] == [
            current.pdf_sha256]
