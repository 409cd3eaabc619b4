"""Open Badges 3.0 credentials for certificates and awarded micro-credentials: building
(credentials), proofs (VC-JWT RS256 and Data Integrity eddsa-rdfc-2022), the Bitstring
Status List (status), baked PNG badges (baking), and the public documents a verifier
walks to (serializers). See the README's "Verifying a credential"."""

from app.services.open_badges import baking, proofs, serializers, status
from app.services.open_badges.credentials import (
    NotPortable,
    certificate_credential,
    issuer_document,
    micro_credential_credential,
    multikey_document,
    signed_json,
    signed_jwt,
)

__all__ = [
    "NotPortable",
    "baking",
    "certificate_credential",
    "issuer_document",
    "micro_credential_credential",
    "multikey_document",
    "proofs",
    "serializers",
    "signed_json",
    "signed_jwt",
    "status",
]
