"""Sending notifications by email (SMTP) and SMS (an HTTP gateway).

With no MAIL_SERVER / SMS_GATEWAY_URL configured the message is written to the log and
the delivery recorded as LOGGED, so a laptop install works without either.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from sqlalchemy import func, select

from app.extensions import db
from app.models import DeliveryChannel, DeliveryStatus, Notification, NotificationDelivery
from app.models.base import utcnow
from app.services.urls import public_link

log = logging.getLogger(__name__)
LOGGED = DeliveryStatus.LOGGED
SMS_MAX_CHARS = 320  # two SMS segments


class DeliveryError(Exception):
    """A transport refused or failed to take a message."""


def absolute(link: str | None) -> str:
    """The notification's link on PUBLIC_BASE_URL (urls.public_link)."""
    return public_link(link)


def email_message(notification: Notification, to: str) -> EmailMessage:
    """The email for a notification: plain text and HTML, with a link back."""
    context = {"notification": notification, "user": notification.user,
               "link": absolute(notification.link),
               "preferences": absolute("/me/preferences"),
               "issuer": current_app.config["ISSUER_NAME"]}
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Message-ID"] = make_msgid(domain="credwright.local")
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
        if delivery.channel == DeliveryChannel.EMAIL:
            outcome = send_email(email_message(notification, delivery.address))
        else:
            outcome = send_sms(delivery.address, sms_text(notification))
    except DeliveryError as exc:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = str(exc)[:2000]
        db.session.flush()
        log.warning("delivery %s (%s to %s) failed: %s", delivery.id, delivery.channel,
                    delivery.address, exc)
        return DeliveryStatus.FAILED
    delivery.status = outcome
    delivery.sent_at = utcnow()
    delivery.last_error = None
    db.session.flush()
    return outcome


def failures(limit: int = 50) -> list[NotificationDelivery]:
    """The most recent failed deliveries, for /admin/jobs."""
    return list(db.session.scalars(
        select(NotificationDelivery).where(NotificationDelivery.status == DeliveryStatus.FAILED)
        .order_by(NotificationDelivery.id.desc()).limit(limit)))


def counts() -> dict[str, Any]:
    return dict(db.session.execute(select(NotificationDelivery.status, func.count())
                                   .group_by(NotificationDelivery.status)).all())
