"""All models, imported so Alembic and the app see every table."""

from app.models.audit import AuditAction, AuditChainHead, AuditLog
from app.models.credentials import (
    CredentialStatus,
    MicroCredentialDefinition,
    StaffMicroCredential,
)
from app.models.notifications import Notification, NotificationType
from app.models.users import ApiToken, Organization, Role, User

__all__ = [
    "ApiToken",
    "AuditAction",
    "AuditChainHead",
    "AuditLog",
    "CredentialStatus",
    "MicroCredentialDefinition",
    "Notification",
    "NotificationType",
    "Organization",
    "Role",
    "StaffMicroCredential",
    "User",
]
