"""Renewal campaigns: started from a track's page, and the invitee's link.

    POST /admin/tracks/<id>/renewals      start a campaign (admins, managers; htmx panel)
    GET  /admin/tracks/<id>/renewals      the campaigns panel (htmx; polled while sending)
    GET  /renewals/<invitation id>        the invitee's invitation (login; theirs only)
    POST /renewals/<invitation id>/re-enrol  re-enrol in the track, then open it
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.models import CertificationTrack, Role
from app.services import renewals, training
from app.services.errors import NotFound
from app.web.auth import current_actor, guard_blueprint
from app.web.boundary import attempt
from app.web.htmx import render, wants_fragment

admin_bp = Blueprint("renewals_admin", __name__, url_prefix="/admin")
guard_blueprint(admin_bp, [Role.ADMIN, Role.MANAGER])
bp = Blueprint("renewals", __name__)


@admin_bp.app_template_global()
def renewal_campaigns_of(track: CertificationTrack) -> list[Any]:
    """The track's latest renewal campaigns, newest first (the track page's panel)."""
    return renewals.campaigns_of(track)


@admin_bp.route("/tracks/<int:track_id>/renewals")
def panel(track_id: int) -> Any:
    """The track's campaign panel (htmx polls it while a campaign is sending); the page
    itself is the track's."""
    track = training.get_track(track_id)
    if not wants_fragment():
        return redirect(url_for("training.track", track_id=track.id) + "#renewals")
    return render("training/track.html", "partials/renewals/panel.html", track=track)


@admin_bp.route("/tracks/<int:track_id>/renewals", methods=["POST"])
def start(track_id: int) -> Any:
    track = training.get_track(track_id)
    raw = request.form.get("within_days", "")
    _, error = attempt(lambda: renewals.start_campaign(track, current_actor(), raw))
    status = 200 if error is None or error.code == "conflict" else error.status
    if not wants_fragment():
        if error is not None:
            flash(error.message, "info" if error.code == "conflict" else "error")
        return redirect(url_for("training.track", track_id=track.id) + "#renewals")
    return render("training/track.html", "partials/renewals/panel.html", status=status,
                  track=track, renewal_error=error, within_days=raw)


@bp.route("/renewals/<int:invitation_id>")
@login_required
def invitation(invitation_id: int) -> Any:
    found = renewals.invitation_of(current_user, invitation_id)
    return render("renewals/invitation.html", invitation=found, track=found.campaign.track)


@bp.route("/renewals/<int:invitation_id>/re-enrol", methods=["POST"])
@login_required
def re_enrol(invitation_id: int) -> Any:
    found = renewals.invitation_of(current_user, invitation_id)
    track_id = found.campaign.track_id
    _, error = attempt(lambda: renewals.accept(found, current_user, current_actor()))
    if error is not None and error.code != "conflict":
        if isinstance(error, NotFound):
            raise error
        return render("renewals/invitation.html", status=error.status, invitation=found,
                      track=found.campaign.track, error=error.message)
    if error is not None:  # re-enrolled already (a double-click): open the track
        flash(error.message, "info")
    else:
        flash("You are re-enrolled: work through the courses to renew your certificate.",
              "success")
    return redirect(url_for("learn.track", track_id=track_id))
