"""Public certificate verification; no login (except the holder's badge download).

    GET  /verify/<verification_id>            the certificate's page (or JSON, below)
    GET  /verify                              type the number + code, or upload the PDF
    POST /verify                              check=code (number, code) or check=pdf (pdf)
    GET  /verify/<verification_id>/badge.json the holder's Open Badges 3.0 credential (as
                                              /me/badges/certificates/<id>.json)
    GET  /.well-known/jwks.json               every signing key, current and retired

Unknown, malformed and altered ids, and pending or rejected certificates, all get the
same NOT FOUND answer (same template, status 404, nothing from the request echoed).

JSON (`?format=json`, or `Accept: application/json` preferred over HTML):

    {"iss": PUBLIC_BASE_URL, "sub": "<the id asked>", "iat": 1795420800,
     "exp": 1795421400, "verification_id": "<the id asked>",
     "checked_at": "2026-11-23T08:00:00Z",
     "status": "VALID" | "EXPIRED" | "REVOKED" | "SUPERSEDED" |
               "RECERTIFICATION_REQUIRED" | "NOT_FOUND",
     "certificate": {"number", "recipient_name", "type", "type_label", "subject",
                     "subject_kind", "track", "version", "issued_on", "expires_on",
                     "issuer", "revoked_on", "revocation_category", "superseded_on",
                     "superseded_by": {"number", "status", "verify_url"} | null,
                     "current_version", "verify_url"} | null,
     "jws": "<compact JWS>"}

The status is the certificate's public standing, decided by one function
(app/services/certificates/status.py): SUPERSEDED names its successor and the
successor's own standing now; RECERTIFICATION_REQUIRED is a track certificate of an
older major version (`version`) than the track's (`current_version`), past the grace
period.

`jws` is signed with the current key (header {"alg": "EdDSA", "kid", "typ":
"credwright-verification+jwt"}; the key is in /.well-known/jwks.json by its kid), and
its payload is exactly the answer without "jws": a verifier decodes it and reads that,
or compares it with the unsigned fields. NOT_FOUND is 404 with the same shape
("certificate": null). `sub`/`verification_id` name the id the answer is about (NOT_FOUND
too, so an answer cannot be replayed for another id) and `exp` ends it
VERIFY_ANSWER_TTL_MINUTES (10) after `iat`: a verifier checks both. The certificate
fields are the snapshot frozen at issue, minus `issued_by` (a staff member's name is not
published), plus the revocation date and category (never the free-text reason) and the
page's URL.

POST /verify answers 200 with the result panel whether or not anything matched (a
lookup that finds nothing is an answer, not an error), 422 for a missing field or
file, 413 for a PDF over 10 MiB. htmx requests get only the #verify-result fragment.

The page, its JSON and the JWKS answer `Access-Control-Allow-Origin: *` (an employer's web
app reads them from its own origin; a preflight OPTIONS gets the methods and headers).

Every answer is `Referrer-Policy: no-referrer` and `X-Robots-Tag: noindex`, and is
rate limited per client address: VERIFY_RATE_LIMIT (default "60 per minute") for the
page, JSON, JWKS and badge; VERIFY_LOOKUP_RATE_LIMIT ("10 per minute") for POST /verify.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_login import current_user, login_required
from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from app.blueprints.verify.forms import PDF_MAX_BYTES, CodeLookupForm, PdfCheckForm
from app.extensions import db, limiter, public_page_limit
from app.models import Certificate, CertificateStatus
from app.services import certificates, open_badges, signing, verification
from app.services.certificates import templates as certificate_templates
from app.services.verification import PublicRecord
from app.web import errors, verify_page
from app.web.htmx import render

bp = Blueprint("verify", __name__)


@bp.record_once
def _lean_path(state: BlueprintSetupState) -> None:
    """GET /verify/<id> of anonymous visitors, in front of Flask (lean.py)."""
    from app.blueprints.verify import lean

    lean.init_app(state.app)


def _lookup_limit() -> str:
    return current_app.config.get("VERIFY_LOOKUP_RATE_LIMIT", "10 per minute")


# Public answers any site's script may read (no credentials: with "*" a browser never
# exposes an answer fetched with cookies). The JWKS sets its own.
_CORS_ENDPOINTS = frozenset({"verify.certificate", "verify.jwks"})


@bp.after_request
def _private_answers(response: Response) -> Response:
    return add_private_headers(response, request.endpoint, request.method)


def add_private_headers(response: Response, endpoint: str | None, method: str) -> Response:
    """This blueprint's own headers (its after_request hook; app/blueprints/verify/lean.py
    for the anonymous check answered outside Flask's request handling)."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    if endpoint in _CORS_ENDPOINTS:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        if method == "OPTIONS":  # a preflight (Flask's automatic OPTIONS answer)
            response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Accept, Cache-Control"
            response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _record(found: PublicRecord | None, channel: str) -> None:
    record_check(found, channel, request.method)


def record_check(found: PublicRecord | None, channel: str, method: str) -> None:
    """Log the check for the holder's /me (buffered: app/services/verification_log.py)."""
    if found is not None and method != "HEAD":
        certificates.record_verification(found.id, channel)


def _wants_json() -> bool:
    if request.endpoint in ("verify.jwks", "verify.open_badge"):
        return True
    return wants_json(request.args.get("format", ""), request.headers.get("Accept", ""),
                      lambda: request.accept_mimetypes)


def wants_json(format_: str, accept: str, parsed: Callable[[], MIMEAccept]) -> bool:
    """?format=json, or an Accept header that prefers JSON to HTML (`parsed`: the header
    parsed, asked for only when it can matter)."""
    if format_.lower() == "json":
        return True
    accept = accept.lower()
    if "application/json" not in accept and "application/*" not in accept:
        # Only those can outrank text/html (a browser's header names neither): no need
        # to parse the header (~40 us for a browser's).
        return False
    # Werkzeug breaks ties in our order: "*/*" (curl, htmx) gets the page.
    return parsed().best_match(["text/html", "application/json"]) == "application/json"


def _context(found: PublicRecord | None, **extra: Any) -> dict[str, Any]:
    json_url = (url_for("verify.certificate", verification_id=found.verification_id,
                        format="json") if found is not None else None)
    return {"json_url": json_url, "record": found, **extra}


# --- The certificate's page, rendered once a minute for anonymous visitors ------------

class _AnonymousPages:
    """Rendered /verify/<id> pages for visitors without a session, per app, keyed by the
    certificate's row (PublicRecord: a revocation or any change is a new key, so nothing
    is ever stale) and the minute the page says it was checked. Entries of earlier
    minutes are dropped when the minute changes; at most MAX_PAGES in between."""

    MAX_PAGES = 2048

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = ""
        self._pages: dict[PublicRecord | None, str] = {}

    def get(self, found: PublicRecord | None, minute: str) -> str | None:
        return self._pages.get(found) if minute == self._minute else None

    def put(self, found: PublicRecord | None, minute: str, html: str) -> None:
        with self._lock:
            if minute != self._minute:
                self._minute, self._pages = minute, {}
            if len(self._pages) < self.MAX_PAGES:
                self._pages[found] = html


def _anonymous_pages() -> _AnonymousPages:
    return current_app.extensions.setdefault("credwright.verify_pages", _AnonymousPages())


def _without_session() -> bool:
    """No session or remember-me cookie: the page cannot depend on who is asking (no user,
    no flashed messages), and rendering it must not start a session."""
    config = current_app.config
    return not (request.cookies.get(config["SESSION_COOKIE_NAME"])
                or request.cookies.get(config.get("REMEMBER_COOKIE_NAME", "remember_token")))


def _certificate_page(found: PublicRecord | None, answer: dict[str, Any],
                      status: int) -> Response:
    if not _without_session():
        return render("verify/certificate.html", status=status,
                      page=verify_page.request_page_parts(found, answer))
    return anonymous_page(found, answer, status)


def render_certificate_page(found: PublicRecord | None, answer: dict[str, Any]) -> str:
    """The certificate's page for a visitor without a session (in a request context)."""
    return verify_page.anonymous_html(found, answer, request.environ.get("SCRIPT_NAME", ""))


def anonymous_page(found: PublicRecord | None, answer: dict[str, Any], status: int,
                   rendered: Callable[[PublicRecord | None, dict[str, Any]], str]
                   = render_certificate_page) -> Response:
    """The page for a visitor without a session: from _AnonymousPages, else `rendered`."""
    pages, minute = _anonymous_pages(), answer["checked_at"][:16]
    html = pages.get(found, minute)
    if html is None:
        html = rendered(found, answer)
        pages.put(found, minute, html)
    return make_response(html, status)  # public_answer adds its Vary


# --- Views ---------------------------------------------------------------------------

@bp.route("/verify/<verification_id>")
@limiter.limit(public_page_limit)
def certificate(verification_id: str) -> Any:
    """Also answered, for anonymous visitors, by app/blueprints/verify/lean.py (the same
    answer without Flask's per-request work): public_answer() is both's."""
    response, found, channel = public_answer(verification_id, _wants_json(),
                                             _certificate_page)
    _record(found, channel)
    return response


def public_answer(verification_id: str, as_json: bool,
                  page: Callable[[PublicRecord | None, dict[str, Any], int], Response],
                  ) -> tuple[Response, PublicRecord | None, str]:
    """GET /verify/<id>'s answer (the JSON, or `page`'s), the record it is about and the
    channel its check is logged under (record_check)."""
    found = verification.by_verification_id(verification_id)
    status = 404 if found is None else 200
    if as_json:
        response = current_app.response_class(
            signing.verification_body(verification.json_answer(found, verification_id)),
            status=status, mimetype=current_app.json.mimetype)
        response.headers["Cache-Control"] = "no-store"
        channel = "json"
    else:
        response = page(found, verification.answer_for(found), status)
        channel = "page"
    # One parse and one write of the header (an add each cost a tenth of the check's CPU).
    # A signed-in visitor's page has their menu (Cookie); the page also varies on
    # HX-Request, as every page does (app/web/htmx.render).
    response.vary.update(("Accept", "Cookie") if as_json else ("HX-Request", "Accept", "Cookie"))
    return response, found, channel


@bp.route("/verify", methods=["GET", "POST"])
@limiter.limit(public_page_limit, methods=["GET"], per_method=True)
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
    found = verification.by_number_and_code(code_form.number.data, code_form.code.data)
    _record(found, "code")
    return _lookup_page(code_form, pdf_form, found, result=verification.answer_for(found),
                        check="code")


def _check_pdf(code_form: CodeLookupForm, pdf_form: PdfCheckForm) -> Any:
    upload = pdf_form.pdf.data
    if upload is None or not getattr(upload, "filename", ""):
        return _lookup_page(code_form, pdf_form, error="Choose the certificate's PDF file.",
                            status=422, check="pdf")
    data = upload.stream.read(PDF_MAX_BYTES + 1)
    if len(data) > PDF_MAX_BYTES:
        return _too_large()
    found = verification.by_pdf_sha256(hashlib.sha256(data).hexdigest())
    _record(found, "pdf")
    return _lookup_page(code_form, pdf_form, found, result=verification.answer_for(found),
                        check="pdf", pdf_match=found is not None)


def _too_large() -> Any:
    return _lookup_page(CodeLookupForm(formdata=None), PdfCheckForm(formdata=None),
                        error="That file is larger than 10 MiB; certificate PDFs are much "
                              "smaller. Check that you chose the right file.",
                        status=413, check="pdf")


def _lookup_page(code_form: CodeLookupForm, pdf_form: PdfCheckForm,
                 found: PublicRecord | None = None, *, status: int = 200,
                 **extra: Any) -> Any:
    return render("verify/lookup.html", "partials/verify/lookup_result.html", status=status,
                  **_context(found, code_form=code_form, pdf_form=pdf_form, **extra))


@bp.route("/verify/<verification_id>/badge.json")
@limiter.limit(public_page_limit)
@login_required
def open_badge(verification_id: str) -> Any:
    """The holder's own signed credential; anyone else (or a revoked one) gets 404."""
    found = verification.by_verification_id(verification_id)
    certificate = db.session.get(Certificate, found.id) if found is not None else None
    if (certificate is None or certificate.recipient_id != current_user.id
            or certificate.status != CertificateStatus.ISSUED):
        abort(404)
    response = jsonify(open_badges.signed_json(certificate))  # with its Data Integrity proof
    filename = re.sub(r"[^A-Za-z0-9-]", "", certificate.number or "certificate")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{filename}-open-badge.json"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/verify/template-logos/<int(max=2147483647):version_id>.png")
def template_logo(version_id: int) -> Any:
    """A certificate template version's logo, for the verify page: public (it is printed
    on public certificates) and cacheable for a year, as a version never changes (its
    id names it). 404 for an unknown version or one without a logo. Signatures are not
    served here (only to admins, app/blueprints/certificate_templates)."""
    data = certificate_templates.public_logo(version_id)
    if data is None:
        abort(404)
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/.well-known/jwks.json")
@limiter.limit(public_page_limit)
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
