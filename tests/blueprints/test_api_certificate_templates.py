"""/api/admin/certificate-templates: the editor's actions for integrations, admins only,
on the template service (each save a new version; two saves from one version: one
wins, the other 409; images checked by content and size like the page's)."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.models import CertificateTemplate, CertificateTemplateVersion, Role
from app.services.certificates import templates as service

API = "/api/admin/certificate-templates"


def _png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _versions(app: Any, template_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(CertificateTemplateVersion.id)).where(
            CertificateTemplateVersion.template_id == template_id)) or 0


@pytest.fixture
def admin(bearer: Any, admin_user: Any) -> dict[str, str]:
    return bearer(admin_user)


def _create(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(API, headers=headers, json={"name": "Acme look", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_create_read_list_and_save_a_new_version(app, client, admin):
    created = _create(client, admin, primaryColor="#112233", titleText="Well done {recipient}")
    assert created["version"] == 1 and created["current"]["primaryColor"] == "#112233"
    assert created["current"]["accentColor"] == service.DEFAULTS["accent_color"]
    url = f"{API}/{created['id']}"
    saved = client.patch(url, headers=admin, json={"baseVersion": 1, "signerName": "Mere"})
    assert saved.status_code == 200, saved.get_json()
    body = saved.get_json()
    # The fields not sent are kept from the version before.
    assert body["version"] == 2 and body["current"]["signerName"] == "Mere"
    assert body["current"]["primaryColor"] == "#112233"
    assert [v["number"] for v in body["versions"]] == [2, 1]
    assert client.get(url, headers=admin).get_json()["versions"][1]["signerName"] is None
    assert [t["name"] for t in client.get(API, headers=admin).get_json()] == ["Acme look"]
    stale = client.patch(url, headers=admin, json={"baseVersion": 1, "signerName": "Other"})
    assert stale.status_code == 409 and "meanwhile" in stale.get_json()["error"]["message"]
    assert _versions(app, created["id"]) == 2


def test_bad_input_is_422_409_or_404_never_500(client, admin):
    created = _create(client, admin)
    url = f"{API}/{created['id']}"
    for body, field in (({}, "name"), ({"name": "x", "primaryColor": "red"}, "primaryColor"),
                        ({"name": "x", "titleText": "Hi {nobody}"}, "titleText"),
                        ({"name": "x", "borderStyle": "wavy"}, "borderStyle"),
                        ({"name": "x", "logo": "a"}, "logo"), ({"name": ["a"]}, "name")):
        response = client.post(API, headers=admin, json=body)
        assert response.status_code == 422, body
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    assert client.post(API, headers=admin, json={"name": "ACME LOOK"}).status_code == 409
    for body in ({"signerName": "x"}, {"baseVersion": "1"}, {"baseVersion": True},
                 {"baseVersion": 1, "accentColor": "#12"}):
        response = client.patch(url, headers=admin, json=body)
        assert response.status_code == 422, (body, response.get_json())
    assert client.patch(f"{API}/999999", headers=admin, json={"baseVersion": 1}
                        ).status_code == 404
    assert client.post(API, headers=admin, data="x", content_type="text/plain"
                       ).status_code == 422


def test_default_and_assignments(app, client, admin, make_track):
    track = make_track("Templated", exam=False)
    first, second = _create(client, admin), _create(client, admin, name="Second")
    assert client.post(f"{API}/{first['id']}/default", headers=admin).get_json()["isDefault"]
    assert client.post(f"{API}/{second['id']}/default", headers=admin).get_json()["isDefault"]
    assert not client.get(f"{API}/{first['id']}", headers=admin).get_json()["isDefault"]
    assigned = client.post(f"{API}/{first['id']}/assignments", headers=admin,
                           json={"subject": f"track:{track.id}"})
    assert assigned.status_code == 201 and assigned.get_json()["trackId"] == track.id
    # Giving the track the other template moves it there.
    client.post(f"{API}/{second['id']}/assignments", headers=admin,
                json={"subject": f"track:{track.id}"})
    assert client.get(f"{API}/{first['id']}", headers=admin).get_json()["assignments"] == []
    (moved,) = client.get(f"{API}/{second['id']}", headers=admin).get_json()["assignments"]
    for subject in ("track:999999", "definition:1", "track:x", 5):
        response = client.post(f"{API}/{first['id']}/assignments", headers=admin,
                               json={"subject": subject})
        assert response.status_code == 422, subject
    assert client.delete(f"{API}/{first['id']}/assignments/{moved['id']}",
                         headers=admin).status_code == 404  # not this template's
    assert client.delete(f"{API}/{second['id']}/assignments/{moved['id']}",
                         headers=admin).status_code == 200
    assert client.get(f"{API}/{second['id']}", headers=admin).get_json()["assignments"] == []


def test_preview_is_the_editors_svg_and_saves_nothing(app, client, admin):
    response = client.post(f"{API}/preview", headers=admin,
                           json={"primaryColor": "#abcdef", "titleText": "For {recipient}"})
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert "#abcdef" in svg and "For Aroha" in svg
    created = _create(client, admin, accentColor="#0a0b0c")
    mine = client.post(f"{API}/{created['id']}/preview", headers=admin, json={})
    assert "#0a0b0c" in mine.get_data(as_text=True)
    bad = client.post(f"{API}/preview", headers=admin, json={"primaryColor": "blue"})
    assert bad.status_code == 422 and "primaryColor" in bad.get_json()["error"]["fields"]
    assert client.post(f"{API}/preview", headers=admin, json={"remove": "logo"}
                       ).status_code == 422
    assert _versions(app, created["id"]) == 1


def test_image_upload_is_checked_like_the_page(app, client, admin):
    created = _create(client, admin)
    url = f"{API}/{created['id']}/images/logo"

    def upload(data: bytes, base: Any = 1, name: str = "logo.png") -> Any:
        return client.post(url, headers=admin, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), name), "baseVersion": str(base)})

    response = upload(_png())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["version"] == 2 and body["current"]["logo"]
    image = client.get(body["current"]["logo"], headers=admin)
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    assert upload(_png(), base=1).status_code == 409  # saved from version 1 already
    for data in (b"", b"GIF89a not an image", b"<svg/>", b"\x89PNG" + b"0" * 2_000_000):
        refused = upload(data, base=2)
        assert refused.status_code == 422, data[:10]
        assert "file" in refused.get_json()["error"]["fields"]
    assert upload(_png(3000, 10), base=2).status_code == 422  # too many pixels a side
    assert upload(_png(), base="two").status_code == 422
    assert client.post(url, headers=admin, json={"file": "x"}).status_code == 422
    assert client.post(f"{API}/{created['id']}/images/banner", headers=admin,
                       data={"file": (io.BytesIO(_png()), "a.png"), "baseVersion": "2"},
                       content_type="multipart/form-data").status_code == 404
    removed = client.delete(f"{url}?baseVersion=2", headers=admin)
    assert removed.status_code == 200 and removed.get_json()["current"]["logo"] is None
    assert _versions(app, created["id"]) == 3


def test_only_admins(client, bearer, make_user, org):
    for role in (Role.STAFF, Role.MANAGER, Role.ORG_ADMIN):
        headers = bearer(make_user(role, org if role != Role.MANAGER else None))
        assert client.get(API, headers=headers).status_code == 403, role
        assert client.post(API, headers=headers, json={"name": "Mine"}).status_code == 403
        assert client.post(f"{API}/preview", headers=headers, json={}).status_code == 403
    assert client.get(API).status_code == 401


def test_parallel_saves_from_one_version_make_one_version(app, client, admin, race,
                                                          admin_user):
    """Ten saves from version 1 at once, each a different design: one new version, nine
    409s (the conditional UPDATE of the version counter decides)."""
    created = _create(client, admin)
    url = f"{API}/{created['id']}"
    calls = [("PATCH", url, {"headers": admin, "json": {"baseVersion": 1,
                                                        "signerName": f"Signer {i}"}})
             for i in range(10)]
    responses = race(None, calls=calls)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 9}
    assert _versions(app, created["id"]) == 2
    with app.app_context():
        assert db.session.get(CertificateTemplate, created["id"]).version == 2


def test_a_double_click_saves_once(app, client, admin, race):
    created = _create(client, admin)
    responses = race(None, "PATCH", f"{API}/{created['id']}", headers=admin,
                     json={"baseVersion": 1, "signerName": "Same"})
    assert {r.status_code for r in responses} == {200}
    assert {r.get_json()["version"] for r in responses} == {2}
    assert _versions(app, created["id"]) == 2


def test_parallel_creates_with_one_name_make_one_template(app, admin, race):
    responses = race(None, "POST", API, headers=admin, json={"name": "Raced"})
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}
    with app.app_context():
        assert db.session.scalar(select(func.count(CertificateTemplate.id))) == 1
