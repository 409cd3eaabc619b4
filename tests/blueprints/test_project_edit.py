"""/admin/projects/<id>: editing a project's name and go-live date, removing a training
assignment (roles, validation, audit, readiness afterwards)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditLog, ImplementationProject, TrainingAssignment
from app.services import training
from app.services.context import Actor
from tests.conftest import HX


def _project(app, org, track=None, go_live=date(2027, 3, 1)):
    with app.app_context():
        project = training.create_project(Actor.system(), name="Go-live", organization_id=org.id,
                                          go_live_date=go_live)
        assignment_id = None
        if track is not None:
            assignment_id = training.assign_training(
                project, training.get_track(track.id), Actor.system(),
                required_completions=2).id
        db.session.commit()
        return project.id, assignment_id


def _audits(app, action, resource_type, resource_id):
    with app.app_context():
        return db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.action == action, AuditLog.resource_type == resource_type,
            AuditLog.resource_id == str(resource_id))) or 0


def test_the_go_live_date_and_name_are_edited_and_readiness_follows(app, manager_client, org,
                                                                    make_track):
    project_id, _ = _project(app, org, make_track(required_for_go_live=True))
    page = manager_client.get(f"/admin/projects/{project_id}").get_data(as_text=True)
    assert "Edit name or go-live date" in page and 'value="2027-03-01"' in page
    saved = manager_client.post(f"/admin/projects/{project_id}", headers=HX,
                                data={"name": "  Spring go-live ", "go_live_date": "2027-05-02"})
    html = saved.get_data(as_text=True)
    assert saved.status_code == 200 and html.lstrip().startswith("<div id=\"project-header\">")
    assert "Spring go-live" in html and "2027-05-02" in html
    # The readiness (valid on the go-live date) comes along, swapped in beside it.
    assert 'id="project-status" hx-swap-oob="true"' in html
    with app.app_context():
        project = db.session.get(ImplementationProject, project_id)
        assert (project.name, project.go_live_date) == ("Spring go-live", date(2027, 5, 2))
    assert _audits(app, "UPDATE", "project", project_id) == 1
    # The same again changes nothing and writes no audit row.
    manager_client.post(f"/admin/projects/{project_id}", headers=HX,
                        data={"name": "Spring go-live", "go_live_date": "2027-05-02"})
    assert _audits(app, "UPDATE", "project", project_id) == 1
    cleared = manager_client.post(f"/admin/projects/{project_id}", headers=HX,
                                  data={"name": "Spring go-live", "go_live_date": ""})
    assert cleared.status_code == 200 and "go-live <span id=\"go-live-date\">not set" in \
        cleared.get_data(as_text=True)


def test_bad_project_edits_answer_422_with_field_errors_and_change_nothing(app, manager_client,
                                                                          org):
    project_id, _ = _project(app, org)
    bad = manager_client.post(f"/admin/projects/{project_id}", headers=HX,
                              data={"name": "   ", "go_live_date": "2027-02-30"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter a name." in html and "Not a valid date value." in html
    assert "<details open>" in html and 'id="project-edit-name-errors"' in html
    too_long = manager_client.post(f"/admin/projects/{project_id}", headers=HX,
                                   data={"name": "x" * 201, "go_live_date": ""})
    assert too_long.status_code == 422
    plain = manager_client.post(f"/admin/projects/{project_id}", data={"name": ""})
    assert plain.status_code == 422 and "<html" in plain.get_data(as_text=True)
    with app.app_context():
        project = db.session.get(ImplementationProject, project_id)
        assert (project.name, project.go_live_date) == ("Go-live", date(2027, 3, 1))
    assert _audits(app, "UPDATE", "project", project_id) == 0


def test_an_assignment_is_removed_once_and_audited(app, manager_client, org, make_track):
    track = make_track(required_for_go_live=True)
    project_id, assignment_id = _project(app, org, track)
    page = manager_client.get(f"/admin/projects/{project_id}").get_data(as_text=True)
    assert f"Remove {track.name} (anyone) from Go-live?" in page
    removed = manager_client.post(
        f"/admin/projects/{project_id}/assignments/{assignment_id}/delete", headers=HX)
    html = removed.get_data(as_text=True)
    assert removed.status_code == 200 and "No training assigned yet." in html
    with app.app_context():
        assert db.session.get(TrainingAssignment, assignment_id) is None
    assert _audits(app, "DELETE", "training_assignment", assignment_id) == 1
    again = manager_client.post(
        f"/admin/projects/{project_id}/assignments/{assignment_id}/delete", headers=HX)
    assert again.status_code == 404
    assert _audits(app, "DELETE", "training_assignment", assignment_id) == 1


def test_an_assignment_of_another_project_is_404(app, manager_client, org, make_org, make_track):
    track = make_track()
    _, assignment_id = _project(app, org, track)
    other_id, _ = _project(app, make_org("Other"))
    response = manager_client.post(
        f"/admin/projects/{other_id}/assignments/{assignment_id}/delete", headers=HX)
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(TrainingAssignment, assignment_id) is not None


def test_project_controls_refuse_other_roles(app, org, make_track, staff_client,
                                             org_admin_client):
    project_id, assignment_id = _project(app, org, make_track())
    for client in (staff_client, org_admin_client):
        edit = client.post(f"/admin/projects/{project_id}", headers=HX,
                           data={"name": "Hijacked", "go_live_date": ""})
        remove = client.post(f"/admin/projects/{project_id}/assignments/{assignment_id}/delete",
                             headers=HX)
        assert (edit.status_code, remove.status_code) == (403, 403)
    with app.app_context():
        assert db.session.get(ImplementationProject, project_id).name == "Go-live"
        assert db.session.get(TrainingAssignment, assignment_id) is not None


def test_a_double_submitted_edit_is_audited_once(app, org, make_user, race):
    from app.models import Role

    project_id, _ = _project(app, org)
    responses = race(make_user(Role.MANAGER), "POST", f"/admin/projects/{project_id}", n=6,
                     headers=HX, data={"name": "Autumn go-live", "go_live_date": "2027-04-04"})
    assert [r.status_code for r in responses] == [200] * 6
    assert _audits(app, "UPDATE", "project", project_id) == 1


def test_a_double_clicked_create_makes_one_project(app, org, make_user, race):
    from app.models import Role

    responses = race(make_user(Role.MANAGER), "POST", "/admin/projects", n=6, headers=HX,
                     data={"name": "Winter go-live", "organization_id": str(org.id)})
    assert sum(r.status_code in (200, 204, 302) for r in responses) == 1
    refused = [r for r in responses if r.status_code == 409]
    assert len(refused) == 5
    assert "already has a project with this name" in refused[0].get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(ImplementationProject.id)).where(
            func.lower(ImplementationProject.name) == "winter go-live")) == 1


def test_renaming_to_another_projects_name_is_refused(app, manager_client, org, make_org):
    first, _ = _project(app, org)
    other_org = make_org("Elsewhere Ltd")
    with app.app_context():
        second = training.create_project(Actor.system(), name="Second", organization_id=org.id,
                                         go_live_date=None)
        elsewhere = training.create_project(Actor.system(), name="GO-LIVE",
                                            organization_id=other_org.id,
                                            go_live_date=None)  # another org: fine
        db.session.commit()
        second_id = second.id
        assert elsewhere.id
    refused = manager_client.post(f"/admin/projects/{second_id}", headers=HX,
                                  data={"name": "go-live", "go_live_date": ""})
    assert refused.status_code == 409
    assert "already has a project with this name" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ImplementationProject, second_id).name == "Second"
        assert db.session.get(ImplementationProject, first).name == "Go-live"
