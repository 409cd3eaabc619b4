"""Ed25519 signing keys, compact JWS (EdDSA), and the Open Badges 3.0 credential.

Keys live in `signing_keys`: the public half as a JWK, the private half as PKCS#8 PEM
encrypted with Fernet under a key derived from SECRET_KEY (HKDF-SHA256, info
b"credwright signing keys"). The newest unretired key signs; `rotate_key()` retires it
(it stays in `jwks()`, so everything it signed still verifies) and makes a new one.
A key's `kid` is its RFC 7638 JWK thumbprint.

Two kinds of key, each with its own current key and rotation (`alg`): "EdDSA"
(Ed25519: the /verify answers and the Data Integrity proofs of Open Badges) and "RS256"
(RSA 3072: the Open Badges VC-JWT proof, the algorithm OB 3.0 requires every verifier to
support). Both are published in `jwks()`; an RSA key's published kid is the absolute URL
of its JWK (app/services/open_badges/).

Keys are made lazily: `ensure_key()` creates the first one when none exists, and
`sign()` / `sign_open_badge()` call it. Services here flush; the caller commits.

If SECRET_KEY changes, the stored private keys can no longer be decrypted (signing
raises `SigningKeyUnavailable`); `flask --app wsgi keys rotate` then makes a new key
under the new secret, and the old public keys stay published for verification.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
import weakref
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from time import monotonic
from typing import Any

import jwt
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_request_context, request
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Certificate, SigningKey
from app.models.base import utcnow
from app.services import urls

ALGORITHM = "EdDSA"
RSA_ALGORITHM = "RS256"
RSA_KEY_BITS = 3072
HKDF_INFO = b"credwright signing keys"
# The `typ` of the signed answers of /verify/<id>?format=json (RFC 8725 explicit
# typing: an answer can never be passed off as a credential, whose typ is "JWT").
VERIFICATION_TYP = "credwright-verification+jwt"
OB_CONTEXT = ["https://www.w3.org/ns/credentials/v2",
              "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
_PUBLIC_JWK_FIELDS = ("kty", "crv", "x")
_RSA_PUBLIC_JWK_FIELDS = ("kty", "n", "e")


class SigningError(Exception):
    """Base class: a token could not be verified, or nothing could be signed."""


class MalformedToken(SigningError):
    """Not a compact JWS we could parse (or not EdDSA)."""


class UnknownKey(SigningError):
    """The header's kid is none of our keys, current or retired."""


class BadSignature(SigningError):
    """The signature does not match the header and payload under that key."""


class ExpiredToken(SigningError):
    """Signed by us, but outside its nbf/exp window."""


class SigningKeyUnavailable(SigningError):
    """The current private key cannot be decrypted (SECRET_KEY changed?)."""


# --- Keys ----------------------------------------------------------------------------

def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=HKDF_INFO).derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, no whitespace."""
    members = ("e", "kty", "n") if public_jwk.get("kty") == "RSA" else ("crv", "kty", "x")
    canonical = json.dumps({k: public_jwk[k] for k in members},
                           separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _new_key(alg: str = ALGORITHM) -> SigningKey:
    private: Ed25519PrivateKey | rsa.RSAPrivateKey
    if alg == RSA_ALGORITHM:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
        raw = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
        public_jwk = {k: raw[k] for k in _RSA_PUBLIC_JWK_FIELDS}
    else:
        private = Ed25519PrivateKey.generate()
        raw = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
        public_jwk = {k: raw[k] for k in _PUBLIC_JWK_FIELDS}
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    encrypted = _fernet(current_app.config["SECRET_KEY"]).encrypt(pem).decode("ascii")
    return SigningKey(kid=_thumbprint(public_jwk), alg=alg, public_jwk=public_jwk,
                      private_key_encrypted=encrypted, created_at=utcnow())


def current_key(alg: str = ALGORITHM) -> SigningKey | None:
    """The newest unretired key of that kind (None before the first is made)."""
    return db.session.scalar(select(SigningKey).where(SigningKey.retired_at.is_(None),
                                                      SigningKey.alg == alg)
                             .order_by(SigningKey.created_at.desc(), SigningKey.id.desc())
                             .limit(1))


def ensure_key(alg: str = ALGORITHM) -> SigningKey:
    """The current key, creating the first one if there is none."""
    key = current_key(alg)
    if key is None:
        key = _new_key(alg)
        db.session.add(key)
        db.session.flush()
    return key


def _store_first_key(alg: str = ALGORITHM) -> SigningKey:
    """The first key. The first answer to sign may be a public GET, which writes nothing in
    its own transaction: there the key is committed at once in a transaction of its own.
    Elsewhere (a write request, a job, a command) it is flushed like any other change."""
    if not (has_request_context() and request.method in ("GET", "HEAD", "OPTIONS")):
        return ensure_key(alg)
    key = _new_key(alg)
    with Session(db.engine, expire_on_commit=False) as session, session.begin():
        session.add(key)
    return key


def key_for_signing(alg: str = ALGORITHM) -> SigningKey:
    """The current key of that kind, made first if there is none (committed on its own
    on a GET, flushed elsewhere, as `_store_first_key`)."""
    return current_key(alg) or _store_first_key(alg)


def rotate_key(alg: str = ALGORITHM) -> SigningKey:
    """Retire every unretired key of that kind (still published) and make a new one."""
    _key_cache.pop(db.engine, None)
    now = utcnow()
    for old in db.session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None),
                                                           SigningKey.alg == alg)):
        old.retired_at = now
    key = _new_key(alg)
    db.session.add(key)
    db.session.flush()
    return key


def all_keys() -> list[SigningKey]:
    """Every key, oldest first."""
    return list(db.session.scalars(select(SigningKey).order_by(SigningKey.created_at,
                                                               SigningKey.id)))


def public_jwk(key: SigningKey) -> dict[str, Any]:
    """The published form of a key: only the public members, never "d" (an RSA key's
    kid is the URL that answers it, the kid its VC-JWTs carry)."""
    if key.alg == RSA_ALGORITHM:
        return {"kid": urls.public_url("badges.key", kid=key.kid),
                **{k: key.public_jwk[k] for k in _RSA_PUBLIC_JWK_FIELDS},
                "alg": RSA_ALGORITHM, "use": "sig"}
    return {"kid": key.kid, **{k: key.public_jwk[k] for k in _PUBLIC_JWK_FIELDS},
            "alg": ALGORITHM, "use": "sig"}


def jwks() -> dict[str, list[dict[str, Any]]]:
    """Every key, current and retired: the Ed25519 keys newest first (the key that signs
    the verification answers leads), then the RSA keys of the VC-JWTs, newest first."""
    keys = list(reversed(all_keys()))
    return {"keys": [public_jwk(k) for k in keys if k.alg == ALGORITHM]
            + [public_jwk(k) for k in keys if k.alg != ALGORITHM]}


@lru_cache(maxsize=32)
def _load_private(secret_key: str, encrypted: str) -> Any:
    try:
        pem = _fernet(secret_key).decrypt(encrypted.encode("ascii"))
    except InvalidToken as exc:
        raise SigningKeyUnavailable(
            "The signing key cannot be decrypted with this SECRET_KEY; "
            "run `flask --app wsgi keys rotate` to make a new one.") from exc
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey | rsa.RSAPrivateKey):  # pragma: no cover
        raise SigningKeyUnavailable("The stored signing key is not Ed25519 or RSA.")
    return private


def private_key(key: SigningKey) -> Any:
    return _load_private(current_app.config["SECRET_KEY"], key.private_key_encrypted)


# --- JWS -----------------------------------------------------------------------------

# The current key, per engine, for KEY_CACHE_SECONDS: /verify/<id>?format=json signs every
# answer, and the key only changes when it is rotated (the old one stays published, so
# an answer signed with it in the meantime still verifies).
KEY_CACHE_SECONDS = 60.0
_key_cache: weakref.WeakKeyDictionary[Any, tuple[float, str, str]] = weakref.WeakKeyDictionary()


def _signing_key() -> tuple[str, Ed25519PrivateKey]:
    engine = db.engine
    now = monotonic()
    cached = _key_cache.get(engine)
    if cached is None or cached[0] < now:
        key = current_key()
        if key is None:
            key = _store_first_key()
            if key not in db.session:  # committed: cached like any stored key
                _key_cache[engine] = (now + KEY_CACHE_SECONDS, key.kid,
                                      key.private_key_encrypted)
            return key.kid, private_key(key)  # flushed, uncommitted: not cached yet
        cached = (now + KEY_CACHE_SECONDS, key.kid, key.private_key_encrypted)
        _key_cache[engine] = cached
    return cached[1], _load_private(current_app.config["SECRET_KEY"], cached[2])


def sign(payload: dict[str, Any], typ: str = "JWT") -> str:
    """A compact JWS of `payload`, header {"alg": "EdDSA", "kid", "typ"}, current key."""
    kid, private = _signing_key()
    return jwt.encode(payload, private, algorithm=ALGORITHM,
                      headers={"alg": ALGORITHM, "kid": kid, "typ": typ})


def verify(token: str, *, check_times: bool = True) -> dict[str, Any]:
    """The payload of a JWS we signed, with any of our keys (current or retired).

    Raises MalformedToken, UnknownKey, BadSignature, and (with `check_times`, when the
    payload has exp/nbf outside now) ExpiredToken; all are SigningError.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise MalformedToken("Not a compact JWS (three dot-separated parts).")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise MalformedToken(f"Unreadable JWS header: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise MalformedToken(f"Unexpected algorithm {header.get('alg')!r}; only EdDSA.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise UnknownKey("The JWS header names no key (kid).")
    key = db.session.scalar(select(SigningKey).where(SigningKey.kid == kid,
                                                      SigningKey.alg == ALGORITHM))
    if key is None:
        raise UnknownKey(f"No signing key with kid {kid!r}.")
    public = jwt.PyJWK(public_jwk(key))
    options = {} if check_times else {"verify_exp": False, "verify_nbf": False,
                                      "verify_iat": False}
    try:
        return jwt.decode(token, public, algorithms=[ALGORITHM], options=options)
    except jwt.InvalidSignatureError as exc:
        raise BadSignature("The signature does not match.") from exc
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
        raise ExpiredToken(str(exc)) from exc
    except jwt.DecodeError as exc:
        raise MalformedToken(f"Unreadable JWS: {exc}") from exc
    except jwt.InvalidTokenError as exc:
        raise MalformedToken(f"Invalid JWS: {exc}") from exc


def verification_body(answer: dict[str, Any]) -> str:
    """The JSON body of /verify/<id>?format=json: the answer's members and `jws`, its
    compact JWS (EdDSA, typ VERIFICATION_TYP, the current key) over the answer.

    The answer is serialized once, and those same bytes are the JWS payload and the
    body: every check signs, and PyJWT's encode (claims handling, a header dump, a
    payload dump) and a second dump for the body cost about a third of the JSON check's
    app CPU beyond the page's (issue 16). RFC 7515's compact form is three base64url
    parts; PyJWT and the JWKS verify it in the tests. Keys sorted, ASCII only, as
    Flask's jsonify wrote them; `jws` comes last."""
    if not answer or "jws" in answer:  # pragma: no cover - json_answer's shape
        raise ValueError("a verification answer has members, and no jws of its own")
    text = json.dumps(answer, sort_keys=True, separators=(",", ":"))
    kid, private = _signing_key()
    signing_input = _jws_header(kid, VERIFICATION_TYP) + b"." + _b64url(text.encode("ascii"))
    jws = signing_input + b"." + _b64url(private.sign(signing_input))
    return f'{text[:-1]},"jws":"{jws.decode("ascii")}"}}\n'


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@lru_cache(maxsize=64)
def _jws_header(kid: str, typ: str) -> bytes:
    """The first part of a compact JWS, as PyJWT writes it (sorted, compact): the same
    for every answer a key signs."""
    return _b64url(json.dumps({"alg": ALGORITHM, "kid": kid, "typ": typ},
                              sort_keys=True, separators=(",", ":")).encode("ascii"))


# --- Open Badges 3.0 -----------------------------------------------------------------

def base_url() -> str:
    """PUBLIC_BASE_URL (urls.public_base): the issuer id and the base of every id."""
    return urls.public_base()


def verify_url(certificate: Certificate) -> str:
    """The public page of a certificate (the route `verify.certificate`), absolute."""
    return urls.verify_url(certificate.verification_id)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _end_of(day: date) -> datetime:
    """A certificate is valid through its expiry date: until the next midnight UTC."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


_CRITERIA = {
    "COMPLETION": "Completed every required course of {what}{version}.",
    "MASTERY": "Demonstrated mastery of {what}{version}, assessed by {issuer}.",
    "TEACHING": "Approved by {issuer} to teach {what}{version}.",
}


def _achievement(certificate: Certificate, snap: dict[str, Any]) -> dict[str, Any]:
    kind = snap.get("subject_kind") or "track"
    subject_id = certificate.course_id if kind == "course" else certificate.track_id
    version = f" (version {snap['version']})" if snap.get("version") else ""
    what = f"the {kind} \u201c{snap.get('subject', '')}\u201d"
    type_ = snap.get("type") or certificate.type.value
    label = snap.get("type_label") or certificate.type.label
    achievement_uri = f"{base_url()}/achievements/{kind}/{subject_id}/{type_.lower()}"
    return {
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, achievement_uri)}",
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": snap.get("subject", ""),
        "description": f"{label} certificate for {what}{version}, issued by "
                       f"{snap.get('issuer', '')}.",
        "criteria": {"narrative": _CRITERIA.get(type_, _CRITERIA["COMPLETION"]).format(
            what=what, version=version, issuer=snap.get("issuer", ""))},
        **({"version": str(snap["version"])} if snap.get("version") else {}),
    }


def _identifier(certificate: Certificate) -> list[dict[str, Any]]:
    """The recipient's email, salted and hashed (OB 3.0 IdentityObject): a verifier who
    knows the holder's address can match it; nobody can read it."""
    salt = secrets.token_hex(8)
    email = (certificate.recipient.email or "").strip().lower()
    digest = hashlib.sha256((email + salt).encode("utf-8")).hexdigest()
    return [{"type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
             "identityHash": f"sha256${digest}", "salt": salt}]


def open_badge_payload(certificate: Certificate) -> dict[str, Any]:
    """The VC-JWT claims of the certificate's OpenBadgeCredential, from its snapshot."""
    snap = certificate.snapshot or {}
    issued_at = certificate.issued_at or utcnow()
    credential_id = verify_url(certificate)
    subject_id = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                              f"{base_url()}/users/{certificate.recipient_id}"))
    issuer = {"id": base_url(), "type": ["Profile"], "name": snap.get("issuer")
              or current_app.config["ISSUER_NAME"]}
    vc: dict[str, Any] = {
        "@context": list(OB_CONTEXT),
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{snap.get('subject', '')} \u2014 {snap.get('type_label', '')} certificate",
        "issuer": issuer,
        "validFrom": _iso(issued_at),
        "credentialSubject": {
            "id": subject_id,
            "type": ["AchievementSubject"],
            "name": snap.get("recipient_name", ""),
            "identifier": _identifier(certificate),
            "achievement": _achievement(certificate, snap),
        },
    }
    claims: dict[str, Any] = {"iss": issuer["id"], "sub": subject_id,
                              "nbf": int(issued_at.timestamp()), "jti": credential_id}
    if certificate.expires_at is not None:
        until = _end_of(certificate.expires_at)
        vc["validUntil"] = _iso(until)
        claims["exp"] = int(until.timestamp())
    claims["vc"] = vc
    return claims


def sign_open_badge(certificate: Certificate) -> str:
    """The certificate's OpenBadgeCredential as a VC-JWT, signed with the current key
    (made first if there is none). Called at issue; the result goes in credential_jws."""
    return sign_open_badges([certificate])[0]


def sign_open_badges(certificates: list[Certificate]) -> list[str]:
    """sign_open_badge for each (the current key looked up once: a bulk issue's batch)."""
    ensure_key()
    return [sign(open_badge_payload(certificate), typ="JWT") for certificate in certificates]
