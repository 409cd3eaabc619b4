"""Earner profiles in the JSON API, on the same service as /me and /p/<slug>
(app/services/profiles.py):

    GET   /api/me/profile              the caller's own profile (published or not)
    POST  /api/me/profile/publish      publish (201; 409 when it is published already)
    POST  /api/me/profile/unpublish    take it down at once (409 when it is down)
    POST  /api/me/profile/new-link     retire the link, publish under a new one
    PATCH /api/me/profile              name (or stop naming) the organization
    GET   /api/public/profiles/<slug>  the public profile (anonymous; 404 when down)

Only ever the caller's own profile: there is no user id to send, so an admin's token
publishes the admin's profile, never someone else's."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask_login import current_user

from app.blueprints.api.routes import bp, json_body, known_keys
from app.extensions import limiter, public_page_limit
from app.models import EarnerProfile, User
from app.services import profiles
from app.services.errors import NotFound, ValidationFailed
from app.web.auth import current_actor

public_bp = Blueprint("api_public", __name__, url_prefix="/api/public")


def _entries(user_id: int) -> list[dict[str, Any]]:
    return [{"title": e.title, "kind": e.kind, "number": e.number,
             "issuedOn": e.issued_on.isoformat() if e.issued_on else None,
             "expiresOn": e.expires_on.isoformat() if e.expires_on else None,
             "verifyUrl": e.verify_url, "imageUrl": e.image_url}
            for e in profiles.entries_of(user_id)]


def _holder(user: User, profile: EarnerProfile) -> dict[str, Any]:
    organization = user.organization
    return {"name": user.name,
            "organization": organization.name if profile.show_organization
            and organization is not None else None}


def own_profile_to_api(user: User) -> dict[str, Any]:
    profile = profiles.published_profile_of(user.id)
    return {"published": profile is not None,
            "url": profiles.profile_url(profile) if profile is not None else None,
            "slug": profile.slug if profile is not None else None,
            "showOrganization": profile.show_organization if profile is not None else False,
            "publishedAt": profile.published_at.isoformat() if profile is not None else None,
            "entries": _entries(user.id)}


def _show_organization(payload: dict[str, Any], default: bool | None) -> bool | None:
    value = payload.get("showOrganization", default)
    if value is not None and not isinstance(value, bool):
        raise ValidationFailed("Some fields are not valid.",
                               fields={"showOrganization": ["Use true or false."]})
    return value


def _optional_body() -> dict[str, Any]:
    """The JSON object sent, or {} for no body."""
    return known_keys(json_body(), "showOrganization") if request.get_data() else {}


@bp.route("/me/profile")
def get_own_profile() -> Any:
    """The caller's profile: published or not, its public URL, what it lists."""
    return jsonify(own_profile_to_api(current_user))


@bp.route("/me/profile/publish", methods=["POST"])
def publish_own_profile() -> Any:
    """Publish the caller's profile at a new random URL (`showOrganization`: name their
    organization on it). 409 when it is published already (of two at once, one)."""
    show = _show_organization(_optional_body(), False)
    profiles.publish(current_user, current_actor(), show_organization=bool(show))
    return jsonify(own_profile_to_api(current_user)), 201


@bp.route("/me/profile/unpublish", methods=["POST"])
def unpublish_own_profile() -> Any:
    """Take the caller's profile down: its URL answers 404 at once. 409 when it is down."""
    profiles.unpublish(current_user, current_actor())
    return jsonify(own_profile_to_api(current_user))


@bp.route("/me/profile/new-link", methods=["POST"])
def new_own_profile_link() -> Any:
    """Retire the profile's URL (404 at once) and publish it under a new one."""
    profiles.new_link(current_user, current_actor())
    return jsonify(own_profile_to_api(current_user))


@bp.route("/me/profile", methods=["PATCH"])
def update_own_profile() -> Any:
    """Name (or stop naming) the caller's organization on their published profile
    (`showOrganization`); 404 when it is not published."""
    payload = known_keys(json_body(), "showOrganization")
    show = _show_organization(payload, None)
    if show is None:
        raise ValidationFailed("Send showOrganization.",
                               fields={"showOrganization": ["Use true or false."]})
    profiles.set_show_organization(current_user, current_actor(), show)
    return jsonify(own_profile_to_api(current_user))


@public_bp.route("/profiles/<slug>")
@limiter.limit(public_page_limit)
def public_profile(slug: str) -> Any:
    """A published earner profile (no login): the holder's name (and organization, if
    they chose), their valid certificates and micro-credentials with verify links and
    badge images. 404 when unknown, unpublished, or the holder is deactivated."""
    profile = profiles.public_profile(slug)
    if profile is None:
        raise NotFound("Profile not found.")
    return jsonify({"url": profiles.profile_url(profile),
                    "holder": _holder(profile.user, profile),
                    "entries": _entries(profile.user_id)})


@public_bp.after_request
def _headers(response: Response) -> Response:
    # As the page: never cached (unpublishing takes it down at once), not indexed.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Cache-Control"] = "no-store"
    return response
