"""Passwords, logins, session rotation and personal API tokens."""

from __future__ import annotations

import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select

from app.config import ARGON2_STRONG
from app.extensions import db
from app.models import ApiToken, AuditAction, User
from app.models.base import utcnow
from app.models.users import new_session_token
from app.services import audit
from app.services.context import Actor
from app.services.errors import AuthenticationFailed, ValidationFailed


@functools.cache
def _hasher_with(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost,
                          parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """argon2id with the app's ARGON2_* cost (app/config.py): RFC 9106 "low memory"
    everywhere but APP_ENV=test; those strong defaults outside an app context."""
    cost = {**ARGON2_STRONG, **{key: int(current_app.config[key]) for key in ARGON2_STRONG
                                if has_app_context() and key in current_app.config}}
    return _hasher_with(cost["ARGON2_TIME_COST"], cost["ARGON2_MEMORY_COST"],
                        cost["ARGON2_PARALLELISM"])


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verified against when the email is unknown, so both paths cost the same time.
    return hasher.hash("credwright-timing-equaliser")


MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "cw_"


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_matches(user: User, password: str) -> bool:
    if not user.password_hash:
        _verify(_dummy_hash(_hasher()), password)
        return False
    return _verify(user.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def authenticate(email: str, password: str, actor: Actor) -> User:
    """Check the credentials and record the attempt in the audit trail.

    Raises AuthenticationFailed for an unknown email, a wrong password or an inactive
    account, with the same message for all three.
    """
    user = find_user_by_email(email)
    if user is None:
        _verify(_dummy_hash(_hasher()), password)
        audit.record(actor, AuditAction.LOGIN_FAILED, "user", None,
                     {"email": normalise_email(email)[:254], "reason": "unknown_email"})
        raise AuthenticationFailed("Invalid email or password.")
    if not password_matches(user, password) or not user.active:
        reason = "inactive" if user.active is False else "bad_password"
        audit.record(actor, AuditAction.LOGIN_FAILED, "user", user.id,
                     {"reason": reason}, actor_user=user)
        raise AuthenticationFailed("Invalid email or password.")
    if _hasher().check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    audit.record(Actor(user, actor.ip), AuditAction.LOGIN, "user", user.id)
    db.session.flush()
    return user


def load_session_user(cookie_id: str) -> User | None:
    """Resolve a login cookie's `id:session_token`; a rotated token resolves to nobody."""
    user_id, _, token = cookie_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    if not secrets.compare_digest(user.session_token, token):
        return None
    return user


def end_sessions(user: User) -> None:
    """Invalidate every login cookie issued to the user so far."""
    user.session_token = new_session_token()
    db.session.flush()


def logout(user: User, actor: Actor) -> None:
    end_sessions(user)
    audit.record(actor, AuditAction.LOGOUT, "user", user.id)


def set_password(user: User, new_password: str, actor: Actor) -> None:
    """Raises ValidationFailed when the password is too short."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "Password is too short.",
            fields={"password": [f"Use at least {MIN_PASSWORD_LENGTH} characters."]},
        )
    user.password_hash = hash_password(new_password)
    end_sessions(user)
    audit.record(actor, AuditAction.PASSWORD_CHANGE, "user", user.id)


def _token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def create_api_token(user: User, name: str, actor: Actor) -> tuple[ApiToken, str]:
    """Make a personal API token; the plaintext is returned once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name[:100] or "API token", token_hash=_token_digest(plaintext),
        prefix=plaintext[:10],
    )
    db.session.add(token)
    db.session.flush()
    audit.record(actor, AuditAction.TOKEN_CREATE, "api_token", token.id,
                 {"user_id": user.id, "name": token.name})
    return token, plaintext


def revoke_api_token(token: ApiToken, actor: Actor) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor, AuditAction.TOKEN_REVOKE, "api_token", token.id)
        db.session.flush()


def user_for_api_token(plaintext: str) -> User | None:
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(plaintext))
    )
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token.user
