"""/api/admin/micro-credentials: seed 001's contract."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CredentialStatus, MicroCredentialDefinition

BASE = "/api/admin/micro-credentials"


@pytest.fixture
def api(app, client, admin_user, bearer):
    headers = bearer(admin_user)

    class Api:
        def get(self, path="", **kw):
            return client.get(BASE + path, headers=headers, **kw)

        def post(self, path="", **kw):
            return client.post(BASE + path, headers=headers, **kw)

        def patch(self, path="", **kw):
            return client.patch(BASE + path, headers=headers, **kw)

        def delete(self, path="", **kw):
            return client.delete(BASE + path, headers=headers, **kw)

    return Api()


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(MicroCredentialDefinition.id)))


def test_list_is_an_ordered_array_with_counts(api, make_definition, make_credential, make_user):
    used = make_definition("Aaa top level", level=10)
    make_credential(used, make_user())
    body = api.get().get_json()
    assert isinstance(body, list) and len(body) == 4
    assert body[0]["title"] == "Aaa top level" and body[0]["_count"] == {"staffCredentials": 1}
    assert [d["level"] for d in body] == sorted((d["level"] for d in body), reverse=True)
    assert set(body[0]) >= {"id", "title", "level", "skillStandard", "issuingBody",
                            "requirements", "isDefault", "createdAt", "updatedAt"}
    fives = [d["title"] for d in body if d["level"] == 5]
    assert fives == sorted(fives)


def test_create_validates_like_the_page(app, api):
    created = api.post(json={"title": "Working at Heights", "level": 3,
                             "issuingBody": "WorkSafe", "skillStandard": "US 23229",
                             "validityMonths": 24})
    assert created.status_code == 201
    body = created.get_json()
    assert body["isDefault"] is False and body["validityMonths"] == 24
    before = _count(app)
    bad = api.post(json={"title": "ab", "level": 11, "issuingBody": "",
                         "skillStandard": "s" * 201, "requirements": "r" * 2001})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {
        "title", "level", "issuingBody", "skillStandard", "requirements"}
    assert api.post(json={"title": "Valid", "level": 2.5, "issuingBody": "X"}).status_code == 422
    assert api.post(json={"title": "Valid", "level": 3, "issuingBody": "X",
                          "isDefault": True}).status_code == 422
    assert _count(app) == before


def test_get_one_includes_counts_by_status(api, make_definition, make_credential, make_user):
    definition = make_definition()
    make_credential(definition, make_user(), CredentialStatus.IN_TRAINING)
    make_credential(definition, make_user(), CredentialStatus.IN_TRAINING)
    make_credential(definition, make_user())
    body = api.get(f"/{definition.id}").get_json()
    assert body["_count"] == {"staffCredentials": 3}
    assert body["statusCounts"]["IN_TRAINING"] == 2 and body["statusCounts"]["NOT_STARTED"] == 1
    assert api.get("/99999").status_code == 404


def test_patch_is_partial_and_cannot_touch_is_default(app, api, make_definition):
    definition = make_definition("Patch me", level=2)
    patched = api.patch(f"/{definition.id}", json={"issuingBody": "NZQA", "requirements": None})
    assert patched.status_code == 200
    assert patched.get_json()["issuingBody"] == "NZQA" and patched.get_json()["level"] == 2
    refused = api.patch(f"/{definition.id}", json={"isDefault": True})
    assert refused.status_code == 422 and "isDefault" in refused.get_json()["error"]["fields"]
    assert api.patch(f"/{definition.id}", json={"level": 0}).status_code == 422
    assert api.patch(f"/{definition.id}", json={"bogus": 1}).status_code == 422
    with app.app_context():
        stored = db.session.get(MicroCredentialDefinition, definition.id)
        assert stored.is_default is False and stored.level == 2


def test_delete_guards_answer_409_with_the_reason(app, api, make_definition, make_credential,
                                                  make_user):
    with app.app_context():
        default_id = db.session.scalar(select(MicroCredentialDefinition.id).where(
            MicroCredentialDefinition.is_default).limit(1))
    refused = api.delete(f"/{default_id}")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["message"] == "Default credentials cannot be deleted."
    used = make_definition()
    make_credential(used, make_user())
    in_use = api.delete(f"/{used.id}")
    assert in_use.status_code == 409 and "assigned to 1" in in_use.get_json()["error"]["message"]
    spare = make_definition()
    assert api.delete(f"/{spare.id}").get_json() == {"success": True}
    assert api.get(f"/{spare.id}").status_code == 404
