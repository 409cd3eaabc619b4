"""People: organizations, users and their personal API tokens."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, not_blank, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    ORG_ADMIN = "org_admin"
    STAFF = "staff"

    @property
    def label(self) -> str:
        return {
            "admin": "Platform admin",
            "manager": "Implementation manager",
            "org_admin": "Organization admin",
            "staff": "Staff",
        }[self.value]


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (not_blank("name"), CheckConstraint("length(slug) > 0", name="slug_not_blank"))

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Seed 001's organization notification preferences.
    email_compliance_alerts: Mapped[bool] = mapped_column(default=True)
    email_system_alerts: Mapped[bool] = mapped_column(default=True)
    sms_credential_alerts: Mapped[bool] = mapped_column(default=False)
    sms_critical_alerts: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="organization")

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class User(UserMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_organization_id_role", "organization_id", "role"),
        Index("ix_users_name_id", "name", "id"),  # the lists' order: paging without a sort
        # An organization's people in the lists' order: the /org matrix pages without a sort.
        Index("ix_users_organization_id_name_id", "organization_id", "name", "id"),
        not_blank("name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=Role.STAFF,
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    active: Mapped[bool] = mapped_column(default=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    # Seed 001's personal notification preferences.
    email_compliance: Mapped[bool] = mapped_column(default=True)
    sms_critical: Mapped[bool] = mapped_column(default=False)
    # Training and certificate news (assignments, completions, certificates) by email.
    email_training: Mapped[bool] = mapped_column(default=True)
    # Part of the login cookie; rotating it on logout or a password change kills old cookies.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization | None] = relationship(back_populates="members")
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login: the cookie carries id and session token, so rotation logs it out.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def takes_part(self) -> bool:
        """Active, and not in a deactivated organization: someone certificates can be
        issued to, who can be enrolled or assigned credentials (SQL: users.taking_part)."""
        return self.active and (self.organization is None or self.organization.active)

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class ApiToken(Base):
    """A personal token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown to the owner to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # None only for tokens made before expiry existed (migration 0010 gives them one).
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_tokens")


class AccountTokenPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"


class AccountTokenStatus(enum.StrEnum):
    PENDING = "pending"
    USED = "used"
    REVOKED = "revoked"  # superseded by a newer link, or ended by a password change


class AccountToken(Base):
    """A single-use, time-limited emailed link (invitation or password reset); only the
    SHA-256 of its random secret is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=AccountTokenStatus.PENDING)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Failed logins for one account (keyed by the SHA-256 of the normalised email, so
    unknown emails are throttled the same way and nothing tells them apart), whatever
    address they come from."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Emails are unique regardless of case (the services also store them lower-cased).
Index("uq_users_email_lower", func.lower(User.email), unique=True)
# Organization names too: two "Acme Roofing" rows make pickers and the matrix ambiguous.
Index("uq_organizations_name_lower", func.lower(Organization.name), unique=True)
