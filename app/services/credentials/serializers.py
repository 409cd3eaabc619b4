"""The credentials domain's JSON: seed 001's definition shape (camelCase, a Prisma-style
`_count`, optional counts by status), and a staff credential's."""

from __future__ import annotations

from typing import Any

from app.models import (
    MicroCredentialDefinition,
    StaffMicroCredential,
)


def definition_to_api(definition: MicroCredentialDefinition, count: int,
                      counts_by_status: dict[str, int] | None = None) -> dict[str, Any]:
    """Seed 001's JSON shape (camelCase, Prisma-style `_count`)."""
    data = {
        "id": definition.id,
        "title": definition.title,
        "level": definition.level,
        "skillStandard": definition.skill_standard,
        "issuingBody": definition.issuing_body,
        "requirements": definition.requirements,
        "isDefault": definition.is_default,
        "validityMonths": definition.validity_months,
        "createdAt": definition.created_at.isoformat(),
        "updatedAt": definition.updated_at.isoformat(),
        "_count": {"staffCredentials": count},
    }
    if counts_by_status is not None:
        data["statusCounts"] = counts_by_status
    return data


def credential_to_api(credential: StaffMicroCredential) -> dict[str, Any]:
    """A staff credential in the same camelCase."""
    return {
        "id": credential.id,
        "definitionId": credential.definition_id,
        "userId": credential.user_id,
        "status": credential.status.value,
        "awardedAt": credential.awarded_at.isoformat() if credential.awarded_at else None,
        "awardedById": credential.awarded_by_id,
        "expiryDate": credential.expiry_date.isoformat() if credential.expiry_date else None,
        "notes": credential.notes,
    }
