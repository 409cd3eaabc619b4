"""Public verification: pages, signed JSON, lookups, PDF check, JWKS, limits, badge."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import sys
import time
import types
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask, render_template
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    CertificationTrack,
    User,
)
from app.services import certificates, signing, storage, verification_log
from app.services.context import Actor
from tests.conftest import HX, Client

CSRF_META = re.compile(r'<meta name="csrf-token" content="[^"]*">')


@pytest.fixture(autouse=True)
def pdf_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issuing enqueues the PDF job; until app/jobs/certificates.py exists, a no-op."""
    try:
        import app.jobs.certificates  # noqa: F401
    except ImportError:
        stub = types.ModuleType("app.jobs.certificates")
        stub.render_certificate_pdf = lambda certificate_id: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "app.jobs.certificates", stub)


@dataclass(frozen=True)
class Issued:
    id: int
    number: str
    verification_id: str
    code: str
    credential_jws: str
    expires_at: date | None


def _issue(app: Flask, user: User, track: CertificationTrack, *, issued_on: date | None = None,
           revoke: str | None = None, status: CertificateStatus | None = None) -> Issued:
    with app.app_context():
        certificate = certificates.issue_certificate(
            Actor.system(), recipient=db.session.get(User, user.id),
            type_=CertificateType.COMPLETION,
            track=db.session.get(CertificationTrack, track.id), issued_on=issued_on)
        if revoke:
            certificates.revoke(certificate, Actor.system(), "Secret free-text reason", revoke)
        if status is not None:
            certificate.status = status
        db.session.commit()
        return Issued(certificate.id, certificate.number, certificate.verification_id,
                      certificate.verification_code, certificate.credential_jws,
                      certificate.expires_at)


@pytest.fixture
def holder(make_user: Any) -> User:
    return make_user(name="Mereana Tūhoe")


@pytest.fixture
def track(make_track: Any) -> CertificationTrack:
    return make_track("Roof Safety", validity_months=24)


@pytest.fixture
def valid(app: Flask, holder: User, track: CertificationTrack) -> Issued:
    return _issue(app, holder, track)


def _channels(app: Flask, certificate_id: int) -> list[str]:
    """The logged checks of a certificate, once the buffered ones are written."""
    verification_log.flush(app)
    with app.app_context():
        return list(db.session.scalars(
            select(CertificateVerification.channel)
            .where(CertificateVerification.certificate_id == certificate_id)
            .order_by(CertificateVerification.id)))


def _without_csrf(html: str) -> str:
    return CSRF_META.sub("", html)


def _jwk_for(client: Client, token: str) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    matches = [k for k in keys if k["kid"] == kid]
    if not matches:
        raise LookupError(f"kid {kid} not in JWKS")
    return matches[0]


def _decode_with_jwks(client: Client, token: str, **options: Any) -> dict[str, Any]:
    return jwt.decode(token, jwt.PyJWK(_jwk_for(client, token)), algorithms=["EdDSA"],
                      **options)


def _flip(token: str, part: int) -> str:
    parts = token.split(".")
    middle = len(parts[part]) // 2
    char = parts[part][middle]
    parts[part] = parts[part][:middle] + ("A" if char != "A" else "B") + parts[part][middle + 1:]
    return ".".join(parts)


# --- The page ------------------------------------------------------------------------

def test_valid_certificate_page(app, client, valid, holder):
    response = client.get(f"/verify/{valid.verification_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Valid certificate" in html
    assert "Mereana Tūhoe" in html and "Roof Safety" in html and "version 1.0" in html
    assert valid.number in html and "Completion" in html
    today = date.today()
    assert f"{today.day} {today:%B %Y}" in html  # issued on
    assert f"{valid.expires_at.day} {valid.expires_at:%B %Y}" in html  # valid until
    assert app.config["ISSUER_NAME"] in html
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Robots-Tag"] == "noindex"
    assert response.headers["Cache-Control"] == "no-store"
    assert valid.code not in html  # the code proves possession of the document
    assert _channels(app, valid.id) == ["page"]


def test_expired_certificate_page_and_json(app, client, holder, make_track):
    expired = _issue(app, holder, make_track("Ladders", validity_months=12),
                     issued_on=date(2020, 3, 10))
    response = client.get(f"/verify/{expired.verification_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Expired" in html and "10 March 2021" in html
    body = client.get(f"/verify/{expired.verification_id}?format=json").get_json()
    assert body["status"] == "EXPIRED"
    assert body["certificate"]["expires_on"] == "2021-03-10"
    assert body["certificate"]["issued_on"] == "2020-03-10"


def test_revoked_certificate_shows_date_and_category_not_the_reason(app, client, holder,
                                                                    track):
    revoked = _issue(app, holder, track, revoke="issued_in_error")
    response = client.get(f"/verify/{revoked.verification_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Revoked" in html and "Issued in error" in html
    today = date.today()
    assert f"{today.day} {today:%B %Y}" in html
    assert "Secret free-text reason" not in html
    body = client.get(f"/verify/{revoked.verification_id}",
                      headers={"Accept": "application/json"}).get_json()
    assert body["status"] == "REVOKED"
    assert body["certificate"]["revocation_category"] == "issued_in_error"
    assert body["certificate"]["revoked_on"] == today.isoformat()
    assert "Secret free-text reason" not in json.dumps(body)


def test_not_found_answers_are_identical_and_echo_nothing(app, client, holder, track, valid):
    pending = _issue(app, holder, _other_track(app, "Scaffolds"),
                     status=CertificateStatus.PENDING)
    rejected = _issue(app, holder, _other_track(app, "Gutters"),
                      status=CertificateStatus.REJECTED)
    vid = valid.verification_id
    changed = vid[:10] + ("A" if vid[10] != "A" else "B") + vid[11:]
    asked = {
        "unknown": secrets.token_urlsafe(24),
        "too-short": vid[:-1],
        "too-long": vid + "x",
        "bad-characters": vid[:-1] + "!",
        "one-character-changed": changed,
        "pending": pending.verification_id,
        "rejected": rejected.verification_id,
    }
    bodies = {}
    for label, verification_id in asked.items():
        response = client.get(f"/verify/{verification_id}")
        assert response.status_code == 404, label
        html = response.get_data(as_text=True)
        assert verification_id not in html, label
        assert "No certificate found" in html
        bodies[label] = _without_csrf(html)
    assert len(set(bodies.values())) == 1, "every NOT FOUND page is the same"
    answers = set()
    for label, verification_id in asked.items():
        response = client.get(f"/verify/{verification_id}?format=json")
        assert response.status_code == 404, label
        body = response.get_json()
        assert body["status"] == "NOT_FOUND" and body["certificate"] is None
        # The JSON names the id it answers (and nothing else from the request), so a
        # signed NOT FOUND cannot be passed off as the answer about another id.
        claims = _decode_with_jwks(client, body["jws"])
        assert claims["status"] == "NOT_FOUND"
        assert claims["sub"] == claims["verification_id"] == verification_id, label
        answers.add(json.dumps({k: v for k, v in body.items() if k not in
                                {"sub", "verification_id", "iat", "exp", "checked_at",
                                 "jws"}}, sort_keys=True))
    assert len(answers) == 1, "apart from the id asked, every NOT FOUND answer is the same"
    assert _channels(app, pending.id) == [] and _channels(app, rejected.id) == []


def _other_track(app: Flask, name: str) -> CertificationTrack:
    from app.models import TrackAudience
    from app.services import training

    with app.app_context():
        track = training.create_track(Actor.system(), name=name,
                                      audience=TrackAudience.CLIENT_EMPLOYEE)
        db.session.commit()
        db.session.refresh(track)
        db.session.expunge(track)
        return track


# --- JSON and signatures -------------------------------------------------------------

def test_json_answer_is_signed_and_verifies_against_jwks(app, client, valid):
    for response in (client.get(f"/verify/{valid.verification_id}?format=json"),
                     client.get(f"/verify/{valid.verification_id}",
                                headers={"Accept": "application/json"})):
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Robots-Tag"] == "noindex"
        body = response.get_json()
        assert body["status"] == "VALID"
        certificate = body["certificate"]
        assert certificate["number"] == valid.number
        assert certificate["recipient_name"] == "Mereana Tūhoe"
        assert certificate["subject"] == "Roof Safety" and certificate["version"] == "1.0"
        assert certificate["type"] == "COMPLETION" and certificate["type_label"] == "Completion"
        assert certificate["verify_url"].endswith(f"/verify/{valid.verification_id}")
        assert "issued_by" not in certificate
        header = jwt.get_unverified_header(body["jws"])
        with app.app_context():
            assert header == {"alg": "EdDSA", "kid": signing.current_key().kid,
                              "typ": signing.VERIFICATION_TYP}
        payload = _decode_with_jwks(client, body["jws"])
        assert payload == {k: v for k, v in body.items() if k != "jws"}
    assert _channels(app, valid.id) == ["json", "json"]
    # A browser's Accept header still gets the page.
    page = client.get(f"/verify/{valid.verification_id}",
                      headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.mimetype == "text/html"


def test_the_jws_names_the_id_it_answers_and_expires(app, client, valid, monkeypatch):
    """Checked with PyJWT (its own exp and sub checks) and jwcrypto, keys from the JWKS."""
    from jwcrypto import jwk as jc_jwk
    from jwcrypto import jwt as jc_jwt

    unknown = secrets.token_urlsafe(24)
    for verification_id, status in ((valid.verification_id, "VALID"), (unknown, "NOT_FOUND")):
        token = client.get(f"/verify/{verification_id}?format=json").get_json()["jws"]
        claims = _decode_with_jwks(client, token, subject=verification_id,
                                   options={"require": ["exp", "iat", "sub"]})
        assert claims["status"] == status and claims["verification_id"] == verification_id
        assert claims["exp"] - claims["iat"] == 10 * 60
        assert claims["iat"] <= time.time() < claims["exp"]
        # Replayed as the answer about another id: refused.
        with pytest.raises(jwt.exceptions.InvalidSubjectError):
            _decode_with_jwks(client, token, subject=secrets.token_urlsafe(24))
        # Eleven minutes later: expired (a negative leeway moves the verifier's clock on;
        # the same leeway would put `iat` in its future, so that check is left out here).
        with pytest.raises(jwt.ExpiredSignatureError):
            _decode_with_jwks(client, token, leeway=-11 * 60, options={"verify_iat": False})
        _decode_with_jwks(client, token, leeway=-9 * 60, options={"verify_iat": False})
        # jwcrypto, independently: the signature, exp and sub.
        key = jc_jwk.JWK(**_jwk_for(client, token))
        checked = jc_jwt.JWT(jwt=token, key=key, algs=["EdDSA"],
                             check_claims={"exp": None, "sub": verification_id})
        assert json.loads(checked.claims)["sub"] == verification_id
        with pytest.raises(jc_jwt.JWTInvalidClaimValue):
            jc_jwt.JWT(jwt=token, key=key, algs=["EdDSA"],
                       check_claims={"sub": secrets.token_urlsafe(24)})
        with monkeypatch.context() as later:  # jwcrypto's clock, 11 minutes on
            eleven_minutes_on = claims["iat"] + 11 * 60 + jc_jwt.JWT().leeway
            later.setattr(jc_jwt, "time", types.SimpleNamespace(
                time=lambda at=eleven_minutes_on: at))
            with pytest.raises(jc_jwt.JWTExpired):
                jc_jwt.JWT(jwt=token, key=key, algs=["EdDSA"], check_claims={"exp": None})


def test_the_answer_lifetime_is_configurable(make_app, make_user, make_track):
    app = make_app(VERIFY_ANSWER_TTL_MINUTES=2)
    issued = _issue(app, make_user(), make_track("Ladders"))
    token = app.test_client().get(f"/verify/{issued.verification_id}?format=json")
    claims = jwt.decode(token.get_json()["jws"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 120


def test_public_answers_can_be_read_cross_origin(app, client, valid):
    """An employer's web app on another origin reads the JSON (and the page and JWKS)."""
    origin = {"Origin": "https://hr.example.com"}
    for url, status in ((f"/verify/{valid.verification_id}?format=json", 200),
                        (f"/verify/{secrets.token_urlsafe(24)}?format=json", 404),
                        (f"/verify/{valid.verification_id}", 200),
                        ("/.well-known/jwks.json", 200)):
        response = client.get(url, headers=origin)
        assert response.status_code == status, url
        assert response.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers
    json_accept = client.get(f"/verify/{valid.verification_id}",
                             headers={**origin, "Accept": "application/json"})
    assert json_accept.headers["Access-Control-Allow-Origin"] == "*"
    # A preflight (a client that adds a non-simple header) is answered for GET.
    preflight = client.options(f"/verify/{valid.verification_id}", headers={
        **origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "cache-control"})
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "cache-control" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # Not on the holder's own (signed-in) download, nor on the lookup form.
    assert "Access-Control-Allow-Origin" not in client.get("/verify", headers=origin).headers


def test_a_tampered_or_foreign_jws_fails(app, client, valid):
    token = client.get(f"/verify/{valid.verification_id}?format=json").get_json()["jws"]
    for part in (1, 2):
        with pytest.raises(jwt.InvalidSignatureError):
            _decode_with_jwks(client, _flip(token, part))
        with app.app_context(), pytest.raises(signing.BadSignature):
            signing.verify(_flip(token, part))
    # A payload that says REVOKED under the real header and signature.
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["status"] = "REVOKED"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        _decode_with_jwks(client, f"{header}.{forged}.{signature}")
    # Signed by someone else's key under a kid we never published.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    foreign = jwt.encode(claims, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                         headers={"kid": "not-ours"})
    with pytest.raises(LookupError):
        _decode_with_jwks(client, foreign)
    with app.app_context(), pytest.raises(signing.UnknownKey):
        signing.verify(foreign)


def test_jwks_is_public_and_cacheable_without_private_parts(app, client, valid):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    keys = response.get_json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519"
    assert keys[0]["alg"] == "EdDSA" and keys[0]["use"] == "sig"
    assert "d" not in keys[0] and '"d"' not in response.get_data(as_text=True)


def test_keys_rotate_keeps_old_credentials_verifiable(app, client, valid):
    old_kid = jwt.get_unverified_header(valid.credential_jws)["kid"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["keys", "list"])
    assert listing.exit_code == 0 and old_kid in listing.output and "CURRENT" in listing.output
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert len(keys) == 2 and all("d" not in k for k in keys)
    new_kid = keys[0]["kid"]
    assert new_kid != old_kid and old_kid in {k["kid"] for k in keys}
    # The credential signed at issue verifies with the retired key from the JWKS ...
    claims = _decode_with_jwks(client, valid.credential_jws)
    assert claims["vc"]["credentialSubject"]["name"] == "Mereana Tūhoe"
    with app.app_context():
        assert signing.verify(valid.credential_jws)["jti"].endswith(valid.verification_id)
    # ... and new answers use the new key.
    body = client.get(f"/verify/{valid.verification_id}?format=json").get_json()
    assert jwt.get_unverified_header(body["jws"])["kid"] == new_kid
    assert _decode_with_jwks(client, body["jws"])["status"] == "VALID"


# --- Number and code; PDF ------------------------------------------------------------

def test_lookup_page_and_number_code_check(app, client, valid):
    page = client.get("/verify")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="verify-result"' in html and 'name="number"' in html and 'name="pdf"' in html
    assert page.headers["X-Robots-Tag"] == "noindex"
    sloppy_code = valid.code.lower().replace("-", "")
    sloppy_number = valid.number.lower()
    response = client.post("/verify", data={"check": "code", "number": sloppy_number,
                                            "code": sloppy_code})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Valid certificate" in html and "Mereana Tūhoe" in html and "<html" in html
    # htmx: only the result fragment.
    response = client.post("/verify", data={"check": "code", "number": valid.number,
                                            "code": f" {valid.code} "}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith('<div id="verify-result"') and valid.number in html
    assert _channels(app, valid.id) == ["code", "code"]


def test_wrong_code_or_number_is_not_found(app, client, valid):
    wrong = ("ZZZZZ-ZZZZZ" if valid.code != "ZZZZZ-ZZZZZ" else "00000-00000")
    bodies = []
    for number, code in ((valid.number, wrong), ("CERT-1999-00001", valid.code)):
        response = client.post("/verify", data={"check": "code", "number": number,
                                                "code": code}, headers=HX)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "No certificate found" in html and valid.number not in html
        bodies.append(html)
    assert bodies[0] == bodies[1]
    missing = client.post("/verify", data={"check": "code", "number": valid.number,
                                           "code": ""}, headers=HX)
    assert missing.status_code == 422 and "Enter both" in missing.get_data(as_text=True)
    assert _channels(app, valid.id) == []


def _stored_pdf(app: Flask, certificate_id: int) -> bytes:
    """The certificate's stored PDF: the one the PDF job rendered at issue, or (without
    that job) bytes stored here the same way, with their SHA-256 recorded."""
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        if certificate.pdf_key and storage.exists(certificate.pdf_key):
            data = storage.read(certificate.pdf_key)
        else:
            data = b"%PDF-1.7\n" + secrets.token_bytes(4000) + b"\n%%EOF\n"
            certificate.pdf_key, certificate.pdf_sha256 = storage.save(data, "certificates")
            certificates.record_rendering(certificate.id, certificate.pdf_sha256,
                                          certificate.pdf_key)
            db.session.commit()
        assert hashlib.sha256(data).hexdigest() == certificate.pdf_sha256
        return data


def test_pdf_check_matches_only_the_exact_bytes(app, client, valid):
    pdf = _stored_pdf(app, valid.id)
    assert len(pdf) > 100
    response = client.post("/verify", data={"check": "pdf", "pdf": (io.BytesIO(pdf), "c.pdf")},
                           content_type="multipart/form-data", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Genuine PDF" in html and "byte-for-byte one we issued for certificate" in html
    assert valid.number in html and "Valid certificate" in html
    altered = bytearray(pdf)
    altered[len(pdf) // 2] ^= 0x01
    response = client.post("/verify", data={"check": "pdf",
                                            "pdf": (io.BytesIO(bytes(altered)), "c.pdf")},
                           content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert "does not match any certificate we issued" in html and valid.number not in html
    none = client.post("/verify", data={"check": "pdf"}, content_type="multipart/form-data",
                       headers=HX)
    assert none.status_code == 422
    assert _channels(app, valid.id) == ["pdf"]


def _upload(client: Client, data: bytes) -> str:
    response = client.post("/verify", data={"check": "pdf", "pdf": (io.BytesIO(data), "c.pdf")},
                           content_type="multipart/form-data", headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_copy_from_before_a_reinstate_is_still_genuine_with_its_status_now(
        app, client, valid, holder):
    sent_to_employer = _stored_pdf(app, valid.id)
    with app.app_context():
        certificate = db.session.get(Certificate, valid.id)
        certificates.revoke(certificate, Actor.system(), "Checking a complaint.", "other")
        db.session.commit()
    html = _upload(client, sent_to_employer)
    assert "Genuine PDF" in html and valid.number in html and "Mereana Tūhoe" in html
    assert "Roof Safety" in html and "✕ Revoked" in html and "Valid certificate" not in html
    with app.app_context():
        certificates.reinstate(db.session.get(Certificate, valid.id), Actor.system())
        db.session.commit()
    with app.app_context():  # the PDF job rendered it again, inline
        certificate = db.session.get(Certificate, valid.id)
        assert certificate.pdf_sha256 != hashlib.sha256(sent_to_employer).hexdigest()
        rerendered = storage.read(certificate.pdf_key) if certificate.pdf_key else None
    for copy in (sent_to_employer, rerendered):
        if copy is None:  # no PDF job in this run
            continue
        html = _upload(client, copy)
        assert "Genuine PDF" in html and valid.number in html and "Valid certificate" in html
    assert _channels(app, valid.id).count("pdf") >= 2


def test_pdf_over_10_mib_is_refused(app, client):
    big = b"%PDF" + b"0" * (10 * 1024 * 1024)
    response = client.post("/verify", data={"check": "pdf", "pdf": (io.BytesIO(big), "b.pdf")},
                           content_type="multipart/form-data", headers=HX)
    assert response.status_code == 413
    assert "larger than 10 MiB" in response.get_data(as_text=True)


# --- Limits --------------------------------------------------------------------------

def test_rate_limits_answer_429_like_other_error_pages(make_app, make_user, make_track):
    app = make_app(VERIFY_RATE_LIMIT="3 per minute", VERIFY_LOOKUP_RATE_LIMIT="2 per minute")
    app.test_client_class = Client
    client = app.test_client()
    issued = _issue(app, make_user(), make_track())
    for _ in range(3):
        assert client.get(f"/verify/{issued.verification_id}").status_code == 200
    limited = client.get(f"/verify/{issued.verification_id}")
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Too many requests" in html and "Error 429" in html
    assert limited.headers["Retry-After"] and limited.headers["X-Robots-Tag"] == "noindex"
    assert client.get(f"/verify/{issued.verification_id}?format=json").status_code == 429
    json_limited = client.get(f"/verify/{issued.verification_id}?format=json")
    assert json_limited.get_json()["error"]["code"] == "rate_limited"
    # POST lookups have their own, smaller limit; the GET form is not counted against it.
    form = {"check": "code", "number": issued.number, "code": "WRONG-CODE0"}
    assert client.post("/verify", data=form).status_code == 200
    assert client.post("/verify", data=form).status_code == 200
    assert client.post("/verify", data=form).status_code == 429
    assert client.get("/verify").status_code == 200
    assert _channels(app, issued.id) == ["page", "page", "page"]


# --- The lean path: cached pages, no session, buffered checks --------------------------

def _revoke(app: Flask, certificate_id: int, category: str = "misconduct") -> None:
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, certificate_id), Actor.system(),
                            "Reason", category)
        db.session.commit()


def test_a_cached_page_never_outlives_a_revocation(app, new_client, valid, monkeypatch):
    from flask import template_rendered

    from app.models.base import utcnow
    from app.services import verification

    fixed = utcnow()
    monkeypatch.setattr(verification, "utcnow", lambda: fixed)  # one minute: one page
    rendered: list[str] = []

    def count(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
        if template.name.startswith("verify/"):  # not the revocation's email
            rendered.append(template.name)

    template_rendered.connect(count, app)
    url = f"/verify/{valid.verification_id}"
    visitor = new_client()
    for _ in range(3):
        assert "Valid certificate" in visitor.get(url).get_data(as_text=True)
    assert rendered == ["verify/certificate.html"]  # rendered once, then served as is
    _revoke(app, valid.id)
    page = visitor.get(url).get_data(as_text=True)
    assert "Revoked" in page and "Valid certificate" not in page and "Misconduct" in page
    assert visitor.get(f"{url}?format=json").get_json()["status"] == "REVOKED"
    with app.app_context():
        certificates.reinstate(db.session.get(Certificate, valid.id), Actor.system())
        db.session.commit()
    assert "Valid certificate" in visitor.get(url).get_data(as_text=True)
    assert visitor.get(f"{url}?format=json").get_json()["status"] == "VALID"
    # Reinstated, its row says what it said before the revocation: that page again.
    assert len(rendered) == 2


def test_anonymous_verification_sets_no_cookie(app, new_client, valid):
    visitor = new_client()
    for path in (f"/verify/{valid.verification_id}", f"/verify/{secrets.token_urlsafe(24)}",
                 f"/verify/{valid.verification_id}?format=json"):
        response = visitor.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert 'name="csrf-token"' not in response.get_data(as_text=True)
        assert "Cookie" in response.headers["Vary"]
    assert not visitor._cookies  # nothing was stored either


def test_the_check_says_what_its_answer_varies_on(app, new_client, make_user, valid):
    """Caches must keep apart: the page and the JSON (Accept), a visitor's own page
    (Cookie), a page and its htmx fragment (HX-Request, the page only)."""
    signed_in = new_client()
    signed_in.login(make_user().email)
    for visitor in (new_client(), signed_in):
        page = visitor.get(f"/verify/{valid.verification_id}").headers["Vary"]
        answer = visitor.get(f"/verify/{valid.verification_id}?format=json").headers["Vary"]
        assert {"hx-request", "accept", "cookie"} <= {v.strip().lower()
                                                      for v in page.split(",")}, page
        assert {"accept", "cookie"} <= {v.strip().lower() for v in answer.split(",")}, answer


def test_a_signed_in_visitor_gets_their_own_page_not_the_cached_one(app, new_client, valid,
                                                                   holder):
    url = f"/verify/{valid.verification_id}"
    anonymous = new_client().get(url).get_data(as_text=True)
    assert "Log out" not in anonymous
    mine = new_client()
    mine.login(holder.email)
    page = mine.get(url).get_data(as_text=True)
    assert "Log out" in page and "Valid certificate" in page
    assert "Log out" not in new_client().get(url).get_data(as_text=True)


def test_checks_are_buffered_then_shown_to_the_holder(app, new_client, valid, holder):
    new_client().get(f"/verify/{valid.verification_id}")
    new_client().get(f"/verify/{valid.verification_id}?format=json")
    assert verification_log.of(app).pending() >= 1  # not written by the request itself
    assert verification_log.flush(app) in (1, 2)  # (the writer thread may have done one)
    assert _channels(app, valid.id) == ["page", "json"]
    mine = new_client()
    mine.login(holder.email)
    html = mine.get("/me").get_data(as_text=True)
    assert f"{valid.number} — checked" in html and "(verify page)" in html
    assert "(by a system)" in html


def test_the_writer_thread_flushes_on_its_own(make_app, make_user, make_track):
    app = make_app(VERIFICATION_LOG_FLUSH_SECONDS=0.05)
    issued = _issue(app, make_user(), make_track())
    app.test_client().get(f"/verify/{issued.verification_id}")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with app.app_context():
            written = db.session.scalar(select(func.count(CertificateVerification.id)))
        if written:
            break
        time.sleep(0.05)
    assert written == 1


def test_a_batch_keeps_the_checks_of_certificates_that_still_exist(app, valid):
    log = verification_log.of(app)
    log.add(valid.id, "page")
    log.add(10_000_000, "page")  # no such certificate (deleted since its check)
    log.add(valid.id, "json")
    assert log.flush() == 2
    assert _channels(app, valid.id) == ["page", "json"]


def _kept_read_connections(app: Flask) -> Any:
    from app.database import _kept

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("kept read connections are PostgreSQL's")
        return _kept[db.engine]


def test_the_read_connections_survive_a_server_side_disconnect(app, new_client, valid):
    url = f"/verify/{valid.verification_id}?format=json"
    visitor = new_client()
    assert visitor.get(url).get_json()["status"] == "VALID"
    kept = _kept_read_connections(app)
    pids = [c.connection.dbapi_connection.info.backend_pid for c in kept.idle]
    assert pids
    with app.app_context():
        for pid in pids:
            db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        db.session.commit()
    assert visitor.get(url).get_json()["status"] == "VALID"  # reconnected, silently


def test_the_lookup_prepares_again_when_the_server_forgot_its_statement(app, new_client,
                                                                        valid):
    """read_first runs a named prepared statement; after DEALLOCATE ALL (a pooler's
    DISCARD ALL, say) the next check prepares it again instead of failing."""
    url = f"/verify/{valid.verification_id}?format=json"
    visitor = new_client()
    assert visitor.get(url).get_json()["status"] == "VALID"
    kept = _kept_read_connections(app)
    assert kept.idle
    for connection in kept.idle:
        connection.connection.dbapi_connection.pgconn.exec_(b"DEALLOCATE ALL")
    for _ in range(2):
        assert visitor.get(url).get_json()["status"] == "VALID"


def test_short_lived_threads_share_the_kept_read_connections(app, new_client, valid):
    """The dev server runs each request in a new thread: they must not each keep one."""
    import threading

    url = f"/verify/{valid.verification_id}?format=json"
    new_client().get(url)
    kept = _kept_read_connections(app)
    statuses: list[int] = []
    for _ in range(25):  # more than the engine's pool would hand out
        thread = threading.Thread(target=lambda: statuses.append(new_client().get(url).status_code))
        thread.start()
        thread.join(30)
    assert statuses == [200] * 25
    assert len(kept.idle) == 1


# --- The holder's links --------------------------------------------------------------

def test_open_badge_download_only_for_the_holder(app, new_client, make_user, valid, holder):
    url = f"/verify/{valid.verification_id}/badge.json"
    anonymous = new_client().get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    stranger = new_client()
    stranger.login(make_user().email)
    assert stranger.get(url).status_code == 404
    mine = new_client()
    mine.login(holder.email)
    response = mine.get(url)
    assert response.status_code == 200
    credential = response.get_json()  # the Open Badges 3.0 credential, Data Integrity proof
    assert credential["id"] == f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/" \
        f"{valid.verification_id}"
    assert credential["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{valid.number}-open-badge.json"')
    assert mine.get(f"/verify/{secrets.token_urlsafe(24)}/badge.json").status_code == 404


def test_no_badge_for_a_revoked_certificate(app, new_client, holder, track):
    revoked = _issue(app, holder, track, revoke="other")
    client = new_client()
    client.login(holder.email)
    assert client.get(f"/verify/{revoked.verification_id}/badge.json").status_code == 404


def test_holder_links_partial(app, valid):
    with app.app_context(), app.test_request_context("/me"):
        certificate = db.session.get(Certificate, valid.id)
        html = render_template("partials/verify/holder_links.html", certificate=certificate)
        hrefs = re.findall(r'href="([^"]+)"', html)
        linkedin = next(h for h in hrefs if h.startswith("https://www.linkedin.com/"))
        query = parse_qs(urlsplit(linkedin.replace("&amp;", "&")).query)
        verify_url = f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}/verify/{valid.verification_id}"
        assert query["startTask"] == ["CERTIFICATION_NAME"]
        assert query["name"] == ["Roof Safety — Completion certificate"]
        assert query["organizationName"] == [app.config["ISSUER_NAME"]]
        assert query["issueYear"] == [str(certificate.issued_at.year)]
        assert query["issueMonth"] == [str(certificate.issued_at.month)]
        assert query["expirationYear"] == [str(valid.expires_at.year)]
        assert query["certUrl"] == [verify_url] and query["certId"] == [valid.number]
        assert verify_url in hrefs
        for ext in ("json", "jwt", "png"):  # the Open Badge downloads (test_open_badges.py)
            assert f"/me/badges/certificates/{valid.verification_id}.{ext}" in hrefs
        certificate.status = CertificateStatus.PENDING
        assert render_template("partials/verify/holder_links.html",
                               certificate=certificate).strip() == ""
        db.session.rollback()


def test_a_superseded_certificates_pdf_is_genuine_and_names_its_replacement(app, client, valid):
    """After a re-issue the old PDF is still one we issued; the answer is the old
    certificate's status now (superseded, in the verify page's words), never a 500."""
    old_copy = _stored_pdf(app, valid.id)
    with app.app_context():
        replacement = certificates.reissue(db.session.get(Certificate, valid.id), Actor.system())
        db.session.commit()
        new_number = replacement.number
    html = _upload(client, old_copy)
    assert "Genuine PDF" in html and valid.number in html
    assert "Superseded" in html and new_number in html and "Valid certificate" not in html
