"""Raising notifications, with the delivery channels each type maps to (seed 001's table).

Each type names a user email preference, a user SMS preference, an organization email
preference and an organization SMS preference; None means "always send" on that
channel. The in-app notification is always created; the plan of which other channels
apply is recorded on it for the delivery jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Notification, NotificationType, User


@dataclass(frozen=True)
class ChannelPrefs:
    user_email: str | None
    user_sms: str | None
    org_email: str | None
    org_sms: str | None


# Attribute names on User (user_*) and Organization (org_*). None: always send.
PREFERENCES: dict[NotificationType, ChannelPrefs] = {
    NotificationType.CREDENTIAL_EXPIRY: ChannelPrefs(
        "email_compliance", "sms_critical", "email_compliance_alerts", "sms_credential_alerts"),
    NotificationType.CREDENTIAL_STATUS_CHANGE: ChannelPrefs(
        None, "sms_critical", "email_system_alerts", "sms_critical_alerts"),
}


def delivery_plan(user: User, type_: NotificationType) -> dict[str, bool]:
    """Which channels the user's and their organization's preferences allow."""
    prefs = PREFERENCES.get(type_)
    if prefs is None:
        return {"email": False, "sms": False, "org_email": False, "org_sms": False}

    def allowed(owner: object | None, attribute: str | None) -> bool:
        if owner is None:
            return False
        return True if attribute is None else bool(getattr(owner, attribute))

    org = user.organization
    return {
        "email": allowed(user, prefs.user_email),
        "sms": allowed(user, prefs.user_sms) and bool(user.phone),
        "org_email": allowed(org, prefs.org_email),
        "org_sms": allowed(org, prefs.org_sms),
    }


def notify(user: User, type_: NotificationType, title: str, body: str = "",
           link: str | None = None, dedupe_key: str | None = None) -> Notification:
    """Create an in-app notification and record how it is to be delivered (flushes)."""
    notification = Notification(
        user_id=user.id, type=type_, title=title[:200], body=body, link=link,
        dedupe_key=dedupe_key, delivery=delivery_plan(user, type_),
    )
    db.session.add(notification)
    db.session.flush()
    return notification
