"""An org admin's read-only views of their own organization (training progress,
certificates, projects' readiness with who blocks go-live), the matrix's expiry summary,
and the person page: who may open whom (another organization's people and projects are
404, staff 403), what it shows, and the name links."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateType,
    CredentialStatus,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    Role,
    TrainingAssignment,
    User,
)
from app.services import certificates, training
from app.services.context import Actor
from tests.conftest import HX, answers_scoring


@pytest.fixture
def world(app, org, make_org, make_user, make_track, make_definition, make_credential, issue):
    """Two organizations with people, enrolments, certificates and a project each."""
    other_org = make_org("Other Org")
    mine = make_user(Role.STAFF, org, name="Mere Mine")
    done = make_user(Role.STAFF, org, name="Dana Done")
    theirs = make_user(Role.STAFF, other_org, name="Olaf Other")
    track = make_track("Safety basics", required_for_go_live=True)
    with app.app_context():
        actor = Actor.system()
        row = training.get_track(track.id)
        for person in (mine, done, theirs):
            training.enrol(db.session.get(User, person.id), row, actor)
        enrolment = db.session.scalar(select(Enrolment).where(Enrolment.user_id == done.id))
        for progress in enrolment.course_progress:
            if progress.course.has_exam:
                training.submit_quiz_attempt(progress, answers_scoring(progress.course, 1),
                                             actor)
                training.submit_quiz_attempt(progress, answers_scoring(progress.course, 5),
                                             actor)
            else:
                training.complete_course(progress, actor)
        projects = {}
        for name, owner in (("Mine go-live", org), ("Their go-live", other_org)):
            project = training.create_project(actor, name=name, organization_id=owner.id,
                                              go_live_date=date.today() + timedelta(days=30))
            training.assign_training(project, row, actor, required_completions=2)
            projects[owner.id] = project.id
        db.session.commit()
    definition = make_definition("Harness use")
    make_credential(definition, mine, CredentialStatus.AWARDED,
                    expiry_date=date.today() + timedelta(days=10))
    make_credential(make_definition("Ladders"), done, CredentialStatus.AWARDED,
                    expiry_date=date.today() + timedelta(days=75))
    make_credential(definition, theirs, CredentialStatus.AWARDED,
                    expiry_date=date.today() + timedelta(days=5))
    with app.app_context():  # completing the track asked for it: approve it
        pending = db.session.scalar(select(Certificate).where(Certificate.recipient_id == done.id))
        certificates.approve(pending, Actor.system())
        db.session.commit()
        cert_mine = db.session.get(Certificate, pending.id)
        db.session.expunge(cert_mine)
    cert_theirs = issue(theirs, track=track, type_=CertificateType.MASTERY)
    return {"mine": mine, "done": done, "theirs": theirs, "track": track, "org": org,
            "other_org": other_org, "project": projects[org.id],
            "their_project": projects[other_org.id], "cert_mine": cert_mine,
            "cert_theirs": cert_theirs}


def test_progress_lists_own_people_per_track_with_filters(org_admin_client, world):
    page = org_admin_client.get("/org/progress").get_data(as_text=True)
    assert "Mere Mine" in page and "Dana Done" in page and "Olaf Other" not in page
    assert "Safety basics" in page and "100%" in page
    assert f'href="/people/{world["mine"].id}"' in page
    filtered = org_admin_client.get("/org/progress?status=COMPLETED&q=dana", headers=HX)
    text = filtered.get_data(as_text=True)
    assert "<html" not in text and "Dana Done" in text and "Mere Mine" not in text
    assert org_admin_client.get("/org/progress?status=NOPE&track_id=abc").status_code == 200


def test_certificates_lists_own_people_with_status(org_admin_client, world):
    page = org_admin_client.get("/org/certificates").get_data(as_text=True)
    assert world["cert_mine"].number in page and world["cert_theirs"].number not in page
    assert "Active" in page
    assert world["cert_mine"].number not in org_admin_client.get(
        "/org/certificates?status=REVOKED").get_data(as_text=True)


def test_projects_and_readiness_with_blockers(org_admin_client, world):
    listing = org_admin_client.get("/org/projects").get_data(as_text=True)
    assert "Mine go-live" in listing and "Their go-live" not in listing
    assert "Not ready" in listing
    page = org_admin_client.get(f"/org/projects/{world['project']}").get_data(as_text=True)
    assert "Blocks go-live (1 short)" in page
    blockers = page.split('id="blockers-', 1)[1]
    assert "Mere Mine" in blockers and "Dana Done" not in blockers
    assert org_admin_client.get(f"/org/projects/{world['their_project']}").status_code == 404
    assert org_admin_client.get("/org/projects/999999").status_code == 404


def test_admin_may_open_any_organizations_views(admin_client, world):
    other = world["other_org"].id
    assert "Olaf Other" in admin_client.get(
        f"/org/progress?organization_id={other}").get_data(as_text=True)
    assert "Their go-live" in admin_client.get(
        f"/org/projects/{world['their_project']}").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/org/progress", "/org/certificates", "/org/projects",
                                  "/org/projects/1"])
def test_staff_and_managers_are_refused(staff_client, manager_client, path):
    assert staff_client.get(path).status_code == 403
    assert manager_client.get(path).status_code == 403


def test_matrix_summary_counts_the_whole_organization(org_admin_client, world):
    page = org_admin_client.get("/org").get_data(as_text=True)
    summary = page.split('id="expiry-summary"', 1)[1].split("</p>", 1)[0]
    assert "<strong>0</strong> expired" in summary
    assert "<strong>1</strong> expiring within 30 days" in summary
    assert "<strong>2</strong> within 90 days" in summary
    assert f'href="/people/{world["mine"].id}"' in page


def test_org_admin_navigation_links_the_views(org_admin_client):
    page = org_admin_client.get("/org").get_data(as_text=True)
    for href in ("/org/progress", "/org/certificates", "/org/projects", "/org/preferences"):
        assert f'href="{href}"' in page


# --- the person page ----------------------------------------------------------------------

def test_person_page_shows_credentials_tracks_attempts_certificates(admin_client, world):
    page = admin_client.get(f"/people/{world['done'].id}").get_data(as_text=True)
    assert "Dana Done" in page and "Ladders" in page
    assert "Safety basics" in page and "Exam" in page
    assert "20% · failed" in page and "100% · passed" in page
    assert world["cert_mine"].number in page
    assert f'/admin/certificates/{world["cert_mine"].id}' in page
    # Recent audit entries in words, each opening its entry.
    assert 'id="person-audit"' in page and ">approved<" in page and ">awarded<" in page
    assert 'href="/admin/audit/' in page and "CERT_APPROVE" not in page


def test_org_admin_sees_own_people_only_without_audit(org_admin_client, world):
    page = org_admin_client.get(f"/people/{world['done'].id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'id="person-audit"' not in text and "/admin/certificates/" not in text
    assert f'/verify/{world["cert_mine"].verification_id}' in text
    assert org_admin_client.get(f"/people/{world['theirs'].id}").status_code == 404
    assert org_admin_client.get("/people/999999").status_code == 404


def test_manager_sees_anyone_and_the_track_link(manager_client, world):
    page = manager_client.get(f"/people/{world['theirs'].id}").get_data(as_text=True)
    assert "Olaf Other" in page and 'id="person-audit"' not in page
    assert f'/admin/tracks/{world["track"].id}/learners/{world["theirs"].id}"' in page


def test_staff_cannot_open_person_pages(staff_client, world):
    assert staff_client.get(f"/people/{world['mine'].id}").status_code == 403


def test_anonymous_is_sent_to_log_in(client, world):
    response = client.get(f"/people/{world['mine'].id}")
    assert response.status_code == 302 and "/login" in response.location


def test_person_page_writes_nothing(app, admin_client, world):
    with app.app_context():
        before = db.session.scalar(select(ImplementationProject.updated_at))
    assert admin_client.get(f"/people/{world['done'].id}").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ImplementationProject.updated_at)) == before
        assert db.session.scalar(select(TrainingAssignment.id)) is not None
        assert ProgressStatus.COMPLETED in set(db.session.scalars(select(Enrolment.status)))


def test_names_in_the_main_tables_link_to_the_person_page(admin_client, world):
    done = world["done"]
    link = f'href="/people/{done.id}"'
    assert link in admin_client.get("/admin/users").get_data(as_text=True)
    assert link in admin_client.get("/admin/certificates?status=issued").get_data(as_text=True)
    assert link in admin_client.get(f"/admin/tracks/{world['track'].id}").get_data(as_text=True)
    assert f'href="/people/{world["mine"].id}"' in admin_client.get(
        f"/org?organization_id={world['org'].id}").get_data(as_text=True)


def test_holders_and_audit_actors_link_to_the_person_page(app, admin_client, new_client,
                                                          world):
    from app.models import StaffMicroCredential

    with app.app_context():
        definition_id = db.session.scalar(select(StaffMicroCredential.definition_id).where(
            StaffMicroCredential.user_id == world["mine"].id))
    holders = admin_client.get(f"/admin/micro-credentials/{definition_id}/staff")
    assert f'href="/people/{world["mine"].id}"' in holders.get_data(as_text=True)
    client = new_client()
    client.login(world["mine"].email)  # a LOGIN entry with them as the actor
    audit = admin_client.get("/admin/audit?action=LOGIN").get_data(as_text=True)
    assert f'href="/people/{world["mine"].id}"' in audit


def test_org_admin_sees_no_links_to_people_of_other_organizations(org_admin_client, world):
    page = org_admin_client.get(f"/org/projects/{world['project']}").get_data(as_text=True)
    assert f'href="/people/{world["mine"].id}"' in page
    assert f'/people/{world["theirs"].id}"' not in page
