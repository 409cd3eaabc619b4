"""Open Badges 3.0 services: the status list (random unused indexes, concurrency, bits set
by revoke / de-award and cleared by reinstate / re-award, the spec's encoding), the
offline document loader, baking, our own proof checks refusing tampering, and the RSA
key kept and rotated like the Ed25519 one."""

from __future__ import annotations

import io
import itertools
from typing import Any

import jwt
import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CredentialStatus,
    SigningKey,
    StaffMicroCredential,
    StatusListEntry,
)
from app.services import certificates, open_badges, signing
from app.services.context import Actor
from app.services.credentials import status as credential_status
from app.services.open_badges import baking, contexts, proofs, status
from tests.open_badges_support import (
    award_micro_credential,
    bit,
    decode_bitstring,
    issue_certificate,
    validate_schema,
)


def _bit_of(owner: Any) -> int:
    listing = status.status_list_credential()
    entry = status.entry_of(owner)
    return bit(decode_bitstring(listing["credentialSubject"]["encodedList"]), entry.list_index)


def test_encoding_follows_the_spec():
    encoded = status.encode([0, 9, 131_071])
    bits = decode_bitstring(encoded)
    assert len(bits) == 131_072 // 8
    assert bits[0] == 0b1000_0000 and bits[1] == 0b0100_0000 and bits[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in bits) == 3


def test_issue_gives_a_random_index_and_revoke_reinstate_flip_the_bit(app, make_user,
                                                                      make_track):
    user, track = make_user(), make_track()
    with app.app_context():
        certificate = issue_certificate(user, track)
        entry = status.entry_of(certificate)
        assert entry is not None and entry.purpose == "suspension" and not entry.is_set
        assert 0 <= entry.list_index < 131_072
        assert _bit_of(certificate) == 0
        certificates.revoke(certificate, Actor.system(), "Misconduct", "misconduct")
        db.session.commit()
        assert _bit_of(certificate) == 1
        certificates.reinstate(certificate, Actor.system())
        db.session.commit()
        assert _bit_of(certificate) == 0


def test_moving_an_award_back_suspends_it_and_a_new_award_clears_it(app, make_user):
    with app.app_context():
        credential = award_micro_credential(make_user())
        index = status.entry_of(credential).list_index
        assert _bit_of(credential) == 0
        credential_status.change_status(credential, CredentialStatus.IN_TRAINING,
                                        Actor.system(), note="Assessed in error")
        db.session.commit()
        assert _bit_of(credential) == 1
        for step in (CredentialStatus.ASSESSMENT_PENDING, CredentialStatus.AWARDED):
            credential_status.change_status(credential, step, Actor.system())
        db.session.commit()
        assert _bit_of(credential) == 0 and status.entry_of(credential).list_index == index


def test_a_taken_index_is_drawn_again(app, make_user, make_track, monkeypatch):
    draws = itertools.chain([42, 42, 42, 7], itertools.repeat(99))
    monkeypatch.setattr(status.secrets, "randbelow", lambda n: next(draws))
    track = make_track()
    with app.app_context():
        first = issue_certificate(make_user(), track)
        second = issue_certificate(make_user(), track)
        assert status.entry_of(first).list_index == 42
        assert status.entry_of(second).list_index == 7


def test_parallel_approvals_get_distinct_indexes(app, admin_user, make_user, make_track,
                                                 race, bearer, monkeypatch):
    """Five approvals at once, drawing from three indexes first: the unique constraint
    makes the losers draw again; every certificate gets its own index."""
    draws = itertools.count()
    monkeypatch.setattr(status.secrets, "randbelow",
                        lambda n: i % 3 + 1 if (i := next(draws)) < 40 else 1000 + i)
    track = make_track()
    learners = [make_user() for _ in range(5)]
    ids = []
    with app.app_context():
        for learner in learners:
            certificate = Certificate(type=CertificateType.COMPLETION,
                                      status=CertificateStatus.PENDING,
                                      recipient_id=learner.id, track_id=track.id,
                                      live_key=Certificate.make_live_key(
                                          learner.id, None, track.id,
                                          CertificateType.COMPLETION))
            db.session.add(certificate)
            db.session.commit()
            ids.append(certificate.id)
    headers = bearer(admin_user)
    responses = race(None, calls=[("POST", f"/api/admin/certificates/{i}/approve",
                                   {"headers": headers}) for i in ids])
    assert [r.status_code for r in responses] == [200] * 5
    with app.app_context():
        indexes = list(db.session.scalars(select(StatusListEntry.list_index)))
        assert len(indexes) == len(set(indexes)) == 5


def test_the_document_loader_serves_only_the_contexts_it_holds(app):
    with app.app_context():
        assert "@context" in contexts.document_loader(contexts.VC_V2)["document"]
        assert "@context" in contexts.document_loader(contexts.OB_V3)["document"]
        for url in ("https://example.com/context.json", "file:///etc/passwd",
                    "https://www.w3.org/2018/credentials/v1"):
            with pytest.raises(contexts.UnknownContext):
                contexts.document_loader(url)


def test_our_own_checks_refuse_a_tampered_credential(app, make_user, make_track):
    with app.app_context():
        certificate = issue_certificate(make_user(), make_track())
        document = open_badges.signed_json(certificate)
        validate_schema(document)
        key = signing.current_key()
        multibase = proofs.public_key_multibase(key)
        proofs.verify_data_integrity_proof(document, multibase)
        document["credentialSubject"]["achievement"]["name"] = "Forged"
        with pytest.raises(proofs.ProofError):
            proofs.verify_data_integrity_proof(document, multibase)


def test_a_credential_naming_an_unknown_context_is_not_signed(app, make_user, make_track):
    with app.app_context():
        certificate = issue_certificate(make_user(), make_track())
        document, created, _ = open_badges.certificate_credential(certificate)
        document["@context"].append("https://example.com/evil.json")
        with pytest.raises(contexts.UnknownContext):
            proofs.add_data_integrity_proof(document, created)


def test_baking_round_trips_and_replaces(app):
    png = baking.badge_png("Reclad Fundamentals", "CERT-2026-00001")
    baked = baking.bake(png, "first.token.value")
    assert baking.unbake(baked) == "first.token.value"
    rebaked = baking.bake(baked, "second")
    assert baking.unbake(rebaked) == "second" and rebaked.count(b"openbadgecredential") == 1
    with pytest.raises(baking.NotBaked):
        baking.unbake(png)
    with pytest.raises(baking.NotBaked):
        baking.unbake(b"GIF89a")
    assert Image.open(io.BytesIO(baked)).size == (256, 256)


def test_the_rsa_key_is_3072_bits_encrypted_and_rotates_like_the_ed25519_key(
        app, make_user, make_track):
    with app.app_context():
        certificate = issue_certificate(make_user(), make_track())
        token = open_badges.signed_jwt(certificate)
        db.session.commit()
        rsa_key = signing.current_key(signing.RSA_ALGORITHM)
        assert rsa_key is not None and rsa_key.alg == "RS256"
        assert "PRIVATE KEY" not in rsa_key.private_key_encrypted
        assert signing.private_key(rsa_key).key_size == 3072
        assert set(rsa_key.public_jwk) == {"kty", "n", "e"}
        ed_key = signing.current_key()
        new = signing.rotate_key(signing.RSA_ALGORITHM)
        db.session.commit()
        assert signing.current_key(signing.RSA_ALGORITHM).id == new.id
        assert signing.current_key().id == ed_key.id  # the other kind is untouched
        # The Ed25519 key that signs the /verify answers still leads the JWKS.
        assert [k["kty"] for k in signing.jwks()["keys"]] == ["OKP", "RSA", "RSA"]
        published = {k["kid"]: k for k in signing.jwks()["keys"]}
        old_kid = jwt.get_unverified_header(token)["kid"]
        assert old_kid in published  # the retired key still verifies what it signed
        jwt.decode(token, jwt.PyJWK(published[old_kid]), algorithms=["RS256"],
                   options={"verify_exp": False})
        assert jwt.get_unverified_header(open_badges.signed_jwt(certificate))["kid"] != old_kid
        # An RSA kid never passes for a verification answer's key.
        with pytest.raises(signing.SigningError):
            signing.verify(token)


def test_the_keys_command_rotates_both_kinds(app, make_user, make_track):
    with app.app_context():
        certificate = issue_certificate(make_user(), make_track())
        open_badges.signed_jwt(certificate)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "EdDSA" in result.output and "RS256" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(SigningKey.id)).where(
            SigningKey.retired_at.is_(None))) == 2
        listing = app.test_cli_runner().invoke(args=["keys", "list"]).output
        assert listing.count("CURRENT") == 2


def test_only_issued_and_awarded_are_portable(app, make_user):
    holder, other = make_user(), make_user()
    with app.app_context():
        credential = StaffMicroCredential(
            definition_id=award_micro_credential(holder).definition_id,
            user_id=other.id, organization_id=other.organization_id,
            status=CredentialStatus.IN_TRAINING)
        db.session.add(credential)
        db.session.flush()
        with pytest.raises(open_badges.NotPortable):
            open_badges.micro_credential_credential(credential)


def test_the_issuer_document_is_an_ob_profile_and_a_controller_document(app, make_user,
                                                                       make_track):
    """Expanded offline (PyLD): the type is OB's Profile, and the Ed25519 key that signs
    the Data Integrity proofs is one of its assertion methods."""
    from pyld import jsonld

    with app.app_context():
        certificate = issue_certificate(make_user(), make_track())
        proof = open_badges.signed_json(certificate)["proof"][0]
        expanded = jsonld.expand(open_badges.issuer_document(),
                                 {"documentLoader": contexts.document_loader})[0]
        assert expanded["@type"] == ["https://purl.imsglobal.org/spec/vc/ob/vocab.html#Profile"]
        methods = expanded["https://w3id.org/security#assertionMethod"]
        assert {"@id": proof["verificationMethod"]} in methods
