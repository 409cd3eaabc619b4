"""/api/admin/micro-credentials: seed 001's contract, on the same services as the page."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from app.blueprints.api.routes import admin_bp, json_body
from app.blueprints.credentials.forms import (
    AWARD_API_FIELDS,
    DEFINITION_API_FIELDS,
    DefinitionForm,
    DirectAwardForm,
)
from app.services import credentials as mc
from app.services import users as user_service
from app.services.credentials.serializers import credential_to_api
from app.services.errors import ValidationFailed
from app.web.auth import current_actor
from app.web.forms import validate_json


@admin_bp.route("/micro-credentials")
def list_micro_credentials() -> Any:
    rows = mc.list_definitions(request.args.get("q", ""))
    return jsonify([mc.definition_to_api(d, count) for d, count in rows])


@admin_bp.route("/micro-credentials", methods=["POST"])
def create_micro_credential() -> Any:
    payload = json_body()
    _refuse_is_default(payload)
    form = validate_json(DefinitionForm, payload, aliases=DEFINITION_API_FIELDS)
    definition = mc.create_definition(current_actor(), **form.values())
    return jsonify(mc.definition_to_api(definition, 0)), 201


@admin_bp.route("/micro-credentials/<int:definition_id>")
def get_micro_credential(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    return jsonify(mc.definition_to_api(definition, mc.assigned_count(definition),
                                        mc.status_counts(definition)))


@admin_bp.route("/micro-credentials/<int:definition_id>", methods=["PATCH"])
def update_micro_credential(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    payload = json_body()
    _refuse_is_default(payload)
    form = validate_json(DefinitionForm, payload, partial=True, aliases=DEFINITION_API_FIELDS)
    mc.update_definition(definition, current_actor(), **form.values())
    return jsonify(mc.definition_to_api(definition, mc.assigned_count(definition)))


@admin_bp.route("/micro-credentials/<int:definition_id>", methods=["DELETE"])
def delete_micro_credential(definition_id: int) -> Any:
    definition = mc.get_definition(definition_id)
    mc.delete_definition(definition, current_actor())
    return jsonify({"success": True})


@admin_bp.route("/micro-credentials/<int:definition_id>/award", methods=["POST"])
def award_micro_credential(definition_id: int) -> Any:
    """Award the credential directly to a staff member, as of a date (today unless
    "awardedOn" says otherwise; the expiry from the definition's validity unless
    "expiryDate" is given). 409 when they hold it, awarded and valid, already."""
    definition = mc.get_definition(definition_id)
    form = validate_json(DirectAwardForm, json_body(), aliases=AWARD_API_FIELDS)
    user = user_service.get_user(form.user_id.data)
    credential = mc.award_directly(current_actor(), user=user, definition=definition,
                                   awarded_on=form.awarded_on.data,
                                   expires_on=form.expiry_date.data, note=form.note.data)
    return jsonify(credential_to_api(credential)), 201


def _refuse_is_default(payload: Any) -> None:
    if isinstance(payload, dict) and ("isDefault" in payload or "is_default" in payload):
        raise ValidationFailed("isDefault cannot be set or changed.",
                               fields={"isDefault": ["Only the built-in defaults are default."]})
