"""Every /admin and /api/admin route refuses anonymous visitors and staff.

The routes are read from app.url_map, so a route added later is covered without
editing this file.
"""

from __future__ import annotations

import re

import pytest

from app import create_app

GUARDED_PREFIXES = ("/admin", "/api/admin")


def _guarded_routes() -> list[tuple[str, str]]:
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(GUARDED_PREFIXES):
            continue
        # Any id will do: the guard must refuse before the view looks anything up.
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, path))
    return routes


ROUTES = _guarded_routes()


def test_the_matrix_is_not_empty():
    assert len(ROUTES) >= 10


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_is_sent_to_log_in(client, method, path):
    response = client.open(path, method=method)  # with a valid CSRF token: the guard decides
    if path.startswith("/api/"):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
    else:
        assert response.status_code == 302
        assert "/login" in response.location


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_staff_is_forbidden(staff_client, method, path):
    response = staff_client.open(path, method=method)
    assert response.status_code == 403
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_org_admin_is_forbidden(org_admin_client, method, path):
    assert org_admin_client.open(path, method=method).status_code == 403


def test_staff_cannot_open_the_org_page(staff_client, org_admin_client):
    assert staff_client.get("/org").status_code == 403
    assert org_admin_client.get("/org").status_code == 200


def test_org_admin_sees_only_their_own_organization(org_admin_client, make_org, make_user, org):
    mine = make_user(name="Mine Person", organization=org)
    other = make_user(name="Other Person", organization=make_org("Other Org"))
    page = org_admin_client.get("/org").get_data(as_text=True)
    assert mine.email in page
    assert other.email not in page


# The organization's read-only views (org admins and platform admins) and the person
# page (platform admins, managers, org admins): read from the route map as well.
def _routes_under(prefix: str) -> list[str]:
    app = create_app({"APP_ENV": "test", "TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return sorted({re.sub(r"<(?:[^:>]+:)?[^>]+>", "1", rule.rule)
                   for rule in app.url_map.iter_rules()
                   if rule.rule.startswith(prefix) and "GET" in (rule.methods or set())})


ORG_VIEWS = _routes_under("/org")
PEOPLE_VIEWS = _routes_under("/people")


def test_the_org_and_people_views_are_listed():
    assert {"/org/progress", "/org/certificates", "/org/projects"} <= set(ORG_VIEWS)
    assert PEOPLE_VIEWS == ["/people/1"]


@pytest.mark.parametrize("path", ORG_VIEWS)
def test_staff_and_managers_cannot_open_org_views(staff_client, manager_client, path):
    assert staff_client.get(path).status_code == 403
    assert manager_client.get(path).status_code == 403


@pytest.mark.parametrize("path", ORG_VIEWS + PEOPLE_VIEWS)
def test_anonymous_is_sent_to_log_in_from_org_and_people_views(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.location


@pytest.mark.parametrize("path", PEOPLE_VIEWS)
def test_staff_cannot_open_person_pages(staff_client, path):
    assert staff_client.get(path).status_code == 403


def test_org_admin_opens_own_people_and_projects_only(org_admin_client, make_org, make_user,
                                                      org, app):
    from app.extensions import db
    from app.models import Role
    from app.services import training
    from app.services.context import Actor

    mine = make_user(name="Mine Person", organization=org)
    other_org = make_org("Other Org")
    other = make_user(name="Other Person", organization=other_org)
    internal = make_user(Role.ADMIN)  # an internal person (no organization): not theirs
    with app.app_context():
        project = training.create_project(Actor.system(), name="Theirs",
                                          organization_id=other_org.id, go_live_date=None)
        db.session.commit()
        project_id = project.id
    assert org_admin_client.get(f"/people/{mine.id}").status_code == 200
    assert org_admin_client.get(f"/people/{other.id}").status_code == 404
    assert org_admin_client.get(f"/people/{internal.id}").status_code == 404
    assert org_admin_client.get(f"/org/projects/{project_id}").status_code == 404
    for path in ("/org/progress", "/org/certificates", "/org/projects"):
        assert "Other Person" not in org_admin_client.get(path).get_data(as_text=True)
