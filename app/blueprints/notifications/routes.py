"""A person's notifications: the bell, the list, read marks, and their preferences.

    GET  /me/notifications                  the list (?unread=1), newest first
    GET  /me/notifications/bell             the bell fragment (polled by htmx; 286 stops
                                            polling once the visitor is logged out)
    POST /me/notifications/<id>/read        mark one read -> its row
    POST /me/notifications/read-all         mark all read -> the list
    GET  /me/notifications/<id>/open        mark read and go to its link
    GET|POST /me/preferences                email/SMS preferences and phone number
    GET|POST /me/preferences/unsubscribe/<token>
                                            an email's List-Unsubscribe link: GET asks,
                                            POST (RFC 8058 one-click, no session, no CSRF
                                            token: the signed token is the authority)
                                            switches off exactly that preference

Only ever the current user's own notifications: another person's id is a 404. An
unsubscribe token that is forged, expired or no longer applies is a 404 too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.blueprints.notifications.forms import UserPreferencesForm
from app.extensions import csrf
from app.models import Audience, NotificationType
from app.services import notifications as service
from app.services import unsubscribe as unsubscribing
from app.services.pagination import clamp_page
from app.web.auth import current_actor
from app.web.forms import Form
from app.web.htmx import fragment_only, render, wants_fragment

bp = Blueprint("notifications", __name__, url_prefix="/me")
STOP_POLLING = 286  # htmx stops an `every` trigger on this status

ROW = "partials/notifications/row.html"
LIST = "partials/notifications/list.html"


def _changed(response: Response) -> Response:
    """Tell the page's bell to refresh itself (it listens for bell:refresh)."""
    response.headers["HX-Trigger"] = "bell:refresh"
    return response


def _list_context() -> dict[str, Any]:
    unread_only = request.args.get("unread") == "1"
    page = service.list_for(current_user, clamp_page(request.args.get("page")),
                            current_app.config["PAGE_SIZE"], unread_only=unread_only)
    return {"page": page, "unread_only": unread_only,
            "unread": service.unread_count(current_user), "types": NotificationType}


@bp.route("/notifications")
@login_required
def index() -> Any:
    return render("notifications/index.html", LIST, **_list_context())


@bp.route("/notifications/bell")
def bell() -> Any:
    if not current_user.is_authenticated:
        return Response("", status=STOP_POLLING)
    return fragment_only("partials/notifications/bell.html",
                         unread=service.unread_count(current_user))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int) -> Any:
    notification = service.mark_read(current_user, notification_id)  # NotFound -> 404
    if wants_fragment():
        return _changed(fragment_only(ROW, n=notification))
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all() -> Any:
    count = service.mark_all_read(current_user)
    if wants_fragment():
        return _changed(fragment_only(LIST, **_list_context()))
    flash(f"Marked {count} notification(s) read.", "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/<int:notification_id>/open", methods=["POST"])
@login_required
def open_link(notification_id: int) -> Any:
    notification = service.mark_read(current_user, notification_id)  # NotFound -> 404
    link = notification.link or ""
    # Only paths inside the portal: a stored link never sends anyone elsewhere.
    target = link if link.startswith("/") and not link.startswith("//") else None
    return redirect(target or url_for("notifications.index"))


def preferences_page(form: Form, names: list[str], save: Callable[[dict[str, Any]], None],
                     *, action: str, audience: Audience, saved_message: str,
                     **labels: str) -> Any:
    """A preferences form (a person's or an organization's): GET shows it; a valid POST
    calls `save` with the fields and answers the form with "saved" (htmx) or
    redirects back (plain form); an invalid one re-renders it with 422."""
    saved, status = False, 200
    if request.method == "POST":
        if form.validate():
            save({name: form[name].data for name in form._fields})
            if not wants_fragment():
                flash(saved_message, "success")
                return redirect(action)
            saved = True
        else:
            status = 422
    return render("notifications/preferences.html", "partials/notifications/preferences_form.html",
                  status=status, form=form, saved=saved, names=names,
                  table=service.preference_table(audience), action=action, **labels)


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> Any:
    def save(values: dict[str, Any]) -> None:
        values["phone"] = (values.get("phone") or "").strip() or None
        service.update_user_preferences(current_user, values, current_actor())

    return preferences_page(UserPreferencesForm(obj=current_user), list(service.USER_PREFERENCES),
                            save, action=url_for("notifications.preferences"),
                            audience=Audience.SELF, saved_message="Preferences saved.",
                            heading="Notification preferences", legend="Send me",
                            intro="Your own email and text message settings.")


@bp.route("/preferences/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Any:
    """An email's List-Unsubscribe link (app/services/unsubscribe.py)."""
    subscription = unsubscribing.read(token)  # NotFound -> 404
    done = None
    if request.method == "POST":
        done = unsubscribing.switch_off(subscription, request.remote_addr)
    response = Response(render_template(
        "notifications/unsubscribe.html", subscription=subscription, token=token, done=done,
        settings_url=url_for(unsubscribing.settings_endpoint(subscription.audience))))
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    response.headers["Cache-Control"] = "no-store"
    return response


csrf.exempt(unsubscribe)  # a mail client's one-click POST has no session or CSRF token
