"""/people/<id>: one person as platform admins, implementation managers and org admins
(their own organization's people only; anyone else is 404) see them: micro-credentials,
tracks with course progress and quiz attempts, certificates, and (platform admins) the
latest audit entries about them. Read only; staff get 403."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for
from flask_login import current_user

from app.models import Role, User
from app.services import audit_text, dates, people
from app.web.auth import guard_blueprint
from app.web.htmx import render

bp = Blueprint("people", __name__, url_prefix="/people")
guard_blueprint(bp, people.OVERSEERS)


@bp.app_template_global()
def person_href(user: User | None) -> str | None:
    """The person page's URL when the viewer may open it (the person_link macro)."""
    if (user is None or not current_user.is_authenticated
            or current_user.role not in people.OVERSEERS
            or not people.may_see(current_user, user)):
        return None
    return url_for("people.person", user_id=user.id)


@bp.route("/<int:user_id>")
def person(user_id: int) -> Any:
    person = people.visible_person(current_user, user_id)
    overview = people.person_overview(current_user, person)
    return render("people/person.html", person=person, overview=overview,
                  audit_words=audit_text.describe(overview.audit or []),
                  today=dates.today(), learner_url=_learner_url,
                  is_admin=current_user.role == Role.ADMIN,
                  # Evidence is the holder's, their org admin's and platform admins'
                  # (credentials.can_see): a manager sees the file's name only.
                  evidence_access=current_user.role in (Role.ADMIN, Role.ORG_ADMIN))


def _learner_url(track_id: int, user_id: int) -> str:
    """The manager's view of this learner on the track (attempts, retakes); org admins
    get no link (it is for managers and admins)."""
    if current_user.role not in (Role.ADMIN, Role.MANAGER):
        return ""
    return url_for("training.learner", track_id=track_id, user_id=user_id)
