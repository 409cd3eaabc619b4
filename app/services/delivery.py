"""Sending notifications by email (SMTP) and SMS (an HTTP gateway).

With no MAIL_SERVER / SMS_GATEWAY_URL configured the message is written to the log and
the delivery recorded as LOGGED, so a laptop install works without either.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import urllib.error
import urllib.request
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Audience,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationDelivery,
)
from app.models.base import utcnow
from app.services import notifications, unsubscribe, urls
from app.services.urls import public_link

log = logging.getLogger(__name__)
LOGGED = DeliveryStatus.LOGGED
SMS_MAX_CHARS = 320  # two SMS segments


class DeliveryError(Exception):
    """A transport refused or failed to take a message."""


def absolute(link: str | None) -> str:
    """The notification's link on PUBLIC_BASE_URL (urls.public_link)."""
    return public_link(link)


# CR and LF would start a new header (an injection); other control characters, NEL and
# the Unicode line/paragraph separators have no place in a header either.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def header_text(value: Any) -> str:
    """A header value on one line: every line break or control character becomes a
    space (runs of spaces collapse), so no text of ours can add a header."""
    return " ".join(_NOT_IN_HEADERS.sub(" ", "" if value is None else str(value)).split())


def site_domain() -> str:
    """The host of PUBLIC_BASE_URL: the right-hand side of our Message-IDs."""
    return urlsplit(urls.public_base()).hostname or "localhost"


def _settings_url(audience: Audience) -> str:
    endpoint = unsubscribe.settings_endpoint(audience)
    if endpoint in current_app.view_functions:
        return urls.public_url(endpoint)
    return absolute("/org/preferences" if audience == Audience.ORG else "/me/preferences")


def email_message(notification: Notification, to: str,
                  delivery_id: int | None = None) -> EmailMessage:
    """The email for a notification: plain text and HTML, with a link back, and the
    headers of an automated message (RFC 5322 Date, a Message-ID on the site's domain,
    RFC 3834 Auto-Submitted) and, when a preference governs it, RFC 2369/8058
    List-Unsubscribe with one-click. Raises DeliveryError for an address that cannot be
    a header."""
    if not to or _NOT_IN_HEADERS.search(to) or header_text(to) != to:
        raise DeliveryError(f"refused to send to an address with control characters: {to!r}")
    audience = unsubscribe.audience_of(notification)
    token = unsubscribe.token_for(notification)
    unsubscribe_url = (urls.public_url("notifications.unsubscribe", token=token)
                       if token else None)
    context = {"notification": notification, "user": notification.user,
               "link": absolute(notification.link),
               "preferences": _settings_url(audience),
               "org_settings": audience == Audience.ORG,
               "unsubscribe": unsubscribe_url,
               "unsubscribe_label": (notifications.ORG_PREFERENCES if audience == Audience.ORG
                                     else notifications.USER_PREFERENCES).get(
                                         unsubscribe.governing_preference(notification) or ""),
               "issuer": current_app.config["ISSUER_NAME"]}
    message = EmailMessage()
    message["Subject"] = header_text(notification.title)
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Date"] = format_datetime(utcnow().replace(microsecond=0))  # "... +0000"
    message["Message-ID"] = make_msgid(
        idstring=f"delivery-{delivery_id}" if delivery_id else f"notification-{notification.id}",
        domain=site_domain())
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(render_template("email/notification.txt", **context))
    message.add_alternative(render_template("email/notification.html", **context),
                            subtype="html")
    return message


def sms_text(notification: Notification) -> str:
    text = f"{notification.title} {absolute(notification.link)}"
    return text if len(text) <= SMS_MAX_CHARS else text[:SMS_MAX_CHARS - 1] + "…"


def send_email(message: EmailMessage) -> str:
    """Hand the message to the SMTP server (or the log). Raises DeliveryError."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        # One line per email at INFO (a laptop's console stays readable); the body at DEBUG.
        log.info("email (no MAIL_SERVER) to %s: %s", message["To"], message["Subject"])
        log.debug("email body:\n%s",
                  message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        return LOGGED
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    try:
        with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"],
                        timeout=config["MAIL_TIMEOUT"]) as smtp:
            if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {config['MAIL_SERVER']}:{config['MAIL_PORT']}: {exc}") from exc
    return DeliveryStatus.SENT


def send_sms(to: str, text: str) -> str:
    """POST the SMS to the gateway (or the log). Raises DeliveryError."""
    config = current_app.config
    if not config["SMS_GATEWAY_URL"]:
        log.info("SMS (no SMS_GATEWAY_URL) to %s: %s", to, text)
        return LOGGED
    url = config["SMS_GATEWAY_URL"]
    if not url.startswith(("http://", "https://")):  # never file:// or other schemes
        raise DeliveryError("SMS_GATEWAY_URL must be an http(s) URL")
    headers = {"Content-Type": "application/json"}
    if config["SMS_GATEWAY_TOKEN"]:
        headers["Authorization"] = f"Bearer {config['SMS_GATEWAY_TOKEN']}"
    body = json.dumps({"to": to, "from": config["SMS_SENDER"], "message": text}).encode()
    request = urllib.request.Request(url, data=body, headers=headers,  # noqa: S310 (checked)
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=config["SMS_TIMEOUT"]) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"SMS gateway answered {exc.code}") from exc
    except OSError as exc:
        raise DeliveryError(f"SMS gateway: {exc}") from exc
    return DeliveryStatus.SENT


def send(delivery_id: int) -> str:
    """Send one delivery unless it has gone already; record the outcome (flushes).

    Returns "sent", "logged", "failed" or "skipped" (already sent, or gone). The row is
    locked while sending, so a job that runs twice at once sends it once."""
    delivery = db.session.scalar(select(NotificationDelivery)
                                 .where(NotificationDelivery.id == delivery_id)
                                 .with_for_update())
    if delivery is None or delivery.status in (DeliveryStatus.SENT, LOGGED):
        return "skipped"
    notification = delivery.notification
    delivery.attempts += 1
    try:
        try:
            if delivery.channel == DeliveryChannel.EMAIL:
                message = email_message(notification, delivery.address, delivery.id)
            else:
                text = sms_text(notification)
        except (ValueError, TypeError, LookupError, MessageError) as exc:
            # A message that cannot be built (bad data) fails alone; the batch goes on.
            raise DeliveryError(f"could not build the message: {exc}") from exc
        if delivery.channel == DeliveryChannel.EMAIL:
            outcome = send_email(message)
        else:
            outcome = send_sms(delivery.address, text)
    except DeliveryError as exc:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = str(exc)[:2000]
        db.session.flush()
        log.warning("delivery %s (%s to %r) failed: %r", delivery.id, delivery.channel,
                    delivery.address, str(exc))
        return DeliveryStatus.FAILED
    delivery.status = outcome
    delivery.sent_at = utcnow()
    delivery.last_error = None
    db.session.flush()
    return outcome


def mark_failed(delivery_id: int, error: str) -> str:
    """Record an unexpected error of one delivery (after its transaction rolled back):
    failed with the error, counted as an attempt, unless it went meanwhile (flushes)."""
    delivery = db.session.get(NotificationDelivery, delivery_id)
    if delivery is None or delivery.status in (DeliveryStatus.SENT, LOGGED):
        return "skipped"
    delivery.attempts += 1
    delivery.status = DeliveryStatus.FAILED
    delivery.last_error = error[:2000]
    db.session.flush()
    return DeliveryStatus.FAILED


def failures(limit: int = 50) -> list[NotificationDelivery]:
    """The most recent failed deliveries, for /admin/jobs."""
    return list(db.session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.status == DeliveryStatus.FAILED)
        .order_by(NotificationDelivery.id.desc()).limit(limit)))


def counts() -> dict[str, Any]:
    return dict(db.session.execute(select(NotificationDelivery.status, func.count())
                                   .group_by(NotificationDelivery.status)).all())
