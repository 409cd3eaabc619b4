"""Evidence files: a PDF, PNG or JPEG (judged by its first bytes, never its name) up to
EVIDENCE_MAX_BYTES, stored and recorded on the credential (an earlier file stays in
storage and in the audit trail; the same file again is a no-op); who may see a
credential (admins, the holder, the holder's organization admin); and the holder's or
their org admin's upload while the credential awaits assessment."""

from __future__ import annotations

import hashlib

from flask import current_app

from app.extensions import db
from app.models import (
    AuditAction,
    CredentialStatus,
    Role,
    StaffMicroCredential,
    User,
)
from app.models.base import utcnow
from app.services import audit, storage
from app.services.context import Actor
from app.services.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from app.services.transitions import lock

# Content sniffing for evidence: the first bytes decide, never the file name.
EVIDENCE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


# --- Evidence ------------------------------------------------------------------------

def sniff_evidence_type(data: bytes) -> str | None:
    return next((kind for magic, kind in EVIDENCE_SIGNATURES.items()
                 if data.startswith(magic)), None)


def attach_evidence(credential: StaffMicroCredential, filename: str, data: bytes,
                    actor: Actor) -> StaffMicroCredential:
    """Store a PDF, PNG or JPEG as the credential's evidence (replacing any earlier one,
    which stays in storage and in the audit trail).

    Raises ValidationFailed for an empty file or another type (judged by content),
    PayloadTooLarge over EVIDENCE_MAX_BYTES.
    """
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    if not data:
        raise ValidationFailed("Choose a file to upload.", fields={"file": ["The file is empty."]})
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than {limit // (1024 * 1024)} MiB.",
                              fields={"file": [f"Up to {limit // (1024 * 1024)} MiB."]})
    content_type = sniff_evidence_type(data)
    if content_type is None:
        message = "Only PDF, PNG or JPEG documents are accepted."
        raise ValidationFailed(message, fields={"file": [message]})
    display_name = _display_name(filename, content_type)
    digest = hashlib.sha256(data).hexdigest()
    lock(credential)  # a double submit waits here, then finds its file already recorded
    if credential.evidence_sha256 == digest and credential.evidence_filename == display_name:
        return credential
    key, digest = storage.save(data, "evidence")
    changes = {
        "evidence": [credential.evidence_filename, display_name],
        "evidence_key": [credential.evidence_key, key],
        "sha256": digest,
        "size": len(data),
    }
    credential.evidence_key = key
    credential.evidence_filename = display_name
    credential.evidence_content_type = content_type
    credential.evidence_size = len(data)
    credential.evidence_sha256 = digest
    credential.evidence_uploaded_at = utcnow()
    credential.evidence_uploaded_by_id = actor.user.id if actor.user else None
    db.session.flush()
    audit.record(actor, AuditAction.UPDATE, "staff_micro_credential", credential.id, changes)
    return credential


def _display_name(filename: str, content_type: str) -> str:
    # Keep the person's name for display only; strip any path and control characters.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    extension = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}
    return name or f"evidence{extension[content_type]}"


def can_see(viewer: User, credential: StaffMicroCredential) -> bool:
    """Admins, the holder, and the holder's organization admin."""
    if viewer.role == Role.ADMIN or viewer.id == credential.user_id:
        return True
    return (viewer.role == Role.ORG_ADMIN and viewer.organization_id is not None
            and viewer.organization_id == credential.user.organization_id)


def can_upload(viewer: User, credential: StaffMicroCredential) -> bool:
    """Who may upload evidence: those who may see the credential (can_see); holders and
    org admins only while it awaits assessment (submit_evidence says so)."""
    return can_see(viewer, credential)


NOT_AWAITING = ("Evidence can be uploaded while the credential awaits assessment; "
                "this one is {status}.")


def submit_evidence(credential: StaffMicroCredential, filename: str, data: bytes,
                    actor: Actor) -> StaffMicroCredential:
    """The holder's (or their org admin's) upload, for the admin to review when awarding.

    Raises NotFound when the actor may not see the credential (another organization's:
    nothing tells it exists), Conflict when it is not ASSESSMENT_PENDING (platform admins
    attach evidence in any state, through attach_evidence), and attach_evidence's
    ValidationFailed / PayloadTooLarge."""
    viewer = actor.user
    if viewer is None or not can_upload(viewer, credential):
        raise NotFound("Credential not found.")
    lock(credential)
    if credential.status != CredentialStatus.ASSESSMENT_PENDING:
        raise Conflict(NOT_AWAITING.format(status=credential.status.label.lower()))
    return attach_evidence(credential, filename, data, actor)
