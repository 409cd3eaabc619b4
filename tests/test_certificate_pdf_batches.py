"""Certificate PDFs a batch per job: what one transaction issues shares jobs, each
certificate is rendered once (also with two jobs at once), one that fails fails alone,
and a job that died midway renders only the rest on its retry."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.jobs import certificates as jobs
from app.models import (
    Certificate,
    CertificateRendering,
    CertificateType,
    CertificationTrack,
    JobOutbox,
    User,
)
from app.services import certificates, pdf, storage, verification
from app.services.certificates import renderings
from app.services.context import Actor


@pytest.fixture
def app(make_app, tmp_path: Path) -> Flask:
    return make_app(STORAGE_DIR=str(tmp_path / "storage"), PUBLIC_BASE_URL="https://certs.test")


def _issue_together(app: Flask, users: list[User], track: CertificationTrack) -> list[int]:
    """Issue one certificate per user in one transaction (as a bulk batch does)."""
    with app.app_context():
        ids = [certificates.issue_certificate(
            Actor.system(), recipient=db.session.get(User, user.id),
            type_=CertificateType.COMPLETION,
            track=db.session.get(CertificationTrack, track.id)).id for user in users]
        db.session.commit()  # the PDF jobs run now, inline
        return ids


def _pdfs(app: Flask, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    with app.app_context():
        return {c.id: (c.pdf_key, c.pdf_sha256) for c in db.session.scalars(
            select(Certificate).where(Certificate.id.in_(ids)))}


def _clear(app: Flask, ids: list[int]) -> None:
    """Forget the certificates' PDFs (files, keys, renderings), as if never rendered."""
    with app.app_context():
        for certificate in db.session.scalars(select(Certificate).where(Certificate.id.in_(ids))):
            storage.path_for(certificate.pdf_key).unlink()
            certificate.pdf_key = certificate.pdf_sha256 = None
        for rendering in db.session.scalars(select(CertificateRendering).where(
                CertificateRendering.certificate_id.in_(ids))):
            db.session.delete(rendering)
        db.session.commit()


def _counting_renders(monkeypatch: pytest.MonkeyPatch, fail: set[int] | None = None,
                      stop_after: int | None = None) -> list[int]:
    """Count the renders (ids); `fail`: these raise; `stop_after`: the worker dies
    (a BaseException, as a killed horse) once that many were rendered."""
    real = pdf.render_certificate
    calls: list[int] = []
    lock = threading.Lock()

    def render(certificate: Any) -> bytes:
        with lock:
            if stop_after is not None and len(calls) >= stop_after:
                raise SystemExit("worker killed")
            calls.append(certificate.id)
        if fail and certificate.id in fail:
            raise RuntimeError("broken snapshot")
        return real(certificate)

    monkeypatch.setattr(pdf, "render_certificate", render)
    return calls


def test_one_transaction_queues_one_job_for_its_certificates(app, make_user, make_track):
    ids = _issue_together(app, [make_user() for _ in range(3)], make_track())
    with app.app_context():
        rows = list(db.session.scalars(select(JobOutbox).where(
            JobOutbox.name == renderings.RENDER_PDFS_JOB)))
        assert [row.args for row in rows] == [[ids]]
        assert rows[0].options["retry"]["max"] == renderings.PDF_JOB_RETRY["max"]
        # Each PDF is stored, recorded, and recognised by the public upload check.
        for certificate in db.session.scalars(select(Certificate).where(Certificate.id.in_(ids))):
            data = storage.read(certificate.pdf_key)
            assert data.startswith(b"%PDF")
            assert hashlib.sha256(data).hexdigest() == certificate.pdf_sha256
            record = verification.by_pdf_sha256(certificate.pdf_sha256)
            assert record is not None and record.number == certificate.number
            assert [r.pdf_key for r in renderings.renderings_of(certificate.id)] == [
                certificate.pdf_key]


def test_batches_hold_at_most_pdf_batch(app, make_user, make_track, monkeypatch):
    monkeypatch.setattr(renderings, "PDF_BATCH", 2)
    ids = _issue_together(app, [make_user() for _ in range(5)], make_track())
    with app.app_context():
        assert [row.args for row in db.session.scalars(select(JobOutbox).where(
            JobOutbox.name == renderings.RENDER_PDFS_JOB).order_by(JobOutbox.id))] == [
            [ids[:2]], [ids[2:4]], [ids[4:]]]
    assert all(key for key, _ in _pdfs(app, ids).values())


def test_a_single_issue_is_a_batch_of_one(app, make_user, make_track):
    [certificate_id] = _issue_together(app, [make_user()], make_track())
    with app.app_context():
        assert [row.args for row in db.session.scalars(select(JobOutbox).where(
            JobOutbox.name == renderings.RENDER_PDFS_JOB))] == [[[certificate_id]]]
    assert _pdfs(app, [certificate_id])[certificate_id][0]


def test_one_bad_certificate_fails_alone_and_the_retry_renders_only_it(
        app, make_user, make_track, monkeypatch):
    ids = _issue_together(app, [make_user() for _ in range(4)], make_track())
    _clear(app, ids)
    calls = _counting_renders(monkeypatch, fail={ids[1]})
    with app.app_context(), pytest.raises(jobs.PdfBatchIncomplete, match=f"{ids[1]}: Runtime"):
        jobs.render_certificate_pdfs(ids)
    stored = _pdfs(app, ids)
    assert stored[ids[1]] == (None, None)
    assert all(stored[i][0] for i in ids if i != ids[1])
    monkeypatch.undo()
    calls = _counting_renders(monkeypatch)
    with app.app_context():
        summary = jobs.render_certificate_pdfs(ids)
    assert calls == [ids[1]]  # the others were kept, not rendered again
    assert summary == {"rendered": 1, "already_rendered": 3, "skipped": 0, "failed": {}}
    assert {i: v for i, v in _pdfs(app, ids).items() if i != ids[1]} == {
        i: v for i, v in stored.items() if i != ids[1]}


def test_the_jobs_timeout_is_not_taken_for_one_certificates_failure(
        app, make_user, make_track, monkeypatch):
    # RQ's timeout is an Exception: caught per certificate, the job would run on unbounded.
    from rq.timeouts import JobTimeoutException

    ids = _issue_together(app, [make_user() for _ in range(3)], make_track())
    _clear(app, ids)
    rendered: list[int] = []
    real = pdf.render_certificate

    def timed_out_on_the_second(certificate: Any) -> bytes:
        if certificate.id == ids[1]:
            raise JobTimeoutException("Task exceeded maximum timeout value")
        rendered.append(certificate.id)
        return real(certificate)

    monkeypatch.setattr(pdf, "render_certificate", timed_out_on_the_second)
    with app.app_context(), pytest.raises(JobTimeoutException):
        jobs.render_certificate_pdfs(ids)
    assert rendered == [ids[0]]  # stopped there; the retry renders the rest


def test_a_job_that_dies_midway_renders_the_rest_on_its_retry(
        app, make_user, make_track, monkeypatch):
    ids = _issue_together(app, [make_user() for _ in range(4)], make_track())
    _clear(app, ids)
    _counting_renders(monkeypatch, stop_after=2)
    with app.app_context(), pytest.raises(SystemExit):
        jobs.render_certificate_pdfs(ids)
    first = _pdfs(app, ids)
    assert [bool(first[i][0]) for i in ids] == [True, True, False, False]
    monkeypatch.undo()
    calls = _counting_renders(monkeypatch)
    with app.app_context():
        jobs.render_certificate_pdfs(ids)
    assert calls == ids[2:]
    after = _pdfs(app, ids)
    assert [after[i] for i in ids[:2]] == [first[i] for i in ids[:2]]
    root = Path(app.config["STORAGE_DIR"]) / "certificates"
    assert len([p for p in root.rglob("*") if p.is_file()]) == 4  # nothing unclaimed left


def test_two_jobs_at_once_render_each_certificate_once(make_app, tmp_path, make_user,
                                                       make_track, monkeypatch):
    app = make_app(STORAGE_DIR=str(tmp_path / "storage"), SQLITE_IMMEDIATE_OUTSIDE_REQUESTS=True)
    ids = _issue_together(app, [make_user() for _ in range(3)], make_track())
    _clear(app, ids)
    calls = _counting_renders(monkeypatch)
    barrier = threading.Barrier(2)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results.append(jobs.render_certificate_pdfs(ids))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(calls) == sorted(ids)  # each rendered once, by one of the two
    assert sum(r["rendered"] for r in results) == 3
    assert sum(r["already_rendered"] for r in results) == 3
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CertificateRendering)
                                 .where(CertificateRendering.certificate_id.in_(ids))) == 3
