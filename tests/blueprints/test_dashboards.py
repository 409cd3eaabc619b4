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


def test_manager_dashboard_funnel_quiz_and_projects(app: Any, manager_client: Any,
                                                   make_user: Any, make_track: Any,
                                                   org: Any) -> None:
    from app.models import (
        CertificationTrack,
        Enrolment,
        ImplementationProject,
        ProgressStatus,
        TrainingAssignment,
    )
    from app.services import training
    from app.services.context import Actor

    track = make_track("Roof Safety", required_for_go_live=True)
    people = [make_user(organization=org, name=f"Learner {i}") for i in range(3)]
    with app.app_context():
        t = db.session.get(CertificationTrack, track.id)
        training.enrol_many(t, [p.id for p in people], Actor.system())
        db.session.commit()
        rows = db.session.scalars(db.select(Enrolment).where(Enrolment.track_id == track.id)
                                  .order_by(Enrolment.id)).all()
        rows[0].status = ProgressStatus.IN_PROGRESS
        rows[1].status = ProgressStatus.COMPLETED
        project = ImplementationProject(name="Go live", organization_id=org.id,
                                        go_live_date=dates.today() + timedelta(days=20))
        db.session.add(project)
        db.session.flush()
        db.session.add(TrainingAssignment(project_id=project.id, track_id=track.id,
                                          required_completions=2))
        db.session.commit()
    page = manager_client.get("/admin/").get_data(as_text=True)
    assert "Roof Safety" in page, page[page.find("<main"):][:3000]
    assert "Go live" in page and "Not ready" in page
    assert f"/admin/tracks/{track.id}?status=COMPLETED#summary" in page
    listed = manager_client.get(f"/admin/tracks/{track.id}?status=COMPLETED").get_data(as_text=True)
    assert "Learner 1" in listed and "Learner 0" not in listed


def test_org_dashboard_is_the_org_admins_own(app: Any, new_client: Any, make_user: Any,
                                             make_org: Any, org: Any, make_definition: Any,
                                             make_credential: Any) -> None:
    from app.models import CredentialStatus, Role

    admin_of_org = make_user(Role.ORG_ADMIN, org)
    mine = make_user(organization=org, name="Mere Mine")
    theirs = make_user(organization=make_org("Rival Roofing"), name="Tom Theirs")
    skill = make_definition("Working at Height")
    soon = dates.today() + timedelta(days=3)
    make_credential(skill, mine, CredentialStatus.AWARDED, expiry_date=soon)
    make_credential(skill, theirs, CredentialStatus.AWARDED, expiry_date=soon)
    client = new_client()
    client.login(admin_of_org.email)
    assert 'href="/org/dashboard"' in client.get("/org").get_data(as_text=True)  # a tab
    page = client.get("/org/dashboard").get_data(as_text=True)
    assert "Mere Mine" in page and "Tom Theirs" not in page
    assert "Working at Height (1 of 1)" in page
    listed = client.get(f"/org?status=AWARDED&expires_from={soon.isoformat()}"
                        f"&expires_to={soon.isoformat()}").get_data(as_text=True)
    assert "Mere Mine" in listed and "Tom Theirs" not in listed
    assert client.get("/org?expires_from=garbage&risk=x").status_code == 200


def test_org_dashboard_refuses_staff_and_managers(staff_client: Any, manager_client: Any) -> None:
    assert staff_client.get("/org/dashboard").status_code == 403
    assert manager_client.get("/org/dashboard").status_code == 403


def test_learner_sees_what_is_due_next(app: Any, new_client: Any, make_user: Any, org: Any,
                                       make_track: Any, make_definition: Any,
                                       make_credential: Any) -> None:
    from app.models import (
        CertificationTrack,
        CredentialStatus,
        ImplementationProject,
        TrainingAssignment,
        User,
    )
    from app.services import training
    from app.services.context import Actor

    learner = make_user(organization=org, name="Lee Learner")
    track = make_track("Scaffold Basics")
    due = dates.today() + timedelta(days=14)
    with app.app_context():
        training.enrol(db.session.get(User, learner.id),
                       db.session.get(CertificationTrack, track.id), Actor.system())
        project = ImplementationProject(name="Launch", organization_id=org.id,
                                        go_live_date=due + timedelta(days=7))
        db.session.add(project)
        db.session.flush()
        db.session.add(TrainingAssignment(project_id=project.id, track_id=track.id,
                                          due_date=due))
        db.session.commit()
    make_credential(make_definition("Harness Use"), learner, CredentialStatus.AWARDED,
                    expiry_date=dates.today() + timedelta(days=40))
    client = new_client()
    client.login(learner.email)
    page = client.get("/me").get_data(as_text=True)
    section = page[page.index('id="due-next"'):page.index('id="my-learning"')]
    reading = track.courses[0]
    assert f'/learn/courses/{reading.id}' in section and "Scaffold Basics" in section
    assert f"Due by {due.isoformat()}" in section and "0 of 2 required courses done" in section
    assert "Harness Use" in section
    assert section.index("Scaffold Basics") < section.index("Harness Use")  # sooner first


def test_dashboard_filters_refuse_nothing_with_a_500(admin_client: Any,
                                                     org_admin_client: Any) -> None:
    """Unreadable dates, NULs, huge pages and foreign ids on the figures' lists: ignored
    or not found, never an error page."""
    for url in ("/admin/certificates?status=issued&expires_from=2026-13-45&expires_to=%00",
                "/admin/certificates?status=issued&expires_from=9999-12-31",
                "/admin/verifications?from=0001-01-01&to=9999-12-31&page=99999999999",
                "/org?expires_from=abc&expires_to=2026-02-30&risk=%00",
                "/org/dashboard?organization_id=abc"):
        for client in (admin_client, org_admin_client):
            assert client.get(url).status_code in (200, 400, 403, 404), url
    assert admin_client.get("/org/dashboard?organization_id=999999").status_code == 404
