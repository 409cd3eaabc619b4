"""The JSON API: Bearer tokens (or the session plus CSRF), JSON errors, same services."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from app.blueprints.admin.forms import NewUserForm, UserForm
from app.extensions import csrf
from app.models import Role
from app.services import users as user_service
from app.services.errors import ValidationFailed
from app.services.fields import parse_id, parse_int
from app.services.pagination import clamp_page, paginate
from app.web.auth import current_actor, guard_blueprint
from app.web.forms import validate_json

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # checked in the guard instead, only for cookie-authenticated writes
guard_blueprint(bp, list(Role), api=True)

admin_bp = Blueprint("api_admin", __name__, url_prefix="/admin")
csrf.exempt(admin_bp)
guard_blueprint(admin_bp, [Role.ADMIN], api=True)


def json_body() -> Any:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationFailed("Send a JSON object with Content-Type: application/json.")
    return payload


def known_keys(payload: dict[str, Any], *allowed: str) -> dict[str, Any]:
    """`payload`, refusing keys the endpoint does not take (422), as validate_json does."""
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={k: ["Unknown field."] for k in unknown})
    return payload


def parse_limit(value: str) -> int:
    return parse_int(value, min=1, max=100)


def page_args() -> tuple[int, int]:
    limit = request.args.get("limit", type=parse_limit) or current_app.config["PAGE_SIZE"]
    return clamp_page(request.args.get("page")), limit


def page_json(page: Any, items: list[Any]) -> dict[str, Any]:
    return {"data": items, "pagination": {"page": page.page, "limit": page.per_page,
                                          "total": page.total, "pages": page.pages,
                                          **({"total_capped": True} if page.total_capped
                                             else {})}}


@bp.route("/me")
def me() -> Any:
    return jsonify(user_service.to_dict(current_user))


@admin_bp.route("/users")
def list_users() -> Any:
    args = request.args
    role = args.get("role", "")
    if role and role not in {r.value for r in Role}:
        raise ValidationFailed("Unknown role.", fields={"role": ["Unknown role."]})
    stmt = user_service.search_users(args.get("q", ""), role=role,
                                     organization_id=args.get("organization_id", type=parse_id),
                                     status=args.get("status", ""))
    page = paginate(stmt, *page_args())
    return jsonify(page_json(page, [user_service.to_dict(u) for u in page.items]))


@admin_bp.route("/users", methods=["POST"])
def create_user() -> Any:
    # No password in the contract: the person is emailed an invitation to set one.
    form = validate_json(NewUserForm, json_body())
    values = form.values()
    user = user_service.create_user(current_actor(), **values)
    return jsonify(user_service.to_dict(user)), 201


@admin_bp.route("/users/<int:user_id>")
def get_user(user_id: int) -> Any:
    return jsonify(user_service.to_dict(user_service.get_user(user_id)))


@admin_bp.route("/users/<int:user_id>", methods=["PATCH"])
def update_user(user_id: int) -> Any:
    user = user_service.get_user(user_id)
    payload = json_body()
    active = payload.pop("active", None) if isinstance(payload, dict) else None
    form = validate_json(UserForm, payload, partial=True)
    user_service.update_user(user, current_actor(), **form.values())
    if active is not None:
        if not isinstance(active, bool):
            raise ValidationFailed("Some fields are not valid.",
                                   fields={"active": ["Use true or false."]})
        user_service.set_user_active(user, active, current_actor())
    return jsonify(user_service.to_dict(user))


# Route modules that add to admin_bp; imported here so they are registered with it.
from app.blueprints.api import (  # noqa: E402, F401
    bulk,
    certificate_templates,
    certificates,
    micro_credentials,
    profiles,
    renewals,
)

bp.register_blueprint(admin_bp)
