"""Static files under content-hashed URLs (immutable, precompressed) and compressed pages."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

import brotli
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape

from app.web.static_assets import hashed_name, plain_name
from tests.conftest import HX

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_names_hash_and_unhash() -> None:
    assert hashed_name("css/app.css", "0123456789ab") == "css/app.0123456789ab.css"
    assert hashed_name("vendor/pico.min.css", "0123456789ab") == "vendor/pico.min.0123456789ab.css"
    assert hashed_name("LICENSE", "0123456789ab") == "LICENSE.0123456789ab"
    assert plain_name("css/app.0123456789ab.css") == "css/app.css"
    assert plain_name("css/app.css") == "css/app.css"
    assert plain_name("vendor/pico.min.css") == "vendor/pico.min.css"


def test_every_page_asset_has_a_content_hashed_url(client: FlaskClient) -> None:
    urls = _asset_urls(client.get("/login").get_data(as_text=True))
    assert any("/css/app." in u for u in urls) and any("htmx.min." in u for u in urls)
    for url in urls:
        plain = plain_name(url.removeprefix("/static/"))
        assert url == f"/static/{hashed_name(plain, _digest(STATIC / plain))}", url


def test_static_url_is_url_for_static(app: Flask) -> None:
    """The templates' static_url() gives url_for's URL for every file, also under a
    script root (an app mounted below /) and for a name that needs quoting."""
    from flask import render_template_string, url_for

    files = [p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    assert "css/app.css" in files and "vendor/htmx.min.js" in files
    for script_root in ("", "/portal"):
        with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
            for name in [*files, "no such file (1).css"]:
                expected = url_for("static", filename=name)
                assert render_template_string("{{ static_url(name) }}", name=name) == \
                    str(escape(expected)), name
                assert expected.startswith(f"{script_root}/static/")


def test_a_production_process_looks_at_a_file_again_only_after_the_interval(
        make_app, tmp_path: Path, monkeypatch) -> None:
    """With STATIC_RECHECK_SECONDS (production's default: 2) a hashed name is trusted
    that long, without a stat per link; an edit shows once it has passed."""
    from app.web import static_assets

    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body { color: red }\n" * 40)
    app: Flask = make_app(STATIC_BUILD_DIR=str(tmp_path / "build"), STATIC_RECHECK_SECONDS=30)
    app.static_folder = str(static)
    clock = [1000.0]
    monkeypatch.setattr(static_assets, "monotonic", lambda: clock[0])
    static_assets.init_app(app)
    with app.test_request_context():
        first = static_assets.static_url("css/site.css")
        (static / "css" / "site.css").write_text("body { color: blue }\n" * 40)
        clock[0] += 29
        assert static_assets.static_url("css/site.css") == first
        clock[0] += 2
        second = static_assets.static_url("css/site.css")
    assert second != first
    assert b"blue" in app.test_client().get(second).data


def test_hashed_url_is_immutable_and_precompressed(client: FlaskClient) -> None:
    [css] = [u for u in _asset_urls(client.get("/login").get_data(as_text=True))
             if "/css/app." in u]
    source = (STATIC / "css/app.css").read_bytes()

    plain = client.get(css)
    assert plain.status_code == 200 and plain.data == source
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in plain.headers.get("Vary", "")
    assert "Content-Encoding" not in plain.headers

    br = client.get(css, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert brotli.decompress(br.data) == source
    assert int(br.headers["Content-Length"]) < len(source)

    gz = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.data) == source

    again = client.get(css, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


def test_plain_and_stale_urls_still_work_with_a_short_cache(client: FlaskClient) -> None:
    source = (STATIC / "js/app.js").read_bytes()
    for url in ("/static/js/app.js", "/static/js/app.000000000000.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.data == source
        assert response.headers["Cache-Control"] in {"public, max-age=300", "max-age=300, public"}
        assert "immutable" not in response.headers["Cache-Control"]
    assert client.get("/static/js/nothing-here.js").status_code == 404
    assert client.get("/static/../app/__init__.py").status_code == 404


def test_an_edited_file_gets_a_new_hashed_url(make_app, tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    (static / "css" / "site.css").write_text("body { color: red }\n" * 40)
    app: Flask = make_app(STATIC_BUILD_DIR=str(tmp_path / "build"))
    app.static_folder = str(static)
    from app.web import static_assets

    static_assets.init_app(app)  # rebuilt on the new folder
    with app.test_request_context():
        from flask import url_for

        first = url_for("static", filename="css/site.css")
        (static / "css" / "site.css").write_text("body { color: blue }\n" * 40)
        second = url_for("static", filename="css/site.css")
    assert first != second
    client = app.test_client()
    assert b"red" in client.get(first).data
    assert b"blue" in client.get(second).data
    assert "immutable" in client.get(second).headers["Cache-Control"]


def test_anonymous_pages_are_compressed_when_the_client_accepts_it(new_client) -> None:
    def fresh(headers: dict[str, str]) -> Any:
        return new_client().get("/login", headers=headers)  # no cookie yet

    page = fresh({"Accept-Encoding": "br, gzip"})
    assert page.status_code == 200
    assert page.headers["Content-Encoding"] == "br"
    assert b"<html" in brotli.decompress(page.data)
    assert "Accept-Encoding" in {v.strip() for v in page.headers["Vary"].split(",")}

    gz = fresh({"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert b"<html" in gzip.decompress(gz.data)

    identity = fresh({})
    assert "Content-Encoding" not in identity.headers
    assert b"<html" in identity.data


def test_no_compression_beside_the_sessions_secrets(admin_client, client, bearer,
                                                    admin_user) -> None:
    """BREACH: a logged-in page holds the session's CSRF token beside reflected input
    (/search?q=); compressed, its length would leak the token guess by guess. Pages and
    JSON of requests with a session/remember cookie or a token go out as they are."""
    accept = {"Accept-Encoding": "br, gzip"}
    for url, headers in (("/admin/users", {}), ("/admin/users", HX),
                         ("/search?q=csrf_token", {})):
        response = admin_client.get(url, headers={**accept, **headers})
        assert response.status_code == 200, url
        assert "Content-Encoding" not in response.headers, url
        if not headers:
            assert b"csrf" in response.data, url  # the token is there, in the clear
    api = client.get("/api/me", headers={**accept, **bearer(admin_user)})
    assert api.status_code == 200 and "Content-Encoding" not in api.headers
    assert api.get_json()
    # Static files stay compressed for everyone.
    css = next(u for u in _asset_urls(admin_client.get("/me").get_data(as_text=True))
               if "/css/app." in u)
    assert admin_client.get(css, headers=accept).headers["Content-Encoding"] == "br"


def test_static_files_carry_the_security_headers_and_no_cors(client: FlaskClient) -> None:
    """WhiteNoise answers before Flask's after_request: it adds the same defaults."""
    from app.web.security import default_headers

    urls = _asset_urls(client.get("/login").get_data(as_text=True))
    css = next(u for u in urls if "/css/app." in u)
    for url in (css, "/static/css/app.css"):  # WhiteNoise's hashed file; Flask's plain one
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        for key, value in default_headers(client.application):
            assert response.headers.get(key) == value, (url, key)
        assert "Access-Control-Allow-Origin" not in response.headers, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unwritable_build_folder_falls_back_to_plain_urls(make_app, tmp_path: Path,
                                                             caplog) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the build folder should be")
    with caplog.at_level("WARNING", logger="app.web.static_assets"):
        app: Flask = make_app(STATIC_BUILD_DIR=str(blocker / "static-build"))
    assert "not writable" in caplog.text
    client = app.test_client()
    urls = _asset_urls(client.get("/login").get_data(as_text=True))
    assert "/static/css/app.css" in urls
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and b"{" in response.data
    assert "immutable" not in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
