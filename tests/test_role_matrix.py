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
