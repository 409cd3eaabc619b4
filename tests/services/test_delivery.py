"""Delivery: real email to a local SMTP server, SMS to a local HTTP gateway, failures
recorded and retried, sent messages never sent twice, and the log when nothing is set up."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.jobs.notifications import DeliveriesFailed, send_deliveries
from app.models import (
    Audience,
    Notification,
    NotificationDelivery,
    NotificationType,
    Role,
    User,
)
from app.services import notifications as ns

BASE = "https://credwright.example.test"
PHONE = "+64215550101"
TOKEN = "gateway-secret-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default)  # type: ignore[misc]
                for e in self.envelopes]


@pytest.fixture
def smtp() -> Iterator[tuple[_Collector, int]]:
    handler = _Collector()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


class _Gateway:
    """A local SMS gateway: records each POST and answers with `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gateway.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body})
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if gateway.status < 400 else b'{"error": "x"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def gateway() -> Iterator[_Gateway]:
    gw = _Gateway()
    gw.thread.start()
    try:
        yield gw
    finally:
        gw.server.shutdown()
        gw.server.server_close()


def _person(app: Flask, **fields: Any) -> User:
    with app.app_context():
        values = {"email": "pat@example.test", "name": "Pat Person", "role": Role.STAFF,
                  "sms_critical": True, **fields}
        user = User(**values)
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def _raise(app: Flask, user: User, type_: NotificationType = NotificationType.CREDENTIAL_STATUS_CHANGE,
           title: str = "Your Roof Safety credential was awarded",
           link: str = "/me/credentials/7") -> int:
    """notify() and commit: the deliveries are sent inline after the commit."""
    with app.app_context():
        notification = ns.notify(db.session.get(User, user.id), type_, title,
                                 "Well done, it is on your record.", link, audience=Audience.SELF)
        db.session.commit()
        return notification.id


def _deliveries(app: Flask, notification_id: int) -> dict[str, dict[str, Any]]:
    with app.app_context():
        return {d.channel: {"id": d.id, "status": d.status, "attempts": d.attempts,
                            "last_error": d.last_error, "address": d.address,
                            "sent_at": d.sent_at}
                for d in db.session.scalars(select(NotificationDelivery).where(
                    NotificationDelivery.notification_id == notification_id))}


def test_email_arrives_with_text_and_html_and_a_link_back(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int]) -> None:
    collector, port = smtp
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, PUBLIC_BASE_URL=BASE + "/",
                   MAIL_DEFAULT_SENDER="Credwright <no-reply@credwright.example.test>")
    user = _person(app, phone=None)
    notification_id = _raise(app, user)

    assert len(collector.envelopes) == 1
    envelope = collector.envelopes[0]
    assert envelope.rcpt_tos == [user.email]
    assert envelope.mail_from == "no-reply@credwright.example.test"
    (message,) = collector.messages()
    assert message["To"] == user.email
    assert message["Subject"] == "Your Roof Safety credential was awarded"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    link = f"{BASE}/me/credentials/7"
    assert link in plain.get_content() and "Well done" in plain.get_content()
    assert f'href="{link}"' in html.get_content()
    assert f'href="{BASE}/me/preferences"' in html.get_content()
    assert "Pat Person" in plain.get_content()
    deliveries = _deliveries(app, notification_id)
    assert set(deliveries) == {"email"}  # no phone: no SMS
    sent = deliveries["email"]
    assert (sent["status"], sent["attempts"], sent["last_error"], sent["address"]) == (
        "sent", 1, None, user.email)
    assert sent["sent_at"] is not None


def test_sms_is_posted_as_json_with_the_bearer_token(
        make_app: Callable[..., Flask], gateway: _Gateway) -> None:
    app = make_app(SMS_GATEWAY_URL=gateway.url, SMS_GATEWAY_TOKEN=TOKEN, SMS_SENDER="Credwright",
                   PUBLIC_BASE_URL=BASE, MAIL_SERVER=None)
    user = _person(app, phone=PHONE)
    notification_id = _raise(app, user)

    assert len(gateway.requests) == 1
    request = gateway.requests[0]
    assert request["path"] == "/v1/messages"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert set(payload) == {"to", "from", "message"}
    assert payload["to"] == PHONE and payload["from"] == "Credwright"
    assert payload["message"] == f"Your Roof Safety credential was awarded {BASE}/me/credentials/7"
    deliveries = _deliveries(app, notification_id)
    assert deliveries["sms"]["status"] == "sent" and deliveries["sms"]["attempts"] == 1
    assert deliveries["email"]["status"] == "logged"  # no MAIL_SERVER


@pytest.mark.parametrize("gateway_state", ["answers_500", "unreachable"])
def test_failed_sms_is_recorded_then_retried_once_without_resending_the_email(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int], gateway: _Gateway,
        caplog: pytest.LogCaptureFixture, gateway_state: str) -> None:
    collector, port = smtp
    working_url = gateway.url
    gateway.status = 500
    url = working_url if gateway_state == "answers_500" else (
        f"http://127.0.0.1:{_free_port()}/v1/messages")
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, SMS_GATEWAY_URL=url,
                   SMS_GATEWAY_TOKEN=TOKEN, SMS_TIMEOUT=5, PUBLIC_BASE_URL=BASE)
    user = _person(app, phone=PHONE)
    caplog.set_level(logging.INFO)
    notification_id = _raise(app, user)

    # The inline job raised (logged), the email went, the SMS is recorded as failed and
    # the request's work (the notification) stands.
    assert "inline job send_deliveries" in caplog.text and "DeliveriesFailed" in caplog.text
    deliveries = _deliveries(app, notification_id)
    assert deliveries["email"]["status"] == "sent" and deliveries["email"]["attempts"] == 1
    sms = deliveries["sms"]
    assert (sms["status"], sms["attempts"], sms["sent_at"]) == ("failed", 1, None)
    if gateway_state == "answers_500":
        assert sms["last_error"] == "SMS gateway answered 500"
        assert len(gateway.requests) == 1
    else:
        assert sms["last_error"].startswith("SMS gateway:")
        assert gateway.requests == []
    with app.app_context():
        assert db.session.get(Notification, notification_id) is not None
    assert len(collector.envelopes) == 1

    # A retry while the gateway still fails: still failed, one more attempt; raises.
    ids = [deliveries["email"]["id"], deliveries["sms"]["id"]]
    with app.app_context(), pytest.raises(DeliveriesFailed):
        send_deliveries(ids)
    assert _deliveries(app, notification_id)["sms"]["attempts"] == 2
    before = len(gateway.requests)

    # The gateway works again: the retry sends the SMS once and skips the email.
    gateway.status = 200
    app.config["SMS_GATEWAY_URL"] = working_url
    with app.app_context():
        assert send_deliveries(ids) == {"skipped": 1, "sent": 1}
        assert send_deliveries(ids) == {"skipped": 2}  # and again: nothing
    assert len(gateway.requests) == before + 1
    assert json.loads(gateway.requests[-1]["body"])["to"] == PHONE
    assert len(collector.envelopes) == 1
    sms = _deliveries(app, notification_id)["sms"]
    assert (sms["status"], sms["attempts"], sms["last_error"]) == ("sent", 3, None)
    assert sms["sent_at"] is not None


def test_unreachable_smtp_server_fails_the_email(make_app: Callable[..., Flask],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_TIMEOUT=5)
    user = _person(app, phone=None)
    notification_id = _raise(app, user)
    email_delivery = _deliveries(app, notification_id)["email"]
    assert (email_delivery["status"], email_delivery["attempts"]) == ("failed", 1)
    assert email_delivery["last_error"].startswith("SMTP 127.0.0.1:")
    assert "DeliveriesFailed" in caplog.text


def test_without_a_mail_server_the_email_is_logged(make_app: Callable[..., Flask],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(MAIL_SERVER=None, SMS_GATEWAY_URL=None, PUBLIC_BASE_URL=BASE)
    user = _person(app, phone=PHONE)
    caplog.set_level(logging.DEBUG, logger="app.services.delivery")
    notification_id = _raise(app, user, title="Logged, not sent", link="/me/notifications/3")

    deliveries = _deliveries(app, notification_id)
    assert {c: d["status"] for c, d in deliveries.items()} == {"email": "logged", "sms": "logged"}
    assert all(d["attempts"] == 1 and d["sent_at"] is not None for d in deliveries.values())
    records = [r.getMessage() for r in caplog.records if r.name == "app.services.delivery"]
    (email_log,) = [m for m in records if m.startswith("email (no MAIL_SERVER)")]
    assert f"to {user.email}: Logged, not sent" in email_log  # one line at INFO
    (body_log,) = [m for m in records if m.startswith("email body:")]  # the body at DEBUG
    assert f"{BASE}/me/notifications/3" in body_log and "Pat Person" in body_log
    (sms_log,) = [m for m in records if m.startswith("SMS (no SMS_GATEWAY_URL)")]
    assert PHONE in sms_log and "Logged, not sent" in sms_log
    # Logged counts as gone: a second run does not log it again.
    caplog.clear()
    with app.app_context():
        assert send_deliveries([d["id"] for d in deliveries.values()]) == {"skipped": 2}
    assert not [r for r in caplog.records if r.name == "app.services.delivery"]
