"""Delivery: real email to a local SMTP server, SMS to a local HTTP gateway, failures
recorded and retried, sent messages never sent twice, and the log when nothing is set up."""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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


# --- Headers of an automated message, one-click unsubscribe, hostile titles -----------

RFC5322_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} "
                          r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                          r"\d{2}:\d{2}:\d{2} [+-]\d{4}")


def _mail_app(make_app: Callable[..., Flask], port: int) -> Flask:
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, PUBLIC_BASE_URL=BASE + "/",
                    MAIL_DEFAULT_SENDER="Credwright <no-reply@credwright.example.test>")


def _unsubscribe_path(message: EmailMessage) -> str:
    (url,) = re.fullmatch(r"<([^>]+)>", message["List-Unsubscribe"]).groups()  # type: ignore[union-attr]
    assert url.startswith(f"{BASE}/me/preferences/unsubscribe/")
    return url.removeprefix(BASE)


def _flags(app: Flask, model: Any, row_id: int, *names: str) -> dict[str, bool]:
    with app.app_context():
        row = db.session.get(model, row_id)
        return {name: getattr(row, name) for name in names}


def test_emails_carry_date_message_id_auto_submitted_and_list_unsubscribe(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int]) -> None:
    collector, port = smtp
    app = _mail_app(make_app, port)
    user = _person(app, phone=None)
    _raise(app, user, NotificationType.CERTIFICATE_ISSUED, "Your certificate was issued")
    _raise(app, user, NotificationType.CERTIFICATE_ISSUED, "Another certificate was issued")
    _raise(app, user, NotificationType.CREDENTIAL_STATUS_CHANGE)  # ALWAYS: no preference
    governed, second, always = collector.messages()
    for message in (governed, second, always):
        assert RFC5322_DATE.fullmatch(message["Date"]), message["Date"]
        sent = email.utils.parsedate_to_datetime(message["Date"])
        assert sent.utcoffset() is not None
        assert abs((datetime.now(UTC) - sent).total_seconds()) < 120
        assert re.fullmatch(r"<[^<>@\s]+@credwright\.example\.test>",
                            message["Message-ID"].strip())
        assert message["Auto-Submitted"] == "auto-generated"
    assert governed["Message-ID"] != second["Message-ID"]
    assert governed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = _unsubscribe_path(governed)
    plain = governed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = governed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert BASE + path in plain and f'href="{BASE + path}"' in html
    assert f'href="{BASE}/me/preferences"' in html
    # Nothing to switch off for an email that goes whatever the settings.
    assert "List-Unsubscribe" not in always and "List-Unsubscribe-Post" not in always
    assert "unsubscribe" not in always.get_body(("plain",)).get_content().lower()  # type: ignore[union-attr]


def test_one_click_unsubscribe_switches_off_exactly_that_preference_without_a_session(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int]) -> None:
    collector, port = smtp
    app = _mail_app(make_app, port)
    user = _person(app, phone=None)
    _raise(app, user, NotificationType.CERTIFICATE_ISSUED, "Your certificate was issued")
    path = _unsubscribe_path(collector.messages()[0])
    names = ("email_training", "email_compliance", "sms_critical")
    before = _flags(app, User, user.id, *names)
    assert before["email_training"] is True

    anonymous = app.test_client()  # no session, no CSRF token: a mail client
    page = anonymous.get(path)
    assert page.status_code == 200
    assert "Email me about training, quizzes and certificates" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _flags(app, User, user.id, *names) == before  # GET changes nothing

    response = anonymous.post(path, data="List-Unsubscribe=One-Click",
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert "Unsubscribed" in response.get_data(as_text=True)
    assert _flags(app, User, user.id, *names) == {**before, "email_training": False}
    with app.app_context():
        from app.models import AuditLog
        entry = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert entry is not None and entry.resource_type == "user"
        assert entry.resource_id == str(user.id) or entry.resource_id == user.id
    # Again: nothing left to change, still a 200.
    again = anonymous.post(path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert again.status_code == 200 and "Already unsubscribed" in again.get_data(as_text=True)

    # And the next such notification has no email.
    nid = _raise(app, user, NotificationType.CERTIFICATE_ISSUED, "A third certificate")
    assert _deliveries(app, nid) == {}
    assert len(collector.envelopes) == 1


def test_org_admin_emails_lead_to_the_organizations_settings(
        make_app: Callable[..., Flask], make_org: Callable[..., Any],
        smtp: tuple[_Collector, int]) -> None:
    from app.models import Organization

    collector, port = smtp
    app = _mail_app(make_app, port)
    org = make_org("Harbour Roofing")
    admin = _person(app, phone=None, email="olive@example.test", name="Olive Admin",
                    role=Role.ORG_ADMIN, organization_id=org.id)
    with app.app_context():
        ns.notify(db.session.get(User, admin.id), NotificationType.CERTIFICATE_ISSUED,
                  "Sam Staff was issued a certificate", link="/org", audience=Audience.ORG)
        db.session.commit()
    (message,) = collector.messages()
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f'href="{BASE}/org/preferences"' in html and f"{BASE}/org/preferences" in plain
    assert f"{BASE}/me/preferences\"" not in html
    assert "admin of Harbour Roofing" in plain
    path = _unsubscribe_path(message)
    org_names = ("email_system_alerts", "email_compliance_alerts")
    page = app.test_client().get(path).get_data(as_text=True)
    assert "Email org admins about staff status changes and certificates" in page
    assert "Harbour Roofing" in page and 'href="/org/preferences"' in page
    assert app.test_client().post(path, data="List-Unsubscribe=One-Click").status_code == 200
    assert _flags(app, Organization, org.id, *org_names) == {
        "email_system_alerts": False, "email_compliance_alerts": True}
    assert _flags(app, User, admin.id, "email_training")["email_training"] is True


def test_unsubscribe_links_that_are_forged_expired_or_stale_are_refused(
        make_app: Callable[..., Flask], make_org: Callable[..., Any],
        smtp: tuple[_Collector, int]) -> None:
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from app.services import unsubscribe

    collector, port = smtp
    app = _mail_app(make_app, port)
    user = _person(app, phone=None)
    _raise(app, user, NotificationType.CERTIFICATE_ISSUED, "Your certificate was issued")
    path = _unsubscribe_path(collector.messages()[0])
    token = path.rsplit("/", 1)[1]
    client = app.test_client()
    prefix = "/me/preferences/unsubscribe/"

    class SixtyOneDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 61 * 86400

    claims = {"u": user.id, "p": "email_training", "a": "self"}
    old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=unsubscribe.SALT,
                                 signer=SixtyOneDaysAgo).dumps(claims)
    recent = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=unsubscribe.SALT).dumps(claims)
    assert client.get(prefix + recent).status_code == 200  # the same claims, signed now
    other_secret = URLSafeTimedSerializer("not-our-secret", salt=unsubscribe.SALT).dumps(claims)
    other_salt = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="other").dumps(claims)
    not_a_preference = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=unsubscribe.SALT) \
        .dumps({**claims, "p": "active"})
    org = make_org("Elsewhere Ltd")
    as_org_admin = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=unsubscribe.SALT) \
        .dumps({"u": user.id, "p": "email_system_alerts", "a": "org", "o": org.id})
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in (old, other_secret, other_salt, not_a_preference, as_org_admin, tampered,
                "nonsense"):
        assert client.get(prefix + bad).status_code == 404
        assert client.post(prefix + bad, data="List-Unsubscribe=One-Click").status_code == 404
    assert _flags(app, User, user.id, "email_training", "active") == {
        "email_training": True, "active": True}
    with app.app_context():
        from app.models import Organization
        assert db.session.get(Organization, org.id).email_system_alerts is True
    assert client.get(path).status_code == 200  # the real one still works


def test_a_crlf_title_cannot_inject_headers_and_a_bad_message_never_blocks_its_batch(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    collector, port = smtp
    app = _mail_app(make_app, port)
    queued: list[int] = []
    monkeypatch.setattr(ns, "schedule_sending", lambda ids: queued.extend(ids))
    good = _person(app, phone=None)
    bad_address = _person(app, phone=None, email="mallory@example.test\r\nBcc: x@evil.test",
                          name="Mallory")
    hostile = "Roof Safety\r\nBcc: victim@evil.test\r\n\r\nInjected body"
    with app.app_context():
        first = ns.notify(db.session.get(User, bad_address.id),
                          NotificationType.CREDENTIAL_STATUS_CHANGE, "For a bad address")
        second = ns.notify(db.session.get(User, good.id),
                           NotificationType.CREDENTIAL_STATUS_CHANGE, hostile)
        third = ns.notify(db.session.get(User, good.id),
                          NotificationType.CREDENTIAL_STATUS_CHANGE, "After the bad ones")
        db.session.commit()
        ids = [first.id, second.id, third.id]
    assert len(queued) == 3 and collector.envelopes == []  # nothing sent yet

    with app.app_context(), pytest.raises(DeliveriesFailed):
        send_deliveries(queued)  # one batch: the bad address first
    failed = _deliveries(app, ids[0])["email"]
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert "control characters" in failed["last_error"]
    assert _deliveries(app, ids[1])["email"]["status"] == "sent"
    assert _deliveries(app, ids[2])["email"]["status"] == "sent"
    assert [e.rcpt_tos for e in collector.envelopes] == [[good.email], [good.email]]
    injected, after = collector.messages()
    assert injected["Subject"] == "Roof Safety Bcc: victim@evil.test Injected body"
    headers = injected.as_string().split("\n\n", 1)[0].splitlines()
    assert "Bcc" not in injected and not [h for h in headers if h.lower().startswith("bcc")]
    assert after["Subject"] == "After the bad ones"


def test_an_unexpected_error_fails_that_delivery_alone(
        make_app: Callable[..., Flask], smtp: tuple[_Collector, int],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services import delivery

    collector, port = smtp
    app = _mail_app(make_app, port)
    queued: list[int] = []
    monkeypatch.setattr(ns, "schedule_sending", lambda ids: queued.extend(ids))
    user = _person(app, phone=None)
    with app.app_context():
        ids = [ns.notify(db.session.get(User, user.id), NotificationType.WELCOME, title).id
               for title in ("Broken template", "Fine")]
        db.session.commit()
    real = delivery.email_message

    def flaky(notification: Any, to: str, delivery_id: int | None = None) -> EmailMessage:
        if notification.title == "Broken template":
            raise RuntimeError("template exploded")
        return real(notification, to, delivery_id)

    monkeypatch.setattr(delivery, "email_message", flaky)
    with app.app_context(), pytest.raises(DeliveriesFailed):
        send_deliveries(queued)
    broken = _deliveries(app, ids[0])["email"]
    assert (broken["status"], broken["attempts"]) == ("failed", 1)
    assert broken["last_error"] == "RuntimeError: template exploded"
    assert _deliveries(app, ids[1])["email"]["status"] == "sent"
    assert len(collector.envelopes) == 1
