"""/me/certificates/<id>.pdf: a holder downloads their own certificate's PDF; the link on
/me and in the "Certificate issued" notification and email."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    Notification,
    NotificationDelivery,
    NotificationType,
    User,
)
from app.services import certificates, delivery, verification
from app.services.context import Actor

S = CertificateStatus


def _holder_client(new_client, user):
    client = new_client()
    client.login(user.email)
    return client


def test_the_holder_downloads_their_own_pdf_from_me(app, new_client, staff_user, make_track,
                                                    issue):
    certificate = issue(staff_user, track=make_track("Roof Safety"))
    client = _holder_client(new_client, staff_user)
    me = client.get("/me").get_data(as_text=True)
    link = f"/me/certificates/{certificate.id}.pdf"
    assert f'href="{link}"' in me and "Download PDF" in me
    answer = client.get(link)
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF")
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="{certificate.number}.pdf"')
    assert answer.headers["Cache-Control"] == "private, no-store"
    # The very file the public PDF check recognizes.
    with app.app_context():
        found = verification.by_pdf_sha256(hashlib.sha256(answer.data).hexdigest())
        assert found is not None and found.number == certificate.number


def test_anyone_else_gets_404_and_anonymous_must_log_in(app, new_client, client, staff_user,
                                                        make_user, admin_user, make_track,
                                                        issue):
    certificate = issue(staff_user, track=make_track())
    link = f"/me/certificates/{certificate.id}.pdf"
    for other in (make_user(name="Other Staff"), admin_user):
        assert _holder_client(new_client, other).get(link).status_code == 404
    assert _holder_client(new_client, staff_user).get(
        "/me/certificates/999999.pdf").status_code == 404
    anonymous = client.get(link)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_only_an_issued_certificate_has_a_pdf(app, new_client, staff_user, make_track, issue):
    """Revoked (or pending, rejected): 404 saying why, and no link on /me. Expired: still
    the PDF (it was genuine; it states its dates)."""
    track = make_track("Expiring", validity_months=12)
    certificate = issue(staff_user, track=track)
    client = _holder_client(new_client, staff_user)
    link = f"/me/certificates/{certificate.id}.pdf"
    with app.app_context():
        db.session.execute(update(Certificate).where(Certificate.id == certificate.id)
                           .values(expires_at=certificate.issued_at.date().replace(year=2000)))
        db.session.commit()
    assert client.get(link).status_code == 200
    with app.app_context():
        certificates.revoke(db.session.get(Certificate, certificate.id), Actor.system(),
                            "Issued in error.", "issued_in_error")
        db.session.commit()
    refused = client.get(link)
    assert refused.status_code == 404 and "revoked" in refused.get_data(as_text=True)
    assert f'href="{link}"' not in client.get("/me").get_data(as_text=True)
    with app.app_context():
        pending = Certificate(type=CertificateType.MASTERY, status=S.PENDING,
                              recipient_id=staff_user.id, track_id=track.id)
        db.session.add(pending)
        db.session.commit()
        pending_id = pending.id
    assert client.get(f"/me/certificates/{pending_id}.pdf").status_code == 404


def test_while_the_pdf_is_rendering_the_holder_is_told_so(app, new_client, staff_user,
                                                          make_track, issue):
    certificate = issue(staff_user, track=make_track())
    with app.app_context():  # as if the PDF job has not run yet
        db.session.execute(update(Certificate).where(Certificate.id == certificate.id)
                           .values(pdf_key=None, pdf_sha256=None))
        db.session.commit()
    client = _holder_client(new_client, staff_user)
    assert "PDF being prepared" in client.get("/me").get_data(as_text=True)
    answer = client.get(f"/me/certificates/{certificate.id}.pdf")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 202 and answer.mimetype == "text/html"
    assert "Your PDF is being prepared" in html and certificate.number in html
    assert answer.headers["Retry-After"] == "5" and answer.headers["Refresh"] == "5"


def test_certificate_issued_notification_and_email_link_to_the_pdf(app, new_client, staff_user,
                                                                  make_track, issue):
    certificate = issue(staff_user, track=make_track())
    path = f"/me/certificates/{certificate.id}.pdf"
    with app.app_context():
        note = db.session.scalars(select(Notification).where(
            Notification.user_id == staff_user.id,
            Notification.type == NotificationType.CERTIFICATE_ISSUED)).one()
        assert note.link == path
        public = f"{app.config['PUBLIC_BASE_URL'].rstrip('/')}{path}"
        assert "Open this message to download its PDF" in note.body
        email_row = db.session.scalars(select(NotificationDelivery).where(
            NotificationDelivery.notification_id == note.id)).one()
        message = delivery.email_message(note, db.session.get(User, staff_user.id).email,
                                         email_row.id)
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert public in text and f'href="{public}"' in html
        note_id = note.id
    client = _holder_client(new_client, staff_user)
    opened = client.post(f"/me/notifications/{note_id}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith(path)
    assert client.get(opened.headers["Location"]).data.startswith(b"%PDF")


def test_a_rejected_request_stays_on_me_with_its_reason(app, new_client, staff_user,
                                                       make_track):
    track = make_track("Ladder Safety")
    with app.app_context():
        pending = Certificate(type=CertificateType.COMPLETION, status=S.PENDING,
                              recipient_id=staff_user.id, track_id=track.id)
        db.session.add(pending)
        db.session.commit()
        certificates.reject(pending, Actor.system(), "Photos of the site inspection missing.")
        db.session.commit()
        pending_id = pending.id
    html = _holder_client(new_client, staff_user).get("/me").get_data(as_text=True)
    row = html[html.index(f'id="my-certificate-{pending_id}"'):]
    row = row[:row.index("</tr>")]
    assert "Ladder Safety" in row and "Rejected" in row
    assert "Not approved: Photos of the site inspection missing." in row
    assert ".pdf" not in row and "No expiry" not in row
