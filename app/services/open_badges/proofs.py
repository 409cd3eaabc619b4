"""The two proofs of an Open Badges 3.0 credential.

- VC-JWT (OB 3.0 "JSON Web Token Proof Format"): the JWT payload IS the credential, plus
  `iss` (issuer id), `jti` (credential id), `sub` (subject id), `nbf` (validFrom) and
  `exp` (validUntil, when it has one); header {"alg": "RS256", "kid": <URL answering the
  JWK>, "typ": "JWT"}, signed with the current RSA 3072 key.
- Data Integrity (W3C VC Data Integrity, cryptosuite `eddsa-rdfc-2022`): the document
  and the proof options are canonicalized with RDFC-1.0 (PyLD, contexts offline), each
  hashed with SHA-256, the proof options' hash first; the 64-byte Ed25519 signature of
  the two is `proofValue`, multibase base58btc ("z..."). `verificationMethod` is the URL
  of the key's Multikey document on this site, controlled by the issuer.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld

from app.models import SigningKey
from app.services import signing, urls
from app.services.open_badges.contexts import UnknownContext, document_loader

CRYPTOSUITE = "eddsa-rdfc-2022"
PROOF_TYPE = "DataIntegrityProof"
# Multicodec ed25519-pub (0xed) as an unsigned varint.
_ED25519_PUB_PREFIX = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ProofError(Exception):
    """A Data Integrity proof is missing, malformed or does not verify."""


# --- Encodings -----------------------------------------------------------------------

def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _B58.find(char)
        if index < 0:
            raise ProofError("Not base58btc.")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- Keys ----------------------------------------------------------------------------

def key_url(key: SigningKey) -> str:
    """The URL that answers a key: the JWK of an RSA key, the Multikey of an Ed25519 key
    (a Data Integrity proof's verificationMethod)."""
    return urls.public_url("badges.key", kid=key.kid)


def public_key_multibase(key: SigningKey) -> str:
    """An Ed25519 key as a Multikey publicKeyMultibase: "z" + base58btc(0xed01 + key)."""
    raw = jwt.utils.base64url_decode(key.public_jwk["x"])
    return "z" + base58btc(_ED25519_PUB_PREFIX + raw)


def _ed25519_public(multibase: str) -> Ed25519PublicKey:
    if not multibase.startswith("z"):
        raise ProofError("publicKeyMultibase is not base58btc.")
    decoded = base58btc_decode(multibase[1:])
    if not decoded.startswith(_ED25519_PUB_PREFIX) or len(decoded) != 34:
        raise ProofError("Not an Ed25519 Multikey.")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


# --- Data Integrity, eddsa-rdfc-2022 -------------------------------------------------

def canonicalize(document: dict[str, Any]) -> str:
    """RDFC-1.0 (URDNA2015) N-Quads of a JSON-LD document, contexts served offline."""
    try:
        return jsonld.normalize(document, {"algorithm": "URDNA2015",
                                           "format": "application/n-quads",
                                           "documentLoader": document_loader})
    except jsonld.JsonLdError as exc:
        cause: Any = exc
        while cause is not None:  # a refused context is said as such
            if isinstance(cause, UnknownContext):
                raise cause from exc
            cause = getattr(cause, "cause", None) or cause.__cause__
        raise ProofError(f"Not canonicalizable JSON-LD: {exc}") from exc


def _hash_data(unsecured: dict[str, Any], options: dict[str, Any]) -> bytes:
    config = {**options, "@context": unsecured["@context"]}
    config.pop("proofValue", None)
    return (hashlib.sha256(canonicalize(config).encode("utf-8")).digest()
            + hashlib.sha256(canonicalize(unsecured).encode("utf-8")).digest())


def add_data_integrity_proof(document: dict[str, Any], created: datetime) -> dict[str, Any]:
    """The document (without any proof) with a DataIntegrityProof by the current
    Ed25519 key, purpose assertionMethod."""
    key = signing.key_for_signing(signing.ALGORITHM)
    unsecured = copy.deepcopy(document)
    unsecured.pop("proof", None)
    options = {"type": PROOF_TYPE, "cryptosuite": CRYPTOSUITE, "created": iso(created),
               "verificationMethod": key_url(key), "proofPurpose": "assertionMethod"}
    signature = signing.private_key(key).sign(_hash_data(unsecured, options))
    # An array: the OB 3.0 schema's shape (a proof set; Data Integrity allows either).
    return {**unsecured, "proof": [{**options, "proofValue": "z" + base58btc(signature)}]}


def verify_data_integrity_proof(document: dict[str, Any], public_key_multibase: str) -> None:
    """Raises ProofError unless `document`'s eddsa-rdfc-2022 proof verifies under the
    key (our own check; the tests also verify with Digital Bazaar's libraries)."""
    proof = document.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict) or proof.get("cryptosuite") != CRYPTOSUITE \
            or proof.get("type") != PROOF_TYPE:
        raise ProofError("No eddsa-rdfc-2022 DataIntegrityProof.")
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue is not base58btc.")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    try:
        _ed25519_public(public_key_multibase).verify(base58btc_decode(value[1:]),
                                                     _hash_data(unsecured, proof))
    except InvalidSignature as exc:
        raise ProofError("The proof does not verify.") from exc


# --- VC-JWT, RS256 -------------------------------------------------------------------

def vc_jwt(credential: dict[str, Any], *, nbf: datetime, exp: datetime | None) -> str:
    """The credential as a VC-JWT (payload = credential + registered claims)."""
    key = signing.key_for_signing(signing.RSA_ALGORITHM)
    issuer = credential["issuer"]
    payload: dict[str, Any] = {
        **{k: v for k, v in credential.items() if k != "proof"},
        "iss": issuer["id"] if isinstance(issuer, dict) else issuer,
        "jti": credential["id"],
        "sub": credential["credentialSubject"].get("id") or credential["id"],
        "nbf": int(nbf.timestamp()),
    }
    if exp is not None:
        payload["exp"] = int(exp.timestamp())
    return jwt.encode(payload, signing.private_key(key), algorithm=signing.RSA_ALGORITHM,
                      headers={"alg": signing.RSA_ALGORITHM, "kid": key_url(key),
                               "typ": "JWT"})
