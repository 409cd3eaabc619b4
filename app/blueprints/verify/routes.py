"""Public certificate verification; no login (except the holder's badge download).

    GET  /verify/<verification_id>            the certificate's page (or JSON, below)
    GET  /verify                              type the number + code, or upload the PDF
    POST /verify                              check=code (number, code) or check=pdf (pdf)
    GET  /verify/<verification_id>/badge.json the holder's Open Badges 3.0 credential
    GET  /.well-known/jwks.json               every signing key, current and retired

Unknown, malformed and altered ids, and pending or rejected certificates, all get the
same NOT FOUND answer (same template, status 404, nothing from the request echoed).

JSON (`?format=json`, or `Accept: application/json` preferred over HTML):

    {"iss": PUBLIC_BASE_URL, "iat": 1795420800, "checked_at": "2026-11-23T08:00:00Z",
     "status": "VALID" | "EXPIRED" | "REVOKED" | "NOT_FOUND",
     "certificate": {"number", "recipient_name", "type", "type_label", "subject",
                     "subject_kind", "track", "version", "issued_on", "expires_on",
                     "issuer", "revoked_on", "revocation_category", "verify_url"} | null,
     "jws": "<compact JWS>"}

`jws` is signed with the current key (header {"alg": "EdDSA", "kid", "typ":
"credwright-verification+jwt"}; the key is in /.well-known/jwks.json by its kid), and
its payload is exactly the answer without "jws": a verifier decodes it and reads that,
or compares it with the unsigned fields. NOT_FOUND is 404 with the same shape
("certificate": null). The certificate fields are the snapshot frozen at issue, minus
`issued_by` (a staff member's name is not published), plus the revocation date and
category (never the free-text reason) and the page's URL.

POST /verify answers 200 with the result panel whether or not anything matched (a
lookup that finds nothing is an answer, not an error), 422 for a missing field or
file, 413 for a PDF over 10 MiB. htmx requests get only the #verify-result fragment.

Every answer is `Referrer-Policy: no-referrer` and `X-Robots-Tag: noindex`, and is
rate limited per client address: VERIFY_RATE_LIMIT (default "60 per minute") for the
page, JSON, JWKS and badge; VERIFY_LOOKUP_RATE_LIMIT ("10 per minute") for POST /verify.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, text
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from app.blueprints.verify.forms import PDF_MAX_BYTES, CodeLookupForm, PdfCheckForm
from app.extensions import db, limiter
from app.models import Certificate, CertificateStatus
from app.models.base import utcnow
from app.services import certificates, signing
from app.web import errors
from app.web.htmx import render

bp = Blueprint("verify", __name__)

NOT_FOUND = "NOT_FOUND"
# secrets.token_urlsafe(24): 32 characters of the URL-safe base64 alphabet.
VERIFICATION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
NUMBER = re.compile(r"(?:CERT)?-?(\d{4})-?(\d{1,5})")
CATEGORY_LABELS = {
    "issued_in_error": "Issued in error",
    "misconduct": "Misconduct",
    "requirements_not_met": "Requirements not met",
    "superseded": "Superseded by a newer certificate",
    "other": "Other",
}


def _page_limit() -> str:
    return current_app.config.get("VERIFY_RATE_LIMIT", "60 per minute")


def _lookup_limit() -> str:
    return current_app.config.get("VERIFY_LOOKUP_RATE_LIMIT", "10 per minute")


@bp.after_request
def _private_answers(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# --- Looking certificates up (read-only queries) -------------------------------------

def _public(certificate: Certificate | None) -> Certificate | None:
    """The certificate if the public may know it exists (issued or revoked)."""
    if certificates.verification_status(certificate) == NOT_FOUND:
        return None
    return certificate


def by_verification_id(verification_id: str) -> Certificate | None:
    if not VERIFICATION_ID.fullmatch(verification_id or ""):
        return None  # malformed: no query, same answer as unknown
    return _public(db.session.scalar(
        select(Certificate).where(Certificate.verification_id == verification_id)))


def normalise_number(raw: str) -> str:
    """"cert-2026-00042", "CERT 2026 42", "2026-00042" -> "CERT-2026-00042"."""
    cleaned = re.sub(r"\s+", "", raw or "").upper()
    match = NUMBER.fullmatch(cleaned)
    return f"CERT-{match[1]}-{int(match[2]):05d}" if match else cleaned


def by_number_and_code(number: str, code: str) -> Certificate | None:
    certificate = db.session.scalar(
        select(Certificate).where(Certificate.number == normalise_number(number)))
    expected = (certificate.verification_code or "") if certificate is not None else ""
    given = certificates.normalise_code(code or "")
    if certificate is None or not expected or not hmac.compare_digest(
            expected.encode(), given.encode()):
        return None
    return _public(certificate)


def by_pdf_sha256(digest: str) -> Certificate | None:
    return _public(db.session.scalar(
        select(Certificate).where(Certificate.pdf_sha256 == digest).limit(1)))


# --- The answer (one dict for the page, the JSON and the JWS) ------------------------

def _iso_now() -> tuple[int, str]:
    now = utcnow().replace(microsecond=0)
    return int(now.timestamp()), now.isoformat().replace("+00:00", "Z")


def public_certificate(certificate: Certificate) -> dict[str, Any]:
    snap = certificate.snapshot or {}
    revoked = certificate.status == CertificateStatus.REVOKED
    return {
        "number": snap.get("number") or certificate.number,
        "recipient_name": snap.get("recipient_name"),
        "type": snap.get("type") or certificate.type.value,
        "type_label": snap.get("type_label") or certificate.type.label,
        "subject": snap.get("subject"),
        "subject_kind": snap.get("subject_kind"),
        "track": snap.get("track"),
        "version": snap.get("version"),
        "issued_on": snap.get("issued_on"),
        "expires_on": snap.get("expires_on"),
        "issuer": snap.get("issuer") or current_app.config["ISSUER_NAME"],
        "revoked_on": (certificate.revoked_at.date().isoformat()
                       if revoked and certificate.revoked_at else None),
        "revocation_category": certificate.revocation_category if revoked else None,
        "verify_url": signing.verify_url(certificate),
    }


def answer_for(certificate: Certificate | None) -> dict[str, Any]:
    """The public answer about a certificate found by one of the lookups above (None:
    nothing, or nothing the public may know about)."""
    iat, checked_at = _iso_now()
    return {
        "iss": signing.base_url(), "iat": iat, "checked_at": checked_at,
        "status": certificates.verification_status(certificate),
        "certificate": public_certificate(certificate) if certificate is not None else None,
    }


def _record(certificate: Certificate | None, channel: str) -> None:
    """Record a check of `certificate` and commit everything (a first signing key too).

    GET requests begin SQLite transactions deferred (app/database.py), and one that has
    read cannot reliably become a writer under concurrency ("database is locked" at
    once, whatever the busy timeout). So the reading transaction ends first (the
    certificate is detached so the commit does not expire it), and the INSERT opens a
    transaction of its own, which waits its turn for the write lock.
    """
    if certificate is None or request.method == "HEAD":
        db.session.commit()
        return
    if db.session.get_bind().dialect.name != "sqlite":
        # PostgreSQL: one transaction. A lost row of this log in a crash is acceptable,
        # so the commit does not wait for the WAL flush (synchronous_commit off).
        db.session.execute(text("SET LOCAL synchronous_commit = off"))
        certificates.record_verification(certificate, channel)
        db.session.commit()
        return
    db.session.expunge(certificate)
    db.session.commit()
    certificates.record_verification(certificate, channel)
    db.session.commit()


def _wants_json() -> bool:
    if request.endpoint in ("verify.jwks", "verify.open_badge"):
        return True
    if request.args.get("format", "").lower() == "json":
        return True
    # Werkzeug breaks ties in our order: "*/*" (curl, htmx) gets the page.
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
        "application/json"


def _human_date(value: str | None) -> str:
    if not value:
        return ""
    day = date.fromisoformat(value)
    return f"{day.day} {day:%B %Y}"


def _context(found: Certificate | None, **extra: Any) -> dict[str, Any]:
    json_url = (url_for("verify.certificate", verification_id=found.verification_id,
                        format="json") if found is not None else None)
    return {"human_date": _human_date, "category_labels": CATEGORY_LABELS,
            "json_url": json_url, **extra}


# --- Views ---------------------------------------------------------------------------

@bp.route("/verify/<verification_id>")
@limiter.limit(_page_limit)
def certificate(verification_id: str) -> Any:
    found = by_verification_id(verification_id)
    as_json = _wants_json()
    answer = answer_for(found)
    status = 404 if found is None else 200
    if as_json:
        body = {**answer, "jws": signing.sign_verification(answer)}
        _record(found, "json")
        response = jsonify(body)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
    else:
        context = _context(found, result=answer)
        _record(found, "page")
        response = render("verify/certificate.html", status=status, **context)
    response.vary.add("Accept")
    return response


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(_page_limit, methods=["GET"], per_method=True)
@limiter.limit(_lookup_limit, methods=["POST"], per_method=True)
def lookup() -> Any:
    code_form = CodeLookupForm()
    pdf_form = PdfCheckForm()
    if request.method == "GET":
        return _lookup_page(code_form, pdf_form)
    if request.form.get("check") == "pdf":
        return _check_pdf(code_form, pdf_form)
    if not code_form.validate():
        return _lookup_page(code_form, pdf_form, error="Enter both the certificate number "
                            "and the verification code.", status=422, check="code")
    found = by_number_and_code(code_form.number.data, code_form.code.data)
    result = answer_for(found)
    _record(found, "code")
    return _lookup_page(code_form, pdf_form, found, result=result, check="code")


def _check_pdf(code_form: CodeLookupForm, pdf_form: PdfCheckForm) -> Any:
    upload = pdf_form.pdf.data
    if upload is None or not getattr(upload, "filename", ""):
        return _lookup_page(code_form, pdf_form, error="Choose the certificate's PDF file.",
                            status=422, check="pdf")
    data = upload.stream.read(PDF_MAX_BYTES + 1)
    if len(data) > PDF_MAX_BYTES:
        return _too_large()
    found = by_pdf_sha256(hashlib.sha256(data).hexdigest())
    result = answer_for(found)
    _record(found, "pdf")
    return _lookup_page(code_form, pdf_form, found, result=result, check="pdf",
                        pdf_match=found is not None)


def _too_large() -> Any:
    return _lookup_page(CodeLookupForm(formdata=None), PdfCheckForm(formdata=None),
                        error="That file is larger than 10 MiB; certificate PDFs are much "
                              "smaller. Check that you chose the right file.",
                        status=413, check="pdf")


def _lookup_page(code_form: CodeLookupForm, pdf_form: PdfCheckForm,
                 found: Certificate | None = None, *, status: int = 200, **extra: Any) -> Any:
    return render("verify/lookup.html", "partials/verify/lookup_result.html", status=status,
                  **_context(found, code_form=code_form, pdf_form=pdf_form, **extra))


@bp.route("/verify/<verification_id>/badge.json")
@limiter.limit(_page_limit)
@login_required
def open_badge(verification_id: str) -> Any:
    """The holder's own signed credential; anyone else (or a revoked one) gets 404."""
    found = by_verification_id(verification_id)
    if (found is None or found.recipient_id != current_user.id
            or found.status != CertificateStatus.ISSUED or not found.credential_jws):
        abort(404)
    response = jsonify({"credential": found.credential_jws})
    filename = re.sub(r"[^A-Za-z0-9-]", "", found.number or "certificate")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{filename}-open-badge.json"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/.well-known/jwks.json")
@limiter.limit(_page_limit)
def jwks() -> Any:
    response = jsonify(signing.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- Errors of this blueprint --------------------------------------------------------

@bp.errorhandler(TooManyRequests)
def _rate_limited(exc: TooManyRequests) -> Any:
    """JSON clients get a JSON 429; pages get the app's usual error page."""
    headers = {"Retry-After": "60"}
    if _wants_json():
        return jsonify({"error": {"code": "rate_limited",
                                  "message": errors.MESSAGES[429]}}), 429, headers
    html, status = errors.error_response(429, errors.MESSAGES[429])
    return html, status, headers


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(exc: RequestEntityTooLarge) -> Any:
    if request.endpoint == "verify.lookup":
        return _too_large()
    return errors.error_response(413, errors.TITLES[413])
