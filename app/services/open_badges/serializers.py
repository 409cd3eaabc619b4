"""What the public badge routes and the holder's downloads answer: a key's document, a
download's file name, the baked badge."""

from __future__ import annotations

import re
from typing import Any

from app.models import Certificate, SigningKey, StaffMicroCredential
from app.services import signing
from app.services.open_badges import baking, credentials


def key_document(key: SigningKey) -> dict[str, Any]:
    """An RSA key's JWK (the VC-JWT's kid), or an Ed25519 key's Multikey document (the
    Data Integrity proof's verificationMethod)."""
    if key.alg == signing.RSA_ALGORITHM:
        return signing.public_jwk(key)
    return credentials.multikey_document(key)


def filename(owner: Certificate | StaffMicroCredential, extension: str) -> str:
    if isinstance(owner, Certificate):
        stem = owner.number or "certificate"
    else:
        stem = f"{owner.definition.title}-{owner.id}"
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", stem).strip("-")[:80] or "credential"
    return f"{stem}-open-badge.{extension}"


def title_of(owner: Certificate | StaffMicroCredential) -> tuple[str, str]:
    if isinstance(owner, Certificate):
        snap = owner.snapshot or {}
        return snap.get("subject", "") or "Certificate", owner.number or ""
    return owner.definition.title, f"NZQCF level {owner.definition.level}"


def baked_png(owner: Certificate | StaffMicroCredential) -> bytes:
    """The badge image with the credential's VC-JWT baked in."""
    title, caption = title_of(owner)
    return baking.bake(baking.badge_png(title, caption), credentials.signed_jwt(owner))


def baked_svg(owner: Certificate | StaffMicroCredential) -> str:
    """The badge as SVG with the credential's VC-JWT baked in."""
    title, caption = title_of(owner)
    return baking.bake_svg(baking.badge_svg(title, caption), credentials.signed_jwt(owner))
