"""Earner profiles: the public page and the holder's controls on /me.

    GET  /p/<slug>                     the public profile (no login; 404 when down)
    POST /me/profile/publish           publish (htmx: the panel on /me)
    POST /me/profile/unpublish         take it down at once
    POST /me/profile/new-link          retire the link, publish under a new one
    POST /me/profile/organization      name (or stop naming) the organization

The public page, like /verify, is `Referrer-Policy: no-referrer`, `X-Robots-Tag:
noindex`, never cached (`Cache-Control: no-store`: unpublishing takes it down at once),
rate limited per address (VERIFY_RATE_LIMIT), and starts no session."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, request, url_for
from flask_login import current_user, login_required

from app.extensions import limiter, public_page_limit
from app.models import Certificate
from app.services import profiles, urls, verification
from app.web.auth import current_actor
from app.web.boundary import attempt
from app.web.htmx import render, wants_fragment

bp = Blueprint("profiles", __name__)


@bp.app_template_global()
def certificate_og_image(record: Any) -> str | None:
    """The badge image of a /verify page's certificate (absolute), for its Open Graph
    card; None when there is no certificate."""
    # From the record's own columns: a page rendered on a cache miss reads nothing more.
    return verification.image_url(record)


@bp.app_template_global()
def embed_snippet(certificate: Certificate) -> str:
    """The HTML a holder pastes into a web page: the badge image linking to the
    certificate's verify page (no script, no iframe)."""
    from markupsafe import escape

    title = escape(profiles.certificate_title(certificate))
    return (f'<a href="{escape(urls.verify_url(certificate.verification_id or ""))}" '
            f'title="{title}"><img src="{escape(profiles.certificate_image_url(certificate))}" '
            f'alt="{title}" width="120" height="120"></a>')


@bp.route("/p/<slug>")
@limiter.limit(public_page_limit)
def public(slug: str) -> Any:
    profile = profiles.public_profile(slug)
    if profile is None:
        abort(404)
    entries = profiles.entries_of(profile.user_id)
    response = render("profiles/public.html", profile=profile, holder=profile.user,
                      entries=entries, profile_url=profiles.profile_url(profile))
    return response


@bp.after_request
def _headers(response: Response) -> Response:
    if request.endpoint == "profiles.public":
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Cache-Control"] = "no-store"
    return response


def _panel(error: Any = None, status: int = 200) -> Any:
    """The profile panel (htmx), or back to /me for a plain form post."""
    if not wants_fragment():
        return redirect(url_for("main.me") + "#public-profile")
    return render("main/me.html", "partials/profiles/panel.html", status=status,
                  **panel_context(error))


def panel_context(error: Any = None) -> dict[str, Any]:
    profile = profiles.published_profile_of(current_user.id)
    return {"profile": profile,
            "profile_url": profiles.profile_url(profile) if profile is not None else None,
            "profile_certificates": profiles.valid_certificates(current_user.id),
            "profile_error": error}


def _act(action: Any) -> Any:
    _, error = attempt(action)
    if error is not None:
        # Already so (a double-click): the panel as it is now, with the notice.
        return _panel(error, 200 if error.code == "conflict" else error.status)
    return _panel()


@bp.route("/me/profile/publish", methods=["POST"])
@login_required
def publish() -> Any:
    show = request.form.get("show_organization") in ("1", "on", "y", "true")
    return _act(lambda: profiles.publish(current_user, current_actor(), show_organization=show))


@bp.route("/me/profile/unpublish", methods=["POST"])
@login_required
def unpublish() -> Any:
    return _act(lambda: profiles.unpublish(current_user, current_actor()))


@bp.route("/me/profile/new-link", methods=["POST"])
@login_required
def new_link() -> Any:
    return _act(lambda: profiles.new_link(current_user, current_actor()))


@bp.route("/me/profile/organization", methods=["POST"])
@login_required
def organization() -> Any:
    show = request.form.get("show_organization") in ("1", "on", "y", "true")
    return _act(lambda: profiles.set_show_organization(current_user, current_actor(), show))
