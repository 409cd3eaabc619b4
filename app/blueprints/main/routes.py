"""Landing, health check, the learner's page and the org admin's page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, text

from app.extensions import db
from app.models import Notification, Role
from app.services import certificates, dates, teaching, training
from app.services import credentials as mc
from app.web.htmx import render

bp = Blueprint("main", __name__)

HOME_BY_ROLE = {
    Role.ADMIN: "admin.dashboard",
    Role.MANAGER: "admin.dashboard",
    Role.ORG_ADMIN: "org.matrix",
    Role.STAFF: "main.me",
}


@bp.route("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE[current_user.role]))


@bp.route("/healthz")
def healthz() -> Any:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {exc.__class__.__name__}"
    if current_app.config["REDIS_URL"]:
        try:
            from redis import Redis

            Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc.__class__.__name__}"
    else:
        checks["redis"] = "not configured (jobs run inline)"
    healthy = all(v == "ok" or v.startswith("not configured") for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503


@bp.route("/me")
@login_required
def me() -> Any:
    notifications = db.session.scalars(
        select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.id.desc()).limit(5)
    ).all()
    return render("main/me.html", notifications=notifications,
                  credentials=mc.credentials_of(current_user), today=dates.today(),
                  enrolments=training.learner_enrolments(current_user),
                  certificates=certificates.certificates_of(current_user.id),
                  verifications=certificates.verifications_of(current_user.id),
                  sessions_to_rate=teaching.sessions_to_rate(current_user.id))
