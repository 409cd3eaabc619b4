"""The JSON API's OpenAPI 3.1 document (generated from the forms that validate requests,
app/web/openapi.py) and schemathesis run against it through the WSGI app: every
operation, generated requests with a Bearer token, no 5xx and every answer conforming to
the document (status codes, content types, the error shape)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.services.fields import MAX_ID
from tests import hostile


@pytest.fixture
def hworld(app: Flask, make_user: Any, make_track: Any, make_definition: Any,
           make_credential: Any, issue: Any, org: Any) -> dict[str, Any]:
    world = hostile.world(app, make_user, make_track, make_definition, make_credential, issue,
                          org)
    # A template and a renewal campaign (id 1), so their operations reach a row too.
    from app.extensions import db
    from app.models import CertificationTrack
    from app.services import renewals
    from app.services.certificates import templates
    from app.services.context import Actor

    with app.app_context():
        templates.create_template(Actor.system(), "Hostile Template", dict(templates.DEFAULTS))
        renewals.start_campaign(db.session.get(CertificationTrack, world["track"].id),
                                Actor.system(), 30)
        db.session.commit()
    return world


def test_document_is_served_for_every_api_route(client: Any, app: Flask) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "openapi.document":
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "{" + arg + "}").replace(f"<{arg}>",
                                                                          "{" + arg + "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "fields"}


def test_bodies_come_from_the_forms(client: Any) -> None:
    """The limits in the document are the forms' own (TrackForm, DefinitionForm, with the
    API's field names), not a second copy."""
    from app.blueprints.credentials.forms import DefinitionForm
    from app.blueprints.training.forms import TrackForm

    paths = client.get("/api/openapi.json").get_json()["paths"]
    track = paths["/api/v1/internal/training/tracks"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert track["required"] == ["name"]
    assert track["additionalProperties"] is False
    assert track["properties"]["name"]["maxLength"] == TrackForm.name.kwargs["validators"][1].max
    assert track["properties"]["estimatedHours"]["maximum"] == 1000
    assert "requiredForGoLive" in track["properties"]  # the API alias, not the form name
    patch = paths["/api/v1/internal/training/tracks/{track_id}"]["patch"]["requestBody"][
        "content"]["application/json"]["schema"]
    assert "required" not in patch  # PATCH is partial
    definition = paths["/api/admin/micro-credentials"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert definition["properties"]["level"]["minimum"] == 1
    assert definition["properties"]["level"]["maximum"] == 10
    assert set(definition["properties"]) >= {"title", "issuingBody", "skillStandard"}
    assert definition["properties"]["title"]["maxLength"] == 200
    assert DefinitionForm.title.field_class.__name__ == "StringField"
    path_id = paths["/api/admin/users/{user_id}"]["get"]["parameters"][0]["schema"]
    assert path_id == {"type": "integer", "minimum": 0, "maximum": MAX_ID}


NEW_OPERATIONS = {
    ("/api/admin/certificate-templates", "get"), ("/api/admin/certificate-templates", "post"),
    ("/api/admin/certificate-templates/{template_id}", "get"),
    ("/api/admin/certificate-templates/{template_id}", "patch"),
    ("/api/admin/certificate-templates/{template_id}/default", "post"),
    ("/api/admin/certificate-templates/{template_id}/assignments", "post"),
    ("/api/admin/certificate-templates/{template_id}/assignments/{assignment_id}", "delete"),
    ("/api/admin/certificate-templates/preview", "post"),
    ("/api/admin/certificate-templates/{template_id}/preview", "post"),
    ("/api/admin/certificate-templates/{template_id}/images/{kind}", "post"),
    ("/api/admin/certificate-templates/{template_id}/images/{kind}", "delete"),
    ("/api/admin/certificate-template-versions/{version_id}/images/{kind}", "get"),
    ("/api/admin/renewal-campaigns", "get"), ("/api/admin/renewal-campaigns/{campaign_id}", "get"),
    ("/api/admin/tracks/{track_id}/renewal-campaigns", "post"),
    ("/api/me/profile", "get"), ("/api/me/profile", "patch"),
    ("/api/me/profile/publish", "post"), ("/api/me/profile/unpublish", "post"),
    ("/api/me/profile/new-link", "post"), ("/api/public/profiles/{slug}", "get"),
}


def test_templates_renewals_and_profiles_are_documented(client: Any) -> None:
    """Issue 15's operations, with their bodies read from the views: the template form's
    fields under the API's names, the multipart image upload, the SVG preview."""
    from app.blueprints.certificate_templates.forms import TemplateDesignForm

    paths = client.get("/api/openapi.json").get_json()["paths"]
    documented = {(path, method) for path, ops in paths.items() for method in ops}
    assert documented >= NEW_OPERATIONS, NEW_OPERATIONS - documented
    create = paths["/api/admin/certificate-templates"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert create["required"] == ["name"] and create["additionalProperties"] is False
    assert {"primaryColor", "borderStyle", "signerTitle"} <= set(create["properties"])
    assert create["properties"]["name"]["maxLength"] == \
        TemplateDesignForm.name.kwargs["validators"][1].max
    patch = paths["/api/admin/certificate-templates/{template_id}"]["patch"]["requestBody"][
        "content"]["application/json"]["schema"]
    assert "baseVersion" in patch["properties"] and "required" not in patch
    upload = paths["/api/admin/certificate-templates/{template_id}/images/{kind}"]["post"]
    multipart = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert multipart["properties"]["file"] == {"type": "string", "format": "binary"}
    assert multipart["properties"]["baseVersion"]["type"] == "integer"
    preview = paths["/api/admin/certificate-templates/preview"]["post"]["responses"]["200"]
    assert list(preview["content"]) == ["image/svg+xml"]
    removal = paths["/api/admin/certificate-templates/{template_id}/images/{kind}"]["delete"]
    assert [p["name"] for p in removal["parameters"] if p["in"] == "query"] == ["baseVersion"]
    start = paths["/api/admin/tracks/{track_id}/renewal-campaigns"]["post"]["requestBody"]
    assert set(start["content"]["application/json"]["schema"]["properties"]) == {"withinDays"}


def test_api_conforms_and_never_errors(app: Flask, hworld: dict[str, Any],
                                       bearer: Any) -> None:
    """Every documented operation, a bounded number of generated requests each (positive
    data from the document), as an admin with a Bearer token."""
    token = bearer(hworld["admin"])
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    statuses: dict[int, int] = {}
    per_operation: dict[tuple[str, str], set[int]] = {}
    assert len(operations) >= 30
    for operation in operations:

        @given(case=operation.as_strategy(), row=st.sampled_from([None, 1, 2, 3]))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def run(case: Any, row: int | None) -> None:
            if row is not None and case.path_parameters:
                # Most generated ids name nothing (404): reach the world's rows too.
                case.path_parameters = {name: row for name in case.path_parameters}
            response = case.call_and_validate(headers=token, checks=checks)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            key = (case.operation.path, case.operation.method.lower())
            per_operation.setdefault(key, set()).add(response.status_code)

        run()
    # Authenticated (the token works) and some requests got through validation.
    assert statuses.get(401, 0) == 0, statuses
    assert sum(n for status, n in statuses.items() if status < 300) > 20, statuses
    assert sum(statuses.values()) >= len(operations) * 3, statuses
    # Issue 15's operations were all called, and some of them got through to a success.
    assert set(per_operation) >= NEW_OPERATIONS, NEW_OPERATIONS - set(per_operation)
    assert sum(any(s < 300 for s in per_operation[op]) for op in NEW_OPERATIONS) >= 10


EXAMPLES = 15
