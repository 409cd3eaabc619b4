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
    return hostile.world(app, make_user, make_track, make_definition, make_credential, issue, org)


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

        run()
    # Authenticated (the token works) and some requests got through validation.
    assert statuses.get(401, 0) == 0, statuses
    assert sum(n for status, n in statuses.items() if status < 300) > 20, statuses
    assert sum(statuses.values()) >= len(operations) * 3, statuses


EXAMPLES = 15
