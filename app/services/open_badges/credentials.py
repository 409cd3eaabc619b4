"""Open Badges 3.0 `AchievementCredential`s for certificates and awarded
micro-credentials, and the public documents a verifier walks to: the issuer (a Profile
that is also the controller document of our Ed25519 keys), the achievements, the keys.

Every id dereferences on this site (app/blueprints/badges/): the issuer
(`/issuer`), an achievement (`/achievements/<kind>/<id>[/<type>]`), a key
(`/keys/<kid>`: the JWK of an RSA key, the Multikey of an Ed25519 key), the status list
(`/credentials/status/suspension`); a certificate's credential id is its /verify page.

A credential is built when it is downloaded (from what was frozen at issue, for a
certificate; from the definition and the award, for a micro-credential), with a fresh
salt for the hashed email, and signed then with the current keys: two downloads differ
only in salt and proof, and both verify.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    Course,
    CredentialStatus,
    MicroCredentialDefinition,
    SigningKey,
    StaffMicroCredential,
)
from app.services import signing, urls
from app.services.open_badges import proofs, status
from app.services.open_badges.contexts import DID_V1, MULTIKEY_V1, OB_V3, VC_V2

CONTEXT = [VC_V2, OB_V3]
CREDENTIAL_TYPE = ["VerifiableCredential", "AchievementCredential"]
SCHEMA = {"id": "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/"
                "ob_v3p0_achievementcredential_schema.json",
          # VC 2.0's JsonSchema (draft 2019-09 is one it names): 1EdTech's own
          # "1EdTechJsonSchemaValidator2019" is not defined by the OB 3.0.3 context, and a
          # term no context defines fails JSON-LD safe mode in Data Integrity verifiers.
          "type": "JsonSchema"}
NZQCF = "New Zealand Qualifications and Credentials Framework"

_CRITERIA = {
    "COMPLETION": "Completed every required course of {what}{version}.",
    "MASTERY": "Demonstrated mastery of {what}{version}, assessed by {issuer}.",
    "TEACHING": "Approved by {issuer} to teach {what}{version}.",
}


class NotPortable(Exception):
    """This certificate or credential has no portable credential (not issued/awarded)."""


def _end_of(day: date) -> datetime:
    """Valid through its expiry date: until the next midnight UTC."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


def issuer_name() -> str:
    return current_app.config["ISSUER_NAME"]


def issuer_id() -> str:
    return urls.public_url("badges.issuer")


def issuer_profile(name: str | None = None) -> dict[str, Any]:
    """The issuer as embedded in a credential."""
    return {"id": issuer_id(), "type": ["Profile"], "name": name or issuer_name(),
            "url": urls.public_base()}


def _identifier(email: str | None) -> list[dict[str, Any]]:
    """OB 3.0 IdentityObject: "sha256$" + hex SHA-256 of the lower-cased address and a
    random salt: whoever knows the holder's address can match it; nobody can read it."""
    salt = secrets.token_hex(16)
    digest = hashlib.sha256(((email or "").strip().lower() + salt).encode("utf-8")).hexdigest()
    return [{"type": "IdentityObject", "identityType": "emailAddress", "hashed": True,
             "identityHash": f"sha256${digest}", "salt": salt}]


def _subject_id(user_id: int) -> str:
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                        f"{urls.public_base()}/users/{user_id}"))


def image(achievement_url: str) -> dict[str, Any]:
    return {"id": f"{achievement_url}/image.png", "type": "Image"}


# --- Achievements --------------------------------------------------------------------

def certificate_achievement_url(kind: str, subject_id: int | None, type_: str) -> str:
    return urls.public_url("badges.certificate_achievement", kind=kind,
                           subject_id=subject_id or 0, type_=type_.lower())


def certificate_achievement(kind: str, subject_id: int | None, type_: str, *,
                            subject: str, label: str, version: str | None,
                            issuer: str) -> dict[str, Any]:
    url = certificate_achievement_url(kind, subject_id, type_)
    suffix = f" (version {version})" if version else ""
    what = f"the {kind} \u201c{subject}\u201d"
    achievement: dict[str, Any] = {
        "id": url,
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": f"{subject} \u2014 {label} certificate",
        "description": f"{label} certificate for {what}{suffix}, issued by {issuer}.",
        "criteria": {"id": url, "narrative": _CRITERIA.get(type_, _CRITERIA["COMPLETION"])
                     .format(what=what, version=suffix, issuer=issuer)},
        "image": image(url),
        "creator": issuer_profile(issuer),
    }
    if version:
        achievement["version"] = str(version)
    return achievement


def current_certificate_achievement(kind: str, subject_id: int, type_: str
                                    ) -> dict[str, Any] | None:
    """The achievement as it stands now (its public page); None if there is no such."""
    if type_.upper() not in CertificateType.__members__:
        return None
    label = CertificateType[type_.upper()].label
    if kind == "track":
        track = db.session.get(CertificationTrack, subject_id)
        if track is None:
            return None
        subject, version = track.name, track.version
    elif kind == "course":
        course = db.session.get(Course, subject_id)
        if course is None:
            return None
        subject, version = course.title, course.track.version if course.track else None
    else:
        return None
    return certificate_achievement(kind, subject_id, type_.upper(), subject=subject,
                                   label=label, version=version, issuer=issuer_name())


def micro_credential_achievement_url(definition: MicroCredentialDefinition) -> str:
    return urls.public_url("badges.micro_credential_achievement", definition_id=definition.id)


def micro_credential_achievement(definition: MicroCredentialDefinition) -> dict[str, Any]:
    url = micro_credential_achievement_url(definition)
    # targetUrl: the achievement's own page, which lists its alignments (anchors
    # #nqf-level, #skill-standard), rather than a guess at an external framework's URL.
    alignment = [{"type": ["Alignment"], "targetName": f"NZQCF Level {definition.level}",
                  "targetCode": str(definition.level), "targetFramework": NZQCF,
                  "targetType": "ext:NQFLevel", "targetUrl": f"{url}#nqf-level"}]
    if definition.skill_standard:
        alignment.append({"type": ["Alignment"], "targetName": definition.skill_standard,
                          "targetType": "ext:SkillStandard",
                          "targetFramework": definition.issuing_body,
                          "targetUrl": f"{url}#skill-standard"})
    return {
        "id": url,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": definition.title,
        "description": (f"{definition.title}: a level {definition.level} micro-credential "
                        f"issued by {definition.issuing_body}."),
        "criteria": {"id": url, "narrative": definition.requirements
                     or f"Assessed by {definition.issuing_body}."},
        "image": image(url),
        "alignment": alignment,
        "creator": issuer_profile(definition.issuing_body),
    }


# --- Credentials ---------------------------------------------------------------------

def _with_status(credential: dict[str, Any], owner: Certificate | StaffMicroCredential
                 ) -> dict[str, Any]:
    entry = status.entry_of(owner)
    if entry is not None:
        credential["credentialStatus"] = status.status_entry(entry)
    credential["credentialSchema"] = [dict(SCHEMA)]
    return credential


def _document(credential_id: str, name: str, description: str, achievement: dict[str, Any],
              issuer: dict[str, Any], recipient_id: int, email: str, valid_from: datetime,
              valid_until: datetime | None) -> dict[str, Any]:
    """The AchievementCredential both kinds of credential share (unsigned, no status)."""
    document: dict[str, Any] = {
        "@context": list(CONTEXT),
        "id": credential_id,
        "type": list(CREDENTIAL_TYPE),
        "name": name,
        "description": description,
        "image": achievement["image"],
        "issuer": issuer,
        "validFrom": proofs.iso(valid_from),
        "awardedDate": proofs.iso(valid_from),
        "credentialSubject": {
            "id": _subject_id(recipient_id),
            "type": ["AchievementSubject"],
            "identifier": _identifier(email),
            "achievement": achievement,
        },
    }
    if valid_until is not None:
        document["validUntil"] = proofs.iso(valid_until)
    return document


def certificate_credential(certificate: Certificate) -> tuple[dict[str, Any], datetime,
                                                              datetime | None]:
    """The unsigned credential of an issued certificate, its validFrom and validUntil."""
    if certificate.status not in (CertificateStatus.ISSUED, CertificateStatus.REVOKED,
                                  CertificateStatus.SUPERSEDED) \
            or certificate.issued_at is None or not certificate.verification_id:
        raise NotPortable("Only an issued certificate has a portable credential.")
    snap = certificate.snapshot or {}
    kind = snap.get("subject_kind") or "track"
    subject_id = certificate.course_id if kind == "course" else certificate.track_id
    type_ = snap.get("type") or certificate.type.value
    label = snap.get("type_label") or certificate.type.label
    issuer = snap.get("issuer") or issuer_name()
    achievement = certificate_achievement(kind, subject_id, type_,
                                          subject=snap.get("subject", ""), label=label,
                                          version=snap.get("version"), issuer=issuer)
    valid_from = certificate.issued_at
    valid_until = _end_of(certificate.expires_at) if certificate.expires_at else None
    credential = _document(
        urls.verify_url(certificate.verification_id), achievement["name"],
        f"Certificate {certificate.number}: {achievement['description']}", achievement,
        issuer_profile(issuer), certificate.recipient_id, certificate.recipient.email,
        valid_from, valid_until)
    return _with_status(credential, certificate), valid_from, valid_until


def micro_credential_id(credential: StaffMicroCredential) -> str:
    """Stable for one award (a new award is a new credential)."""
    awarded = credential.awarded_at.isoformat() if credential.awarded_at else ""
    return "urn:uuid:" + str(uuid.uuid5(
        uuid.NAMESPACE_URL, f"{urls.public_base()}/micro-credentials/{credential.id}/{awarded}"))


def micro_credential_credential(credential: StaffMicroCredential
                                ) -> tuple[dict[str, Any], datetime, datetime | None]:
    """The unsigned credential of an awarded (or expired) micro-credential."""
    if credential.status not in (CredentialStatus.AWARDED, CredentialStatus.EXPIRED) \
            or credential.awarded_at is None:
        raise NotPortable("Only an awarded micro-credential has a portable credential.")
    definition = credential.definition
    achievement = micro_credential_achievement(definition)
    valid_from = credential.awarded_at
    valid_until = _end_of(credential.expiry_date) if credential.expiry_date else None
    document = _document(
        micro_credential_id(credential), definition.title, achievement["description"],
        achievement, issuer_profile(), credential.user_id, credential.user.email,
        valid_from, valid_until)
    return _with_status(document, credential), valid_from, valid_until


def signed_json(owner: Certificate | StaffMicroCredential) -> dict[str, Any]:
    """The credential with its Data Integrity proof (eddsa-rdfc-2022)."""
    credential, valid_from, _ = _unsigned(owner)
    return proofs.add_data_integrity_proof(credential, valid_from)


def signed_jwt(owner: Certificate | StaffMicroCredential) -> str:
    """The credential as a VC-JWT (RS256)."""
    credential, valid_from, valid_until = _unsigned(owner)
    return proofs.vc_jwt(credential, nbf=valid_from, exp=valid_until)


def _unsigned(owner: Certificate | StaffMicroCredential
              ) -> tuple[dict[str, Any], datetime, datetime | None]:
    if isinstance(owner, Certificate):
        return certificate_credential(owner)
    return micro_credential_credential(owner)


# --- Public documents ----------------------------------------------------------------

def issuer_document() -> dict[str, Any]:
    """The issuer's Profile, which is also the controller document of the Ed25519 keys
    (a Data Integrity verifier checks that the proof's verificationMethod is listed in
    the issuer's assertionMethod). DID v1 leads the context, as a controller document;
    the VC 2.0 and OB 3.0 contexts follow, so `Profile`, `name` and `url` are OB terms."""
    keys = [k for k in signing.all_keys() if k.alg == signing.ALGORITHM]
    methods = [proofs.key_url(k) for k in reversed(keys)]
    return {
        "@context": [DID_V1, MULTIKEY_V1, *CONTEXT],
        "id": issuer_id(),
        "type": ["Profile"],
        "name": issuer_name(),
        "url": urls.public_base(),
        "verificationMethod": [multikey_document(k, embedded=True) for k in reversed(keys)],
        "assertionMethod": methods,
    }


def multikey_document(key: SigningKey, *, embedded: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {"id": proofs.key_url(key), "type": "Multikey",
                                "controller": issuer_id(),
                                "publicKeyMultibase": proofs.public_key_multibase(key)}
    return document if embedded else {"@context": MULTIKEY_V1, **document}
