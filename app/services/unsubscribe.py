"""One-click unsubscribe from an email (RFC 8058), and the settings that govern it.

Every email a preference governs carries a link to switch off exactly that preference,
signed (itsdangerous, with the app's SECRET_KEY and its own salt) and expiring after
UNSUBSCRIBE_LINK_DAYS, so it works without a login session (a mail client POSTs it):

- a notification about the recipient (Audience.SELF): the recipient's own preference
  (e.g. `email_training`), changed on /me/preferences;
- a notification to an org admin about their staff (Audience.ORG): the organization's
  preference (e.g. `email_compliance_alerts`), changed on /org/preferences, and only
  while the recipient is still an active org admin of that organization.

Emails no preference governs (ALWAYS: revocations of one's own certificate, account
links) have no unsubscribe link; their footer still leads to the settings page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from app.extensions import db
from app.models import Audience, Notification, Organization, Role, User
from app.services import notifications
from app.services.context import Actor
from app.services.errors import NotFound

SALT = "credwright.unsubscribe.v1"
GONE = ("This unsubscribe link is not valid or has expired. You can change which "
        "emails you get in your notification settings.")


@dataclass(frozen=True)
class Subscription:
    """What one unsubscribe link switches off."""

    user: User
    audience: Audience
    preference: str
    organization: Organization | None  # the ORG audience's organization

    @property
    def label(self) -> str:
        labels = (notifications.ORG_PREFERENCES if self.audience == Audience.ORG
                  else notifications.USER_PREFERENCES)
        return labels[self.preference]

    @property
    def is_on(self) -> bool:
        owner = self.organization if self.audience == Audience.ORG else self.user
        return bool(getattr(owner, self.preference))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _max_age() -> int:
    return int(current_app.config.get("UNSUBSCRIBE_LINK_DAYS", 60)) * 86400


def audience_of(notification: Notification) -> Audience:
    return Audience((notification.delivery or {}).get("audience") or Audience.SELF)


def governing_preference(notification: Notification) -> str | None:
    """The email preference that decided this notification's email, if one did."""
    prefs = notifications.PREFERENCES[notification.type]
    pref = prefs.org_email if audience_of(notification) == Audience.ORG else prefs.user_email
    if pref is notifications.ALWAYS or pref is notifications.NEVER:
        return None
    return str(pref)


def settings_endpoint(audience: Audience) -> str:
    """The page whose settings govern an email to this audience."""
    return "org.preferences" if audience == Audience.ORG else "notifications.preferences"


def token_for(notification: Notification) -> str | None:
    """The signed unsubscribe token of a notification's email (None: nothing to switch
    off)."""
    preference = governing_preference(notification)
    if preference is None:
        return None
    claims: dict[str, Any] = {"u": notification.user_id, "p": preference,
                              "a": str(audience_of(notification))}
    if claims["a"] == Audience.ORG:
        claims["o"] = notification.user.organization_id
    return _serializer().dumps(claims)


def read(token: str) -> Subscription:
    """The subscription a token names; NotFound when it is forged, expired or no longer
    applies (the person left, or is no longer an admin of that organization)."""
    try:
        claims = _serializer().loads(token, max_age=_max_age())
    except BadData:
        raise NotFound(GONE) from None
    if not isinstance(claims, dict):
        raise NotFound(GONE)
    user = db.session.get(User, claims.get("u")) if isinstance(claims.get("u"), int) else None
    audience, preference = claims.get("a"), claims.get("p")
    if user is None or not user.active:
        raise NotFound(GONE)
    if audience == Audience.ORG:
        organization = (db.session.get(Organization, claims.get("o"))
                        if isinstance(claims.get("o"), int) else None)
        if (organization is None or preference not in notifications.ORG_PREFERENCES
                or user.role != Role.ORG_ADMIN or user.organization_id != organization.id):
            raise NotFound(GONE)
        return Subscription(user, Audience.ORG, preference, organization)
    if audience != Audience.SELF or preference not in notifications.USER_PREFERENCES:
        raise NotFound(GONE)
    return Subscription(user, Audience.SELF, preference, None)


def switch_off(subscription: Subscription, ip: str | None = None) -> bool:
    """Turn that one preference off (audited, as the person it was sent to); False when
    it was off already (flushes)."""
    if not subscription.is_on:
        return False
    actor = Actor(user=subscription.user, ip=ip)
    if subscription.audience == Audience.ORG:
        assert subscription.organization is not None
        notifications.update_org_preferences(subscription.organization,
                                             {subscription.preference: False}, actor)
    else:
        notifications.update_user_preferences(subscription.user,
                                              {subscription.preference: False}, actor)
    return True
