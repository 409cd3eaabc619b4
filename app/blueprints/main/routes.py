"""Landing, health check, the learner's page (and their own certificate PDFs) and the org
admin's page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, url_for
from flask_login import current_user, login_required
from sqlalchemy import select, text

from app.blueprints.profiles.routes import panel_context as profile_panel
from app.extensions import db
from app.models import Notification, Role
from app.services import certificates, dashboards, dates, teaching, training
from app.services import credentials as mc
from app.web.files import private_file
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
    """{"status": "ok" | "degraded" | "error", "checks": {...}, "degraded": [...]}.

    The database is required: without it the answer is 503 ("error"). Redis is not: with
    it down, logins and verification keep working (rate limits count in-process) and
    committed jobs wait in the outbox, so the answer is 200 "degraded" naming the
    component, and a load balancer keeps the instance in rotation (an outage of the
    shared Redis must not take every instance out at once); monitoring alerts on it."""
    checks: dict[str, str] = {}
    degraded: list[str] = []
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {exc.__class__.__name__}"
    if current_app.config["REDIS_URL"]:
        try:
            from redis import Redis

            Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=1,
                           socket_connect_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc.__class__.__name__}"
            degraded.append("redis")
    else:
        checks["redis"] = "not configured (jobs run inline)"
    body: dict[str, Any] = {"checks": checks, "degraded": degraded}
    if checks["database"] == "ok":
        from app.services import jobs as jobs_service

        body["outbox_pending"] = jobs_service.outbox_backlog().pending
        body["status"] = "degraded" if degraded else "ok"
        return jsonify(body), 200
    body["status"] = "error"  # the boundary ends this GET's (failed) transaction
    return jsonify(body), 503


@bp.route("/me")
@login_required
def me() -> Any:
    notifications = db.session.scalars(
        select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.id.desc()).limit(5)
    ).all()
    today = dates.today()
    enrolments = training.learner_enrolments(current_user)
    return render("main/me.html", notifications=notifications,
                  credentials=mc.credentials_of(current_user), today=today,
                  enrolments=enrolments,
                  due_next=dashboards.learner.due_next(current_user, enrolments, today),
                  certificates=certificates.certificates_of(current_user.id),
                  verifications=certificates.verifications_of(current_user.id),
                  sessions_to_rate=teaching.sessions_to_rate(current_user.id),
                  **profile_panel())


@bp.route("/me/certificates/<int:certificate_id>.pdf")
@login_required
def certificate_pdf(certificate_id: int) -> Any:
    """The holder's own certificate PDF, as a download named by its number. Someone
    else's certificate (or an unknown id) is 404; so is one that is not issued, with the
    reason (certificates.holder_pdf). While the PDF job is still rendering it: 202 with a
    page saying so, reloading itself (Retry-After), never a broken file."""
    certificate, data = certificates.holder_pdf(current_user.id, certificate_id)
    if data is None:
        response = render("main/pdf_pending.html", status=202, certificate=certificate)
        response.headers["Retry-After"] = "5"
        response.headers["Refresh"] = "5"  # the browser asks again by itself
        response.headers["Cache-Control"] = "private, no-store"
        return response
    return private_file(data, "application/pdf", f"{certificate.number}.pdf")
