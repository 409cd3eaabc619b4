"""One public_url(): every URL that leaves the site (emails, SMS, PDFs and their QR code,
Open Badges, the verify answer, the API's verify_url, the holder's links) is built on
PUBLIC_BASE_URL, even inside a request whose Host is something else."""

from __future__ import annotations

import base64
import json
import re

import pytest

from app.extensions import db
from app.models import Certificate, CertificateType, Notification, Role, User

PUBLIC = "https://certs.example.org/portal"
INTERNAL = "http://10.0.0.5:8000"


@pytest.fixture
def app(make_app):
    return make_app(PUBLIC_BASE_URL=PUBLIC + "/")


@pytest.fixture
def certificate(app, make_user, make_track, issue):
    holder = make_user(Role.STAFF, name="Hira Holder")
    return issue(holder, track=make_track("Public track", exam=False),
                 type_=CertificateType.COMPLETION)


def _urls(text: str) -> set[str]:
    return set(re.findall(r"https?://[^\s\"'<>)]+", text))


def _only_public(urls: set[str] | list[str], what: str) -> None:
    urls = {u for u in urls if "linkedin.com" not in u}
    assert urls, f"{what}: no URL"
    assert all(u.startswith(PUBLIC + "/") or u == PUBLIC for u in urls), (what, urls)


def test_the_api_and_the_verify_answer_use_public_base_url(app, admin_user, bearer,
                                                           certificate):
    client = app.test_client()
    body = client.get(f"/api/admin/certificates/{certificate.id}", base_url=INTERNAL,
                      headers=bearer(admin_user)).get_json()
    _only_public({body["verify_url"]}, "API verify_url")
    answer = client.get(f"/verify/{certificate.verification_id}?format=json",
                        base_url=INTERNAL).get_json()
    _only_public({answer["certificate"]["verify_url"], answer["iss"]}, "verify answer")
    assert answer["certificate"]["verify_url"] == \
        f"{PUBLIC}/verify/{certificate.verification_id}"


def test_the_holders_links_use_public_base_url(app, new_client, certificate):
    client = new_client()
    client.environ_base["HTTP_HOST"] = INTERNAL.split("//")[1]  # every request, the login too
    with app.app_context():
        email = db.session.get(User, certificate.recipient_id).email
    client.login(email)
    page = client.get("/me").get_data(as_text=True)
    assert "Verification page" in page
    assert f'href="{PUBLIC}/verify/{certificate.verification_id}"' in page
    assert f"{INTERNAL}/verify" not in page


def test_emails_sms_pdfs_and_credentials_use_public_base_url(app, certificate):
    from app.services import delivery, pdf, signing

    with app.test_request_context("/", base_url=INTERNAL):
        cert = db.session.get(Certificate, certificate.id)
        note = db.session.scalars(db.select(Notification).where(
            Notification.user_id == cert.recipient_id)).first()
        message = delivery.email_message(note, "someone@example.test")
        for part in ("plain", "html"):
            _only_public(_urls(message.get_body((part,)).get_content()), f"email {part}")
        _only_public(_urls(delivery.sms_text(note)), "SMS")

        context = pdf.certificate_context(cert)
        _only_public({context["verify_url"]}, "PDF verify_url")
        assert INTERNAL not in pdf.render_html(cert)
        qr = base64.b64decode(pdf.qr_data_uri(context["verify_url"]).split(",", 1)[1]) \
            if ";base64," in pdf.qr_data_uri(context["verify_url"]) else b""
        assert INTERNAL.encode() not in qr

        badge = signing.open_badge_payload(cert)
        vc = badge.get("vc", badge)
        _only_public({vc["id"], vc["issuer"]["id"]}, "Open Badge")
        assert INTERNAL not in json.dumps(badge)


def test_kept_public_urls_follow_a_changed_base(app):
    """The bound URL map, the verify URL's parts and the badge images are kept per app
    and base: a new PUBLIC_BASE_URL is used at once, and an id that would need quoting
    (none we issue) is built by the URL map."""
    from app.services import urls, verification
    from app.services.verification import PublicRecord

    record = PublicRecord(1, "A" * 32, "CERT-2026-00001", CertificateType.COMPLETION,
                          None, None, None, None, None, course_id=5)
    with app.app_context():
        assert urls.verify_url("A" * 32) == f"{PUBLIC}/verify/{'A' * 32}"
        assert verification.image_url(record).startswith(f"{PUBLIC}/achievements/course/5/")
        app.config["PUBLIC_BASE_URL"] = "https://elsewhere.example.net"
        assert urls.verify_url("B" * 32) == f"https://elsewhere.example.net/verify/{'B' * 32}"
        assert verification.image_url(record).startswith(
            "https://elsewhere.example.net/achievements/course/5/")
        assert urls.public_url("verify.lookup") == "https://elsewhere.example.net/verify"
        assert urls.verify_url("a b/c") == "https://elsewhere.example.net/verify/a%20b/c"
