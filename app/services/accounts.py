"""Emailed account links: invitations and password resets.

One mechanism for both: a random secret (32 bytes) goes out in the link, only its
SHA-256 is stored (AccountToken), with an expiry (INVITATION_TTL_HOURS, 7 days;
PASSWORD_RESET_TTL_MINUTES, 1 hour) and a status. Redeeming moves the row from pending
to used with one conditional UPDATE (transitions.transition), so of two uses at once
exactly one sets the password. A newer link, a password change or a reset ends the
earlier pending links of the person.

A reset request answers the same for any email and does the same work in the request:
it only queues the job `send_password_reset`, which looks the email up and sends the
link when there is an active account (no account enumeration by message or timing).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import (
    AccountToken,
    AccountTokenPurpose,
    AccountTokenStatus,
    AuditAction,
    NotificationType,
    User,
)
from app.models.base import utcnow
from app.services import audit, auth
from app.services.context import Actor
from app.services.enqueue import enqueue_after_commit
from app.services.errors import Conflict, NotFound
from app.services.notifications import notify
from app.services.transitions import transition

RESET_JOB = "app.jobs.accounts.send_password_reset"
WELCOME_JOB = "app.jobs.welcome.send_welcome_notification"
LINK_PATH = auth.ACCOUNT_LINK_PATH
LINK_GONE = "This link has expired or has already been used."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _lifetime(purpose: AccountTokenPurpose) -> timedelta:
    config = current_app.config
    if purpose == AccountTokenPurpose.INVITATION:
        return timedelta(hours=int(config.get("INVITATION_TTL_HOURS", 168)))
    return timedelta(minutes=int(config.get("PASSWORD_RESET_TTL_MINUTES", 60)))


def _new_link(user: User, purpose: AccountTokenPurpose) -> tuple[AccountToken, str]:
    """A fresh link for `user`; their earlier pending links of any purpose end."""
    auth.revoke_account_links(user)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    token = AccountToken(user_id=user.id, purpose=purpose, status=AccountTokenStatus.PENDING,
                         token_hash=_digest(secret), created_at=now,
                         expires_at=now + _lifetime(purpose))
    db.session.add(token)
    db.session.flush()
    return token, secret


def _hours(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{int(delta.total_seconds() // 60)} minutes"


def invite(user: User, actor: Actor) -> AccountToken:
    """Email `user` a link to set their first password (a new link ends the earlier one).

    Raises Conflict when they have set a password already (they can reset it) or cannot
    log in (inactive, or their organization is)."""
    if user.password_hash:
        raise Conflict(f"{user.name} has set a password already; they can use "
                       "Forgot password.")
    if not auth.login_allowed(user):
        raise Conflict(f"{user.name} cannot log in (inactive, or their organization is).")
    token, secret = _new_link(user, AccountTokenPurpose.INVITATION)
    notify(user, NotificationType.ACCOUNT_INVITATION, "You are invited to Credwright",
           "An administrator has made you an account on Credwright. "
           f"Follow the link to choose your password. It works once, within "
           f"{_hours(token.expires_at - token.created_at)}.",
           link=LINK_PATH + secret)
    audit.record(actor, AuditAction.INVITATION_SEND, "user", user.id,
                 {"expires_at": token.expires_at.isoformat()})
    return token


def _recent_reset(user: User) -> bool:
    since = utcnow() - timedelta(
        seconds=int(current_app.config.get("PASSWORD_RESET_RESEND_SECONDS", 300)))
    return db.session.scalar(select(AccountToken.id).where(
        AccountToken.user_id == user.id,
        AccountToken.purpose == AccountTokenPurpose.PASSWORD_RESET,
        AccountToken.status == AccountTokenStatus.PENDING,
        AccountToken.created_at > since).limit(1)) is not None


def request_reset(email: str, actor: Actor) -> None:
    """Queue the reset email for whoever owns `email`, if anyone (the same for all)."""
    enqueue_after_commit(RESET_JOB, (email or "")[:254], actor.ip)


def send_reset(email: str, ip: str | None = None) -> AccountToken | None:
    """The job's work: a reset link for the active account with this email, if any."""
    user = auth.find_user_by_email(email) if email else None
    if user is None or not auth.login_allowed(user):
        return None
    if _recent_reset(user):
        # Asked again within minutes: the link just sent stands (no inbox flood, and a
        # stranger cannot keep cancelling the owner's pending link).
        return None
    token, secret = _new_link(user, AccountTokenPurpose.PASSWORD_RESET)
    notify(user, NotificationType.PASSWORD_RESET, "Reset your Credwright password",
           "Someone (hopefully you) asked to reset your password. "
           f"Follow the link to choose a new one; it works once, within "
           f"{_hours(token.expires_at - token.created_at)}. If it was not you, ignore "
           "this email: your password stays as it is.",
           link=LINK_PATH + secret)
    audit.record(Actor(None, ip), AuditAction.PASSWORD_RESET_REQUEST, "user", user.id,
                 {"expires_at": token.expires_at.isoformat()})
    return token


def live_link(secret: str) -> AccountToken | None:
    """The pending, unexpired link for this secret (reads only)."""
    if not secret or len(secret) > 100:
        return None
    token = db.session.scalar(select(AccountToken).where(
        AccountToken.token_hash == _digest(secret)))
    if (token is None or token.status != AccountTokenStatus.PENDING
            or token.expires_at <= utcnow() or not auth.login_allowed(token.user)):
        return None
    return token


def redeem(secret: str, password: str, actor: Actor) -> User:
    """Set the link owner's password through the link, once.

    Raises NotFound (unknown, used, expired or revoked link), ValidationFailed (the
    password policy; the link stays usable) or Conflict (used at the same moment)."""
    token = live_link(secret)
    if token is None:
        raise NotFound(LINK_GONE)
    user = token.user
    auth.check_password(password, email=user.email, name=user.name)
    now = utcnow()
    transition(token, to=AccountTokenStatus.USED, expected=AccountTokenStatus.PENDING,
               values={"used_at": now}, where=[AccountToken.expires_at > now],
               refused=lambda _row: LINK_GONE)
    invitation = token.purpose == AccountTokenPurpose.INVITATION
    auth.set_password(user, password, Actor(user, actor.ip),
                      action=AuditAction.PASSWORD_CHANGE if invitation
                      else AuditAction.PASSWORD_RESET)
    if invitation:  # their account is ready: the welcome notification (once per user)
        enqueue_after_commit(WELCOME_JOB, user.id)
    return user


def pending_invitation(user: User) -> AccountToken | None:
    return db.session.scalar(select(AccountToken).where(
        AccountToken.user_id == user.id, AccountToken.status == AccountTokenStatus.PENDING,
        AccountToken.purpose == AccountTokenPurpose.INVITATION)
        .order_by(AccountToken.id.desc()).limit(1))

