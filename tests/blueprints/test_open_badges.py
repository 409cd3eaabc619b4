"""Open Badges 3.0 credentials, proved by other people's code: the holder downloads the
credential (.json with a Data Integrity proof, .jwt, baked .png) from /me; the official
JSON Schema accepts it; PyJWT and jwcrypto verify the VC-JWT with the key fetched from
its `kid` URL; openbadgeslib verifies the baked badge; Digital Bazaar's JavaScript
libraries verify the Data Integrity proof with the issuer's controller document and key
fetched from this site; a revoked certificate reads as suspended through the status
list; a tampered credential fails everywhere. Everything is fetched through the test
client, as a verifier would fetch it from the site."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from openbadgeslib.verify import verify_badge

from app.extensions import db
from app.models import Certificate, User
from app.services import certificates
from app.services.context import Actor
from app.services.open_badges import baking
from tests.open_badges_support import (
    award_micro_credential,
    bit,
    decode_bitstring,
    issue_certificate,
    validate_schema,
    verify_with_digital_bazaar,
)

JSON = {"Accept": "application/json"}


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _fetch_json(client: Any, url: str, accept: str = "application/json") -> dict[str, Any]:
    response = client.get(_path(url), headers={"Accept": accept})
    assert response.status_code == 200, (url, response.status_code)
    return json.loads(response.data)


@pytest.fixture
def holder(make_user: Any) -> User:
    return make_user(name="Tāne Ngāti Pōneke")


@pytest.fixture
def issued(app: Any, holder: User, make_track: Any) -> Certificate:
    track = make_track("Reclad Fundamentals", validity_months=24)
    with app.app_context():
        certificate = issue_certificate(holder, track)
        return db.session.get(Certificate, certificate.id).verification_id


@pytest.fixture
def awarded(app: Any, holder: User) -> int:
    with app.app_context():
        return award_micro_credential(holder).id


@pytest.fixture
def holder_client(new_client: Any, holder: User) -> Any:
    client = new_client()
    client.login(holder.email)
    return client


def _downloads(client: Any, base: str) -> tuple[dict[str, Any], str, bytes]:
    as_json = client.get(f"{base}.json")
    assert as_json.status_code == 200
    assert as_json.mimetype == "application/ld+json"
    assert "attachment" in as_json.headers["Content-Disposition"]
    as_jwt = client.get(f"{base}.jwt")
    assert as_jwt.status_code == 200
    assert as_jwt.mimetype == "application/vc+jwt"
    as_png = client.get(f"{base}.png")
    assert as_png.status_code == 200
    assert as_png.mimetype == "image/png"
    return json.loads(as_json.data), as_jwt.get_data(as_text=True), as_png.data


def _site_documents(client: Any, credential: dict[str, Any]) -> dict[str, Any]:
    """What a verifier fetches to check the Data Integrity proof: the key document named
    by verificationMethod and its controller (the issuer)."""
    method = credential["proof"][0]["verificationMethod"]
    key = _fetch_json(client, method, "application/ld+json")
    controller = _fetch_json(client, key["controller"], "application/ld+json")
    return {method: key, key["controller"]: controller}


def _verify_jwt_independently(client: Any, token: str) -> dict[str, Any]:
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT"
    assert header["kid"].startswith(("http://", "https://"))
    key = _fetch_json(client, header["kid"])
    assert key["kty"] == "RSA" and "d" not in key
    pyjwt_key = jwt.PyJWK(key)
    assert pyjwt_key.key.key_size == 3072
    claims = jwt.decode(token, pyjwt_key, algorithms=["RS256"],
                        options={"verify_aud": False})
    verifier = jwcrypto_jws.JWS()
    verifier.deserialize(token)
    verifier.verify(jwcrypto_jwk.JWK(**key), alg="RS256")
    assert json.loads(verifier.payload) == claims
    return claims


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["credentialSubject"]["achievement"]["name"] = "Something else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return ".".join([header, forged, signature])


def test_certificate_credential_verifies_with_independent_code(
        app, holder_client, client, issued, tmp_path):
    credential, token, png = _downloads(holder_client,
                                        f"/me/badges/certificates/{issued}")
    # The official schema accepts the JSON credential and the JWT payload.
    validate_schema(credential)
    assert credential["type"] == ["VerifiableCredential", "AchievementCredential"]
    assert credential["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    identity = credential["credentialSubject"]["identifier"][0]
    assert identity["identityHash"].startswith("sha256$") and identity["salt"]
    assert "validUntil" in credential and credential["credentialSchema"]

    # VC-JWT: the payload is the credential itself plus the registered claims.
    claims = _verify_jwt_independently(client, token)
    validate_schema(claims)
    assert "vc" not in claims
    assert claims["iss"] == claims["issuer"]["id"]
    assert claims["jti"] == claims["id"] == credential["id"]
    assert claims["sub"] == claims["credentialSubject"]["id"]
    assert {"nbf", "exp"} <= set(claims)
    public = _fetch_json(client, jwt.get_unverified_header(token)["kid"])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(_tampered(token), jwt.PyJWK(public), algorithms=["RS256"])
    forged_jws = jwcrypto_jws.JWS()
    forged_jws.deserialize(_tampered(token))
    with pytest.raises(jwcrypto_jws.InvalidJWSSignature):
        forged_jws.verify(jwcrypto_jwk.JWK(**public), alg="RS256")

    # Data Integrity proof: Digital Bazaar's verifier, with what the site publishes.
    documents = _site_documents(client, credential)
    result = verify_with_digital_bazaar(credential, documents, tmp_path)
    assert result["verified"], result
    forged = copy.deepcopy(credential)
    forged["credentialSubject"]["achievement"]["name"] = "Something else"
    result = verify_with_digital_bazaar(forged, documents, tmp_path)
    assert not result["verified"]

    # The baked badge yields the same VC-JWT back; openbadgeslib verifies it.
    baked = baking.unbake(png)
    assert jwt.decode(baked, options={"verify_signature": False})["id"] == credential["id"]
    pem = jwt.PyJWK(_fetch_json(client, jwt.get_unverified_header(baked)["kid"])).key
    public_pem = pem.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    outcome = verify_badge(png, "3", pubkey_pem=public_pem)
    assert outcome.valid, outcome.reason
    forged_png = baking.bake(png, _tampered(baked))
    assert not verify_badge(forged_png, "3", pubkey_pem=public_pem).valid


def test_micro_credential_credential_verifies(app, holder_client, client, awarded, tmp_path):
    credential, token, png = _downloads(holder_client,
                                        f"/me/badges/micro-credentials/{awarded}")
    validate_schema(credential)
    achievement = credential["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "MicroCredential"
    assert any(a["targetType"] == "ext:NQFLevel" for a in achievement["alignment"])
    claims = _verify_jwt_independently(client, token)
    validate_schema(claims)
    assert baking.unbake(png) == token or jwt.decode(
        baking.unbake(png), options={"verify_signature": False})["id"] == credential["id"]
    result = verify_with_digital_bazaar(credential, _site_documents(client, credential),
                                        tmp_path)
    assert result["verified"], result
    # The achievement dereferences: JSON for machines, a page for people.
    assert _fetch_json(client, achievement["id"])["name"] == achievement["name"]
    page = client.get(_path(achievement["id"]), headers={"Accept": "text/html"})
    assert page.status_code == 200 and achievement["name"] in page.get_data(as_text=True)


def _status_bit(client: Any, credential: dict[str, Any]) -> int:
    entry = credential["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusPurpose"] == "suspension"
    response = client.get(_path(entry["statusListCredential"]))
    assert response.status_code == 200
    assert "public" in response.headers["Cache-Control"]
    assert response.headers["ETag"]
    listing = json.loads(response.data)
    assert listing["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    subject = listing["credentialSubject"]
    assert subject["statusPurpose"] == "suspension"
    bits = decode_bitstring(subject["encodedList"])
    assert len(bits) * 8 >= 131_072
    return bit(bits, int(entry["statusListIndex"]))


def _openbadgeslib_status_check(client: Any, png: bytes) -> Any:
    """openbadgeslib reads the bit through the status list fetched from the site (it
    checks JWT-signed lists only: ours has a Data Integrity proof, checked by Digital
    Bazaar's verifier below)."""
    baked = baking.unbake(png)
    key = jwt.PyJWK(_fetch_json(client, jwt.get_unverified_header(baked)["kid"])).key
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return verify_badge(png, "3", pubkey_pem=pem, check_status=True,
                        verify_status_list=False,
                        download=lambda url: client.get(_path(url)).data)


def test_revoke_suspends_and_reinstate_clears_through_the_status_list(
        app, holder_client, client, issued, tmp_path):
    credential, _, png = _downloads(holder_client, f"/me/badges/certificates/{issued}")
    assert _status_bit(client, credential) == 0
    assert _openbadgeslib_status_check(client, png).valid
    with app.app_context():
        certificate = db.session.scalar(db.select(Certificate).where(
            Certificate.verification_id == issued))
        certificate_id = certificate.id
        certificates.revoke(certificate, Actor.system(), "Issued in error", "issued_in_error")
        db.session.commit()
    assert _status_bit(client, credential) == 1
    outcome = _openbadgeslib_status_check(client, png)
    assert not outcome.valid and "suspension' is set" in (outcome.reason or ""), outcome.reason
    # The status list credential is signed too: Digital Bazaar verifies its proof.
    listing = _fetch_json(client, credential["credentialStatus"]["statusListCredential"])
    result = verify_with_digital_bazaar(listing, _site_documents(client, listing), tmp_path)
    assert result["verified"], result
    with app.app_context():
        certificate = db.session.get(Certificate, certificate_id)
        certificates.reinstate(certificate, Actor.system())
        db.session.commit()
    assert _status_bit(client, credential) == 0


def test_downloads_are_the_holders_only(app, client, new_client, make_user, issued, awarded):
    other = new_client()
    other.login(make_user().email)
    for url in (f"/me/badges/certificates/{issued}", f"/me/badges/micro-credentials/{awarded}"):
        for ext in ("json", "jwt", "png", "svg"):
            assert other.get(f"{url}.{ext}").status_code == 404
            assert client.get(f"{url}.{ext}").status_code in (302, 401)


def test_issuer_and_keys_dereference(app, client, holder_client, issued):
    credential, token, _ = _downloads(holder_client, f"/me/badges/certificates/{issued}")
    issuer = _fetch_json(client, credential["issuer"]["id"])
    assert issuer["id"] == credential["issuer"]["id"]
    assert credential["proof"][0]["verificationMethod"] in issuer["assertionMethod"]
    page = client.get(_path(issuer["id"]), headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Open Badges" in page.get_data(as_text=True)
    jwks = _fetch_json(client, "/.well-known/jwks.json")
    kinds = {k["kty"] for k in jwks["keys"]}
    assert kinds == {"OKP", "RSA"}
    assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in jwks["keys"]}
    assert client.get("/keys/nope").status_code == 404


def test_public_documents_are_cached_open_and_negotiated(app, client, holder_client, issued,
                                                         awarded):
    credential, _, _ = _downloads(holder_client, f"/me/badges/certificates/{issued}")
    url = _path(credential["credentialStatus"]["statusListCredential"])
    first = client.get(url)
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/credentials/status/revocation").status_code == 404
    achievement = credential["credentialSubject"]["achievement"]
    as_json = client.get(_path(achievement["id"]), headers={"Accept": "application/ld+json"})
    assert as_json.mimetype == "application/ld+json"
    assert as_json.headers["Access-Control-Allow-Origin"] == "*"
    assert "Accept" in as_json.headers["Vary"]
    image = client.get(_path(achievement["image"]["id"]))
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert client.get("/achievements/track/999999/completion").status_code == 404
    assert client.get("/achievements/track/1/nonsense").status_code == 404
    assert client.get("/achievements/micro-credential/999999").status_code == 404
    issuer_page = client.get("/issuer")  # a browser's */* gets the page
    assert issuer_page.mimetype == "text/html"


def test_public_documents_are_rate_limited_like_verify(make_app):
    app = make_app(VERIFY_RATE_LIMIT="2 per minute")
    client = app.test_client()
    for url in ("/credentials/status/suspension", "/issuer"):
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_baked_png_and_svg_yield_the_same_credential(app, holder_client, client, issued,
                                                     awarded):
    """OB 3.0 baking, both formats: the PNG's iTXt chunk and the SVG's
    <openbadges:credential verify> hold a VC-JWT of the same credential, verified with the
    key from its kid URL and by openbadgeslib (which reads each format itself)."""
    for base in (f"/me/badges/certificates/{issued}", f"/me/badges/micro-credentials/{awarded}"):
        png = holder_client.get(f"{base}.png")
        svg = holder_client.get(f"{base}.svg")
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert "attachment" in svg.headers["Content-Disposition"]
        from_png = _verify_jwt_independently(client, baking.unbake(png.data))
        from_svg = _verify_jwt_independently(client, baking.unbake_svg(svg.data))
        # Each download is signed afresh (its own jti and salt): the credential is the same.
        for claims in (from_png, from_svg):
            claims.pop("jti"), claims.pop("iat", None), claims.pop("nbf", None)
            claims["credentialSubject"]["identifier"] = None
        assert from_png["id"] == from_svg["id"]
        assert from_png["credentialSubject"]["achievement"] == \
            from_svg["credentialSubject"]["achievement"]
        assert from_png["issuer"] == from_svg["issuer"]
        header = jwt.get_unverified_header(baking.unbake_svg(svg.data))
        public_pem = jwt.PyJWK(_fetch_json(client, header["kid"])).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        assert verify_badge(svg.data, "3", pubkey_pem=public_pem).valid
        forged = baking.bake_svg(baking.badge_svg("Forged"), _tampered(
            baking.unbake_svg(svg.data)))
        assert not verify_badge(forged.encode(), "3", pubkey_pem=public_pem).valid


def test_the_svg_badge_escapes_what_it_draws():
    svg = baking.badge_svg('<script>alert(1)</script> & "Co"', caption="<b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    baked = baking.bake_svg(svg, 'a.b"c')
    assert baking.unbake_svg(baked) == 'a.b"c'
    with pytest.raises(baking.NotBaked):
        baking.unbake_svg(svg)


def test_an_svg_with_entities_is_not_read():
    bomb = ('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>'
            '<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>')
    with pytest.raises(baking.NotBaked):
        baking.unbake_svg(bomb)
