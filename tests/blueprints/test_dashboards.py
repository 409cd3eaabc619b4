"""Dashboard pages (issue 14): each role's figures, every figure a link to the list
behind it, the wrong roles refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.extensions import db
from app.models import Certificate, CertificateStatus, CertificateType, CertificateVerification
from app.models.base import utcnow
from app.services import dates


def test_admin_dashboard_links_each_figure_to_its_list(app: Any, admin_client: Any,
                                                      make_user: Any) -> None:
    person = make_user(name="Pita Holder")
    today = dates.today()
    with app.app_context():
        soon = Certificate(type=CertificateType.COMPLETION, status=CertificateStatus.ISSUED,
                           recipient_id=person.id, issued_at=utcnow(), number="CERT-2026-00901",
                           expires_at=today + timedelta(days=45))
        db.session.add(soon)
        db.session.flush()
        db.session.add(CertificateVerification(certificate_id=soon.id, channel="json"))
        db.session.commit()
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "Certificates issued per month" in page and "Verification checks per week" in page
    band = today + timedelta(days=31)
    link = f"expires_from={band.isoformat()}"
    assert link in page
    listed = admin_client.get(
        f"/admin/certificates?status=issued&{link}&expires_to={(today + timedelta(days=60)).isoformat()}")
    assert "Pita Holder" in listed.get_data(as_text=True)
    elsewhere = admin_client.get(
        f"/admin/certificates?status=issued&expires_from={today.isoformat()}"
        f"&expires_to={(today + timedelta(days=30)).isoformat()}")
    assert "Pita Holder" not in elsewhere.get_data(as_text=True)
    checks = admin_client.get(f"/admin/verifications?from={today.isoformat()}&to={today.isoformat()}")
    assert "CERT-2026-00901" in checks.get_data(as_text=True)
    assert admin_client.get("/admin/verifications?from=nonsense&page=-4").status_code == 200


def test_dashboards_refuse_the_wrong_roles(staff_client: Any, org_admin_client: Any,
                                           manager_client: Any) -> None:
    for client in (staff_client, org_admin_client):
        assert client.get("/admin/").status_code == 403
        assert client.get("/admin/verifications").status_code == 403
    assert manager_client.get("/admin/verifications").status_code == 403
