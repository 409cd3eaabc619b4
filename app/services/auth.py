"""Passwords, logins, session rotation and personal API tokens."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context
from sqlalchemy import func, select, update

from app.config import ARGON2_STRONG
from app.extensions import db
from app.models import (
    AccountToken,
    AccountTokenStatus,
    ApiToken,
    AuditAction,
    LoginThrottle,
    Notification,
    NotificationType,
    User,
)
from app.models.base import utcnow
from app.models.users import new_session_token
from app.services import audit, fields
from app.services.context import Actor
from app.services.errors import AuthenticationFailed, NotFound, ValidationFailed


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


MIN_PASSWORD_LENGTH = 12  # NIST SP 800-63B: at least 8, and 12+ is recommended
MAX_PASSWORD_LENGTH = 256  # long passphrases welcome; argon2 hashes any length
TOKEN_PREFIX = "cw_"
# Personal API tokens: the expiry offered by default and the longest allowed.
TOKEN_DEFAULT_DAYS = 90
TOKEN_MAX_DAYS = 365


# --- password policy (NIST SP 800-63B 5.1.1.2): length, no composition rules, refuse
# passwords known from breaches and those made of the account's own email or name ------

@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public breach lists (zxcvbn's ranked list,
    pinned in pyproject.toml), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm")


def _is_sequence_or_repeat(password: str) -> bool:
    lowered = password.lower()
    if len(set(lowered)) <= 3:  # "aaaaaaaaaaaa", "abcabcabcabc", "121212121212"
        return True
    for run in _SEQUENCES:
        doubled = run + run
        if lowered in doubled or lowered in doubled[::-1]:
            return True
    return False


def _personal_parts(email: str | None, name: str | None) -> set[str]:
    """The email (whole and its local part's pieces) and the name's words, 3+ letters."""
    parts: set[str] = set()
    if email:
        email = email.strip().lower()
        local = email.partition("@")[0]
        parts.update({email, local, *re.split(r"[^\w]+|_", local)})
    if name:
        words = re.split(r"[^\w]+|_", name.strip().lower())
        parts.update(words)
        parts.add("".join(words))
    parts.add("credwright")  # the service's own name (a context-specific word)
    return {part for part in parts if len(part) >= 3}


def password_problems(password: str, *, email: str | None = None,
                      name: str | None = None) -> list[str]:
    """Why `password` is refused (empty when it is acceptable)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"Use at least {MIN_PASSWORD_LENGTH} characters."]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"Use at most {MAX_PASSWORD_LENGTH} characters."]
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return ["Use letters, digits, spaces and punctuation only."]
    lowered = password.lower()
    bare = re.sub(r"[\W_\d]+$", "", re.sub(r"^[\W_\d]+", "", lowered))
    compact = re.sub(r"[\W_]+", "", lowered)
    if (lowered in _common_passwords() or bare in _common_passwords()
            or compact in _common_passwords()):
        return ["This password is too common: it appears in lists of breached passwords."]
    if _is_sequence_or_repeat(password):
        return ["Avoid repeated or sequential characters."]
    if any(part in lowered or part in compact for part in _personal_parts(email, name)):
        return ["Do not use your email address or name in your password."]
    return []


def check_password(password: str, *, email: str | None = None, name: str | None = None,
                   field: str = "password") -> None:
    """Raises ValidationFailed (on `field`) when the password breaks the policy. Every
    place that sets a password calls it: invitation, reset, change, admin, CLI, seed."""
    problems = password_problems(password or "", email=email, name=name)
    if problems:
        raise ValidationFailed("Choose another password.", fields={field: problems})


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def new_password_hash(password: str, *, email: str | None, name: str | None) -> str:
    """The hash of a new password that passes the policy (raises ValidationFailed)."""
    check_password(password, email=email, name=name)
    return hash_password(password)


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


class LoginThrottled(AuthenticationFailed):
    """Too many failed logins for this account lately: try again after `retry_after`."""

    status = 429
    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed attempts for this account. Try again in "
                         f"{retry_after} second{'s' if retry_after != 1 else ''}.")
        self.retry_after = retry_after


def _throttle_key(email: str) -> str:
    return hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()


def _config(key: str, default: int) -> int:
    return int(current_app.config.get(key, default)) if has_app_context() else default


def _held_throttle(email: str) -> LoginThrottle:
    """The account's throttle row, created if need be and locked (SELECT ... FOR UPDATE
    on PostgreSQL) so that parallel guesses at one account count one after another."""
    key = _throttle_key(email)
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(LoginThrottle).values(key=key, failures=0, updated_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["key"]))
    return db.session.scalars(select(LoginThrottle).where(LoginThrottle.key == key)
                              .with_for_update().execution_options(populate_existing=True)
                              ).one()


def _backoff_seconds(failures: int) -> int:
    """After LOGIN_FREE_FAILURES failures, each further failure doubles the wait: 2, 4,
    8, ... seconds, up to LOGIN_MAX_BACKOFF_SECONDS."""
    free = _config("LOGIN_FREE_FAILURES", 5)
    if failures < free:
        return 0
    return min(2 ** (failures - free + 1), _config("LOGIN_MAX_BACKOFF_SECONDS", 900))


def _count_failure(throttle: LoginThrottle) -> None:
    now = utcnow()
    # Failures are forgotten after a quiet spell: one guess every quarter of an hour must
    # not keep an account locked for good.
    quiet = timedelta(seconds=_config("LOGIN_FAILURES_FORGOTTEN_SECONDS", 3600))
    if throttle.updated_at is not None and now - throttle.updated_at > quiet:
        throttle.failures = 0
    throttle.failures += 1
    wait = _backoff_seconds(throttle.failures)
    throttle.blocked_until = now + timedelta(seconds=wait) if wait else None
    throttle.updated_at = now
    db.session.flush()


ORGANIZATION_INACTIVE = ("Your organization's access to Credwright is deactivated, so you "
                         "cannot log in. Ask your Credwright administrator.")


def login_allowed(user: User) -> bool:
    """Active, and not a member of a deactivated organization."""
    return bool(user.active) and (user.organization is None or user.organization.active)


def authenticate(email: str, password: str, actor: Actor) -> User:
    """Check the credentials and record the attempt in the audit trail.

    Raises AuthenticationFailed for an unknown email, a wrong password or an inactive
    account, with the same message for all of them (the right password of a member of a
    deactivated organization is told so, and whom to ask), and
    LoginThrottled (429) while the account is backing off after repeated failures,
    whichever address the attempts come from (unknown emails back off the same way).
    """
    email = email.strip()
    throttle = _held_throttle(email)
    now = utcnow()
    user = find_user_by_email(email)
    if throttle.blocked_until is not None and throttle.blocked_until > now:
        wait = max(1, int((throttle.blocked_until - now).total_seconds() + 0.999))
        audit.record(actor, AuditAction.LOGIN_FAILED, "user", user.id if user else None,
                     {"reason": "throttled", **({} if user else
                                                {"email": normalise_email(email)[:254]})},
                     actor_user=user)
        raise LoginThrottled(wait)
    if user is None:
        _verify(_dummy_hash(_hasher()), password)
        _count_failure(throttle)
        audit.record(actor, AuditAction.LOGIN_FAILED, "user", None,
                     {"email": normalise_email(email)[:254], "reason": "unknown_email"})
        raise AuthenticationFailed("Invalid email or password.")
    matches = password_matches(user, password)
    if not matches or not login_allowed(user):
        reason = ("bad_password" if not matches
                  else "inactive" if not user.active else "organization_inactive")
        _count_failure(throttle)
        audit.record(actor, AuditAction.LOGIN_FAILED, "user", user.id,
                     {"reason": reason}, actor_user=user)
        if reason == "organization_inactive":
            # Said only to someone who knows the password: the person learns why, and
            # whom to ask, instead of resetting a password that is not the problem.
            raise AuthenticationFailed(ORGANIZATION_INACTIVE)
        raise AuthenticationFailed("Invalid email or password.")
    if _hasher().check_needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    db.session.delete(throttle)
    user.last_login_at = utcnow()
    audit.record(Actor(user, actor.ip), AuditAction.LOGIN, "user", user.id)
    db.session.flush()
    return user


def load_session_user(cookie_id: str) -> User | None:
    """Resolve a login cookie's `id:session_token`; a rotated token resolves to nobody."""
    user_id, _, token = cookie_id.partition(":")
    if not fields.DIGITS.fullmatch(user_id) or int(user_id) > fields.MAX_ID or not token:
        return None  # ASCII digits within the id range ("²".isdigit() is true)
    user = db.session.get(User, int(user_id))
    if user is None or not login_allowed(user):
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


def revoke_api_tokens(user: User, actor: Actor, *, reason: str) -> int:
    """Revoke every live API token of the user; returns how many."""
    now = utcnow()
    ids = list(db.session.scalars(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now).returning(ApiToken.id)
        .execution_options(synchronize_session=False)))
    for token_id in ids:
        audit.record(actor, AuditAction.TOKEN_REVOKE, "api_token", token_id, {"reason": reason})
    return len(ids)


ACCOUNT_LINK_PATH = "/account/set-password/"  # + the secret: the emailed link's path


def revoke_account_links(user: User) -> None:
    """End every unused invitation or reset link of the user, and take the secrets out
    of the notifications that carried them (an email is written from its notification
    when it is sent, so a pending link's secret is in its row until the link ends)."""
    db.session.execute(
        update(AccountToken).where(AccountToken.user_id == user.id,
                                   AccountToken.status == AccountTokenStatus.PENDING)
        .values(status=AccountTokenStatus.REVOKED)
        .execution_options(synchronize_session=False))
    db.session.execute(
        update(Notification).where(
            Notification.user_id == user.id,
            Notification.type.in_([NotificationType.ACCOUNT_INVITATION,
                                   NotificationType.PASSWORD_RESET]),
            Notification.link.startswith(ACCOUNT_LINK_PATH, autoescape=True))
        .values(link=None).execution_options(synchronize_session=False))


def set_password(user: User, new_password: str, actor: Actor, *,
                 action: AuditAction = AuditAction.PASSWORD_CHANGE) -> None:
    """Set a new password after the policy (check_password) accepts it, then end every
    session of the user and revoke their API tokens (the caller logs the current session
    in again when the person changed their own password). Raises ValidationFailed."""
    user.password_hash = new_password_hash(new_password, email=user.email, name=user.name)
    end_sessions(user)
    revoked = revoke_api_tokens(user, actor, reason="password_change")
    revoke_account_links(user)
    db.session.execute(update(LoginThrottle).where(
        LoginThrottle.key == _throttle_key(user.email)).values(failures=0, blocked_until=None))
    audit.record(actor, action, "user", user.id, {"api_tokens_revoked": revoked})


def change_password(user: User, current_password: str, new_password: str,
                    actor: Actor) -> None:
    """The person's own change: the current password first (ValidationFailed on
    current_password when it is wrong), then set_password."""
    if not password_matches(user, current_password):
        raise ValidationFailed("That is not your current password.", fields={
            "current_password": ["That is not your current password."]})
    set_password(user, new_password, actor)


def _token_digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def token_expiry(days: int | None) -> datetime:
    """Now plus `days` (default TOKEN_DEFAULT_DAYS); ValidationFailed outside 1..365."""
    days = TOKEN_DEFAULT_DAYS if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TOKEN_MAX_DAYS:
        raise ValidationFailed("Choose an expiry.", fields={
            "expires_in_days": [f"Choose between 1 and {TOKEN_MAX_DAYS} days."]})
    return utcnow() + timedelta(days=days)


TOKEN_NAME = fields.rule(fields.text, max_len=100)


def create_api_token(user: User, name: str, actor: Actor,
                     expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Make a personal API token; the plaintext is returned once and never stored.
    Raises ValidationFailed (name, expiry)."""
    checked = fields.Fields()
    name = checked.check(TOKEN_NAME, (name or "").strip() or "API token", "name")
    checked.done()
    expires_at = token_expiry(expires_in_days)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, token_hash=_token_digest(plaintext),
        prefix=plaintext[:10], expires_at=expires_at,
    )
    db.session.add(token)
    db.session.flush()
    audit.record(actor, AuditAction.TOKEN_CREATE, "api_token", token.id,
                 {"user_id": user.id, "name": token.name,
                  "expires_at": expires_at.isoformat()})
    return token, plaintext


def own_api_token(user: User, token_id: int) -> ApiToken:
    """One of the user's tokens. Raises NotFound for anyone else's."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("Token not found.")
    return token


def api_tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.id.desc())))


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def revoke_api_token(token: ApiToken, actor: Actor) -> bool:
    """Revoke the token (again is a no-op); True when this call revoked it."""
    revoked = db.session.scalar(
        update(ApiToken).where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).returning(ApiToken.id)
        .execution_options(synchronize_session=False))
    db.session.refresh(token)
    if revoked is None:
        return False
    audit.record(actor, AuditAction.TOKEN_REVOKE, "api_token", token.id,
                 {"user_id": token.user_id})
    return True


def find_api_token(reference: str) -> ApiToken | None:
    """A token by its id, its shown prefix (cw_xxxxxxx) or its whole plaintext."""
    reference = reference.strip()
    if fields.DIGITS.fullmatch(reference):
        # An id: beyond MAX_ID (INTEGER on PostgreSQL) it names no token.
        return db.session.get(ApiToken, int(reference)) if int(reference) <= fields.MAX_ID \
            else None
    if reference.startswith(TOKEN_PREFIX) and len(reference) > 10:
        return db.session.scalar(select(ApiToken).where(
            ApiToken.token_hash == _token_digest(reference)))
    matches = list(db.session.scalars(select(ApiToken).where(ApiToken.prefix == reference)
                                      .limit(2)))
    return matches[0] if len(matches) == 1 else None


LAST_USED_EVERY = timedelta(seconds=60)  # how stale last_used_at may get


@dataclass(frozen=True)
class TokenUse:
    user: User
    token_id: int
    touch: bool  # last_used_at is older than LAST_USED_EVERY: record this use


def use_api_token(plaintext: str) -> TokenUse | None:
    """The live token's user (active, organization active), or None for an unknown,
    revoked or expired token. Reads only: the caller records the use (touch_api_token)
    after its own transaction, so a GET through the API still writes nothing."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(plaintext))
    )
    now = utcnow()
    if token is None or token_state(token, now) != "active" or not login_allowed(token.user):
        return None
    touch = token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY
    return TokenUse(token.user, token.id, touch)


def user_for_api_token(plaintext: str) -> User | None:
    use = use_api_token(plaintext)
    return use.user if use else None


def touch_api_token(token_id: int) -> None:
    """Record a token's use in a transaction of its own (never the request's)."""
    with db.engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.id == token_id)
                           .values(last_used_at=utcnow()))
