"""Signing keys, JWS sign/verify, rotation and the Open Badges 3.0 credential."""

from __future__ import annotations

import base64
import json
import sys
import types
from datetime import date
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate, CertificateType, CertificationTrack, SigningKey, User
from app.services import certificates, signing
from app.services.context import Actor


@pytest.fixture(autouse=True)
def pdf_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issuing enqueues the PDF job; until app/jobs/certificates.py exists, a no-op."""
    try:
        import app.jobs.certificates  # noqa: F401
    except ImportError:
        stub = types.ModuleType("app.jobs.certificates")
        stub.render_certificate_pdf = lambda certificate_id: None  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "app.jobs.certificates", stub)


def _issue(user: User, track: CertificationTrack, **kwargs: Any) -> Certificate:
    certificate = certificates.issue_certificate(
        Actor.system(), recipient=db.session.get(User, user.id),
        type_=CertificateType.COMPLETION,
        track=db.session.get(CertificationTrack, track.id), **kwargs)
    db.session.commit()
    return certificate


def _flip(token: str, part: int) -> str:
    """Change one character in the middle of part 0 (header), 1 (payload) or 2 (sig)."""
    parts = token.split(".")
    middle = len(parts[part]) // 2
    char = parts[part][middle]
    parts[part] = parts[part][:middle] + ("A" if char != "A" else "B") + parts[part][middle + 1:]
    return ".".join(parts)


def test_ensure_key_makes_one_key_once_and_stores_it_encrypted(app):
    with app.app_context():
        assert db.session.scalar(select(func.count(SigningKey.id))) == 0
        first = signing.ensure_key()
        again = signing.ensure_key()
        db.session.commit()
        assert first.id == again.id
        assert db.session.scalar(select(func.count(SigningKey.id))) == 1
        assert "PRIVATE KEY" not in first.private_key_encrypted
        assert set(first.public_jwk) == {"kty", "crv", "x"}
        # The kid is the RFC 7638 thumbprint of the public key.
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": first.public_jwk["x"]},
                               separators=(",", ":"))
        import hashlib
        expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
        assert first.kid == expected.rstrip(b"=").decode()


def test_private_key_needs_the_secret_key(make_app):
    app = make_app(SECRET_KEY="one-secret")
    with app.app_context():
        key = signing.ensure_key()
        db.session.commit()
        assert signing.private_key(key) is not None
        app.config["SECRET_KEY"] = "another-secret"
        with pytest.raises(signing.SigningKeyUnavailable):
            signing.sign({"a": 1})


def test_sign_and_verify_round_trip_with_header(app):
    with app.app_context():
        token = signing.sign({"hello": "world"}, typ="example+jwt")
        key = signing.current_key()
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "example+jwt"}
        assert signing.verify(token) == {"hello": "world"}


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_changed_character_anywhere_fails(app, part):
    with app.app_context():
        token = signing.sign({"status": "VALID", "number": "CERT-2026-00001"})
        with pytest.raises(signing.SigningError):
            signing.verify(_flip(token, part))


def test_unknown_kid_bad_signature_and_malformed_are_told_apart(app):
    with app.app_context():
        token = signing.sign({"a": 1})
        header, payload, sig = token.split(".")
        # Same token, header naming a kid we never had.
        forged_header = base64.urlsafe_b64encode(json.dumps(
            {"alg": "EdDSA", "kid": "no-such-key", "typ": "JWT"}).encode()).rstrip(b"=").decode()
        with pytest.raises(signing.UnknownKey):
            signing.verify(f"{forged_header}.{payload}.{sig}")
        # Signed by a stranger's Ed25519 key with our kid.
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        stranger = jwt.encode({"a": 1}, Ed25519PrivateKey.generate(), algorithm="EdDSA",
                              headers={"kid": signing.current_key().kid})
        with pytest.raises(signing.BadSignature):
            signing.verify(stranger)
        # Payload of another token under this header and signature.
        other = signing.sign({"a": 2}).split(".")[1]
        with pytest.raises(signing.BadSignature):
            signing.verify(f"{header}.{other}.{sig}")
        for junk in ("", "abc", "a.b", "a.b.c", "....", f"{header}.{payload}"):
            with pytest.raises(signing.MalformedToken):
                signing.verify(junk)
        # alg "none" or HS256 under our kid is refused before any key is used.
        none_header = base64.urlsafe_b64encode(json.dumps(
            {"alg": "none", "kid": signing.current_key().kid}).encode()).rstrip(b"=").decode()
        with pytest.raises(signing.MalformedToken):
            signing.verify(f"{none_header}.{payload}.")


def test_rotate_retires_the_old_key_which_still_verifies(app):
    with app.app_context():
        old_token = signing.sign({"n": 1})
        old = signing.current_key()
        new = signing.rotate_key()
        db.session.commit()
        assert new.kid != old.kid and old.retired_at is not None and new.retired_at is None
        assert signing.current_key().id == new.id
        assert jwt.get_unverified_header(signing.sign({"n": 2}))["kid"] == new.kid
        assert signing.verify(old_token) == {"n": 1}
        kids = [k["kid"] for k in signing.jwks()["keys"]]
        assert kids == [new.kid, old.kid]


def test_jwks_publishes_only_public_members(app):
    with app.app_context():
        signing.ensure_key()
        signing.rotate_key()
        keys = signing.jwks()["keys"]
        assert len(keys) == 2
        for key in keys:
            assert set(key) == {"kid", "kty", "crv", "x", "alg", "use"}
            assert key["kty"] == "OKP" and key["crv"] == "Ed25519"
            assert key["alg"] == "EdDSA" and key["use"] == "sig"
            assert "d" not in key


def test_open_badge_credential_from_the_snapshot(app, make_user, make_track):
    user = make_user(name="Hana Hēnare")
    track = make_track("Roof Safety", validity_months=24)
    with app.app_context():
        certificate = _issue(user, track)
        token = certificate.credential_jws
        assert token, "issue signs the credential"
        key = signing.current_key()
        assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key.kid,
                                                    "typ": "JWT"}
        claims = signing.verify(token)
        vc = claims["vc"]
        base = app.config["PUBLIC_BASE_URL"].rstrip("/")
        verify_url = f"{base}/verify/{certificate.verification_id}"
        assert claims["iss"] == base and claims["jti"] == verify_url
        assert claims["nbf"] == int(certificate.issued_at.timestamp())
        assert claims["exp"] > claims["nbf"]
        assert claims["sub"] == vc["credentialSubject"]["id"]
        assert vc["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                  "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
        assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert vc["id"] == verify_url
        assert vc["issuer"] == {"id": base, "type": ["Profile"],
                                "name": app.config["ISSUER_NAME"]}
        assert vc["validFrom"].endswith("Z")
        assert vc["validUntil"].startswith(
            date.fromordinal(certificate.expires_at.toordinal() + 1).isoformat())
        subject = vc["credentialSubject"]
        assert subject["type"] == ["AchievementSubject"] and subject["name"] == "Hana Hēnare"
        identity = subject["identifier"][0]
        import hashlib
        assert identity["identityHash"] == "sha256$" + hashlib.sha256(
            (user.email.lower() + identity["salt"]).encode()).hexdigest()
        assert user.email not in token
        achievement = subject["achievement"]
        assert achievement["type"] == ["Achievement"] and achievement["name"] == "Roof Safety"
        assert achievement["id"].startswith("urn:uuid:")
        assert "Roof Safety" in achievement["description"]
        assert "Roof Safety" in achievement["criteria"]["narrative"]


def test_no_expiry_means_no_exp(app, make_user, make_track):
    user, track = make_user(), make_track(validity_months=None)
    with app.app_context():
        claims = signing.verify(_issue(user, track).credential_jws)
        assert "exp" not in claims and "validUntil" not in claims["vc"]


def test_expired_credential_verifies_only_without_time_checks(app, make_user, make_track):
    user, track = make_user(), make_track(validity_months=1)
    with app.app_context():
        token = _issue(user, track, issued_on=date(2020, 1, 15)).credential_jws
        with pytest.raises(signing.ExpiredToken):
            signing.verify(token)
        assert signing.verify(token, check_times=False)["exp"] < 1_700_000_000


def test_sign_open_badge_makes_the_first_key_itself(app, make_user, make_track):
    user, track = make_user(), make_track()
    with app.app_context():
        assert signing.current_key() is None
        certificate = _issue(user, track)
        assert signing.current_key() is not None
        assert signing.verify(signing.sign_open_badge(certificate))["vc"]
