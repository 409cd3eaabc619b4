"""Shared by the Open Badges tests: independent checkers (the official JSON Schema, the
spec's bitstring decoding, Digital Bazaar's verifier run by node) and ways to make an
issued certificate and an awarded micro-credential."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.extensions import db
from app.models import (
    CertificateType,
    CertificationTrack,
    CredentialStatus,
    MicroCredentialDefinition,
    StaffMicroCredential,
    User,
)
from app.services import certificates
from app.services.context import Actor
from app.services.credentials import status as credential_status

ROOT = Path(__file__).resolve().parent.parent
STANDARDS = ROOT.parent / "shared" / "standards"
SCHEMA_FILE = STANDARDS / "ob3" / "ob_v3p0_achievementcredential_schema.json"
NODE_VERIFIER = ROOT / "tests" / "node" / "verify_data_integrity.mjs"


def validate_schema(credential: dict[str, Any]) -> None:
    """1EdTech's AchievementCredential schema (draft 2019-09), formats checked."""
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft201909Validator(
        schema, format_checker=jsonschema.FormatChecker()).validate(credential)


def decode_bitstring(encoded: str) -> bytes:
    """The Bitstring Status List spec's decoding, written from the spec: multibase
    base64url ("u", no padding) of a GZIP stream."""
    assert encoded.startswith("u")
    data = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def bit(bitstring: bytes, index: int) -> int:
    """Index 0 is the left-most (most significant) bit of the first byte."""
    return (bitstring[index // 8] >> (7 - index % 8)) & 1


def issue_certificate(user: User, track: CertificationTrack) -> Any:
    certificate = certificates.issue_certificate(
        Actor.system(), recipient=db.session.get(User, user.id),
        type_=CertificateType.COMPLETION, track=db.session.get(CertificationTrack, track.id))
    db.session.commit()
    return certificate


def award_micro_credential(user: User) -> StaffMicroCredential:
    definition = db.session.scalar(db.select(MicroCredentialDefinition)
                                   .order_by(MicroCredentialDefinition.id).limit(1))
    holder = db.session.get(User, user.id)
    # organization_id as the credentials domain writes it (membership.py), so an org's
    # figures count this credential.
    credential = StaffMicroCredential(definition=definition, user=holder,
                                      organization_id=holder.organization_id,
                                      status=CredentialStatus.ASSESSMENT_PENDING)
    db.session.add(credential)
    db.session.flush()
    credential_status.change_status(credential, CredentialStatus.AWARDED, Actor.system())
    db.session.commit()
    return credential


def node_available() -> bool:
    return (ROOT / "node_modules" / "@digitalbazaar" / "vc").is_dir()


def verify_with_digital_bazaar(credential: dict[str, Any], documents: dict[str, Any],
                               tmp_path: Path) -> dict[str, Any]:
    """Digital Bazaar's @digitalbazaar/vc verifyCredential with the eddsa-rdfc-2022
    cryptosuite, offline: its document loader serves the contexts from the npm
    packages and the standards folder, and `documents` (this site's issuer/controller
    and key documents, fetched through the test client); anything else is refused."""
    if not node_available():
        pytest.fail("node_modules is missing: run `make static` (npm ci)")
    source = tmp_path / "credential.json"
    source.write_text(json.dumps({"credential": credential, "documents": documents,
                                  "standards": str(STANDARDS)}))
    done = subprocess.run(["node", str(NODE_VERIFIER), str(source)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode in (0, 1) and done.stdout, done.stderr
    return json.loads(done.stdout)
