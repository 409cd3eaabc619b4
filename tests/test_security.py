"""Headers, CSRF, and pages that load nothing from outside and run no inline script."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from tests.conftest import HX

PAGES = ["/admin/", "/admin/users", "/admin/organizations", "/admin/audit", "/admin/jobs", "/me",
         "/me/notifications", "/me/preferences", "/org/preferences"]


def test_security_headers_on_every_response(client):
    for path in ("/login", "/healthz", "/does-not-exist", "/api/me"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_style_or_external_asset(admin_client, path):
    html = admin_client.get(path).get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, "inline <script>"
    assert re.search(r"\son[a-z]+=", html) is None, "inline event handler"
    assert re.search(r"\sstyle=", html) is None, "inline style attribute"
    assert re.search(r"(src|href)=\"(https?:)?//", html) is None, "external asset"
    assert re.search(r'src="/static/vendor/htmx\.min\.[0-9a-f]{12}\.js"', html)  # our own, hashed


def test_htmx_is_configured_without_eval(client):
    html = client.get("/login").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', html).group(1)
    assert json.loads(unescape(config))["allowEval"] is False


def test_post_without_csrf_token_is_refused(app, new_client, admin_user):
    client = new_client()
    client.login(admin_user.email)
    client.auto_csrf = False
    response = client.post("/admin/organizations", data={"name": "Sneaky Ltd"}, headers=HX)
    assert response.status_code == 400
    assert b"Reload the page" in response.data
    client.auto_csrf = True
    page = client.get("/admin/organizations?q=Sneaky").get_data(as_text=True)
    assert "Sneaky Ltd" not in page


def test_login_without_csrf_token_is_refused(new_client, staff_user):
    client = new_client()
    client.auto_csrf = False
    response = client.post("/login", data={"email": staff_user.email,
                                           "password": "correct-horse-battery"})
    assert response.status_code == 400


def test_error_pages_are_html_and_json_under_api(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert b"Page not found" in page.data
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_server_error_page_hides_details(make_app):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert b"secret internals" not in response.data
    assert b"Something went wrong" in response.data
