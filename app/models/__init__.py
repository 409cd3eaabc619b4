"""All models, imported so Alembic and the app see every table."""

from app.models.audit import AuditAction, AuditChainHead, AuditLog
from app.models.certificates import (
    LIVE_STATUSES,
    Certificate,
    CertificateCounter,
    CertificateExport,
    CertificateStatus,
    CertificateType,
    CertificateVerification,
    CourseSession,
    SessionAttendance,
    SigningKey,
)
from app.models.credentials import (
    CredentialStatus,
    MicroCredentialDefinition,
    StaffMicroCredential,
)
from app.models.notifications import Notification, NotificationType
from app.models.training import (
    CertificationTrack,
    ContentType,
    Course,
    CourseProgress,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    QuizAttempt,
    TrackAudience,
    TrackLevel,
    TrainingAssignment,
)
from app.models.users import ApiToken, Organization, Role, User

__all__ = [
    "LIVE_STATUSES",
    "Certificate",
    "CertificateCounter",
    "CertificateExport",
    "CertificateVerification",
    "CourseSession",
    "SessionAttendance",
    "SigningKey",
    "CertificateStatus",
    "CertificateType",
    "CertificationTrack",
    "ContentType",
    "Course",
    "CourseProgress",
    "Enrolment",
    "ImplementationProject",
    "ProgressStatus",
    "QuizAttempt",
    "TrackAudience",
    "TrackLevel",
    "TrainingAssignment",
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
