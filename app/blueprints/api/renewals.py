"""/api/admin/renewal-campaigns: a track's renewal campaigns for integrations (list,
start, read with what they led to), for admins and managers as on the track's page, on
the same service (app/services/renewals.py)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from app.blueprints.api.routes import admin_bp, json_body, known_keys, page_args, page_json
from app.models import RenewalCampaign, Role
from app.services import renewals, training
from app.services.errors import ValidationFailed
from app.services.fields import parse_id
from app.services.pagination import paginate
from app.web.auth import allow_roles, current_actor

MANAGERS = (Role.ADMIN, Role.MANAGER)


def campaign_to_api(campaign: RenewalCampaign, *, counts: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": campaign.id, "trackId": campaign.track_id, "withinDays": campaign.within_days,
        "startedOn": campaign.started_on.isoformat(),
        "startedBy": campaign.started_by_id, "status": campaign.status.value.lower(),
        "invited": campaign.invited_count, "reEnrolled": campaign.re_enrolled_count,
        "finishedAt": campaign.finished_at.isoformat() if campaign.finished_at else None}
    if counts:
        outcome = renewals.outcome_counts(campaign)
        data["counts"] = {"invited": outcome["invited"], "reEnrolled": outcome["re_enrolled"],
                          "renewed": outcome["renewed"]}
    return data


@admin_bp.route("/renewal-campaigns")
@allow_roles(*MANAGERS)
def list_renewal_campaigns() -> Any:
    """Every renewal campaign, newest first (`trackId`: one track's)."""
    raw = request.args.get("trackId")
    try:  # (strict: trackId=abc is refused, not read as "every track")
        track_id = parse_id(raw) if raw is not None else None
    except ValueError as exc:
        raise ValidationFailed("trackId must be a track's id.",
                               fields={"trackId": ["Not an id."]}) from exc
    page = paginate(renewals.list_campaigns(track_id), *page_args())
    return jsonify(page_json(page, [campaign_to_api(c) for c in page.items]))


@admin_bp.route("/tracks/<int:track_id>/renewal-campaigns", methods=["POST"])
@allow_roles(*MANAGERS)
def start_renewal_campaign(track_id: int) -> Any:
    """Start a campaign (`withinDays`, 1-365): the holders of the track's certificates
    expiring within that many days are invited to re-enrol. One per track per day: 409
    when one started today already (a second request, or another admin)."""
    track = training.get_track(track_id)
    payload = known_keys(json_body(), "withinDays")
    try:
        campaign = renewals.start_campaign(track, current_actor(), payload.get("withinDays"))
    except ValidationFailed as exc:
        exc.fields = {"withinDays" if k == "within_days" else k: v for k, v in exc.fields.items()}
        raise
    return jsonify(campaign_to_api(campaign, counts=True)), 201


@admin_bp.route("/renewal-campaigns/<int:campaign_id>")
@allow_roles(*MANAGERS)
def get_renewal_campaign(campaign_id: int) -> Any:
    """A campaign with what it led to: invited, re-enrolled, renewed."""
    return jsonify(campaign_to_api(renewals.get_campaign(campaign_id), counts=True))
