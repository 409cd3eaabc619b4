"""W3C Bitstring Status List: every portable credential has a random index in the
`suspension` list (131,072 entries), given at issue or award.

Suspension, not revocation: a certificate can be reinstated and a micro-credential
moved back and awarded again, and the spec's `revocation` purpose is irreversible. Revoke
sets the bit, reinstate clears it (and so for a micro-credential moved back from AWARDED,
and awarded again); an expired credential's `validUntil` says so on its own. Superseding
a certificate (a re-issue, or its new major version's certificate) sets the bit too: it
is no longer valid. RECERTIFICATION_REQUIRED does not: the credential names the version
it was achieved for (its achievement), which stays true; whether it covers the track's
current version is the /verify answer's to give.

The index is drawn with `secrets` among the unused ones; the unique constraint on
(purpose, list_index) decides a race (the loser draws again, inside a SAVEPOINT).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import STATUS_LIST_SIZE, Certificate, StaffMicroCredential, StatusListEntry
from app.models.base import utcnow
from app.services import urls
from app.services.open_badges import proofs
from app.services.open_badges.contexts import VC_V2

SUSPENSION = "suspension"
PURPOSES = (SUSPENSION,)
_DRAWS = 64
# A fixed date for an empty list's validFrom, so the document only changes with a bit.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def list_url(purpose: str = SUSPENSION) -> str:
    return urls.public_url("badges.status_list", purpose=purpose)


def entry_of(credential: Certificate | StaffMicroCredential) -> StatusListEntry | None:
    column = (StatusListEntry.certificate_id if isinstance(credential, Certificate)
              else StatusListEntry.staff_micro_credential_id)
    return db.session.scalar(select(StatusListEntry).where(column == credential.id))


def assign(credential: Certificate | StaffMicroCredential,
           purpose: str = SUSPENSION) -> StatusListEntry:
    """The credential's entry, made with a random unused index if it has none; its bit
    is cleared (a credential being issued or awarded is in good standing)."""
    entry = entry_of(credential)
    if entry is not None:
        entry.is_set = False
        db.session.flush()
        return entry
    owner = ({"certificate_id": credential.id} if isinstance(credential, Certificate)
             else {"staff_micro_credential_id": credential.id})
    for _ in range(_DRAWS):
        entry = StatusListEntry(purpose=purpose, list_index=secrets.randbelow(STATUS_LIST_SIZE),
                                is_set=False, **owner)
        try:
            with db.session.begin_nested():
                db.session.add(entry)
        except IntegrityError:
            existing = entry_of(credential)  # a parallel issue of the same one won
            if existing is not None:
                return existing
            continue
        return entry
    raise RuntimeError("No unused status list index after many draws.")  # pragma: no cover


def assign_new(certificates: list[Certificate], purpose: str = SUSPENSION) -> None:
    """Entries for certificates issued just now (none has one yet), with random unused
    indices: drawn together, the ones already taken (one query) drawn again, then
    inserted together in a SAVEPOINT; a clash with a parallel issue draws the whole set
    again, and after a few tries each goes through `assign` (the one-by-one draw)."""
    if not certificates:
        return
    for _ in range(4):
        drawn: set[int] = set()
        while len(drawn) < len(certificates):
            drawn.add(secrets.randbelow(STATUS_LIST_SIZE))
        taken = set(db.session.scalars(select(StatusListEntry.list_index).where(
            StatusListEntry.purpose == purpose, StatusListEntry.list_index.in_(drawn))))
        free = list(drawn - taken)
        while len(free) < len(certificates):
            index = secrets.randbelow(STATUS_LIST_SIZE)
            if index not in taken and index not in free:
                free.append(index)
        entries = [StatusListEntry(purpose=purpose, list_index=index, is_set=False,
                                   certificate_id=certificate.id)
                   for index, certificate in zip(free, certificates, strict=False)]
        try:
            with db.session.begin_nested():
                db.session.add_all(entries)
        except IntegrityError:
            continue
        return
    for certificate in certificates:  # pragma: no cover - four clashing sets in a row
        assign(certificate, purpose)


def set_status(credential: Certificate | StaffMicroCredential, suspended: bool) -> None:
    """Set (suspend) or clear (reinstate) the credential's bit, if it has an entry."""
    entry = entry_of(credential)
    if entry is not None and entry.is_set != suspended:
        entry.is_set = suspended
        entry.updated_at = utcnow()
        db.session.flush()


def status_entry(entry: StatusListEntry) -> dict[str, Any]:
    """The credential's `credentialStatus` (a BitstringStatusListEntry)."""
    url = list_url(entry.purpose)
    return {"id": f"{url}#{entry.list_index}", "type": "BitstringStatusListEntry",
            "statusPurpose": entry.purpose, "statusListIndex": str(entry.list_index),
            "statusListCredential": url}


def encode(indexes: list[int], size: int = STATUS_LIST_SIZE) -> str:
    """The spec's encodedList: multibase base64url (no padding, "u" prefix) of the GZIP
    of the bitstring, index 0 being the most significant bit of the first byte."""
    bits = bytearray(size // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def status_list_credential(purpose: str = SUSPENSION) -> dict[str, Any]:
    """The signed BitstringStatusListCredential of `purpose` (Data Integrity proof). Its
    validFrom and proof date are the last change of a bit, so the same list is the same
    document (Ed25519 signatures are deterministic) and caches well."""
    set_indexes = list(db.session.scalars(select(StatusListEntry.list_index).where(
        StatusListEntry.purpose == purpose, StatusListEntry.is_set.is_(True))))
    changed = db.session.scalar(select(func.max(StatusListEntry.updated_at)).where(
        StatusListEntry.purpose == purpose)) or _EPOCH
    url = list_url(purpose)
    credential = {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": urls.public_url("badges.issuer"),
        "validFrom": proofs.iso(changed),
        "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                              "statusPurpose": purpose,
                              "encodedList": encode(set_indexes)},
    }
    return proofs.add_data_integrity_proof(credential, changed)


def etag(document: dict[str, Any]) -> str:
    return hashlib.sha256(document["proof"][0]["proofValue"].encode("ascii")).hexdigest()[:32]
