"""Log in, log out, change password."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth.forms import LoginForm, PasswordChangeForm
from app.extensions import limiter
from app.services import auth as auth_service
from app.services.errors import AuthenticationFailed
from app.web.auth import current_actor
from app.web.boundary import commit_despite_error

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never another host, scheme or a protocol-relative URL."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _failed_login(response: Any) -> bool:
    # Only failed attempts count toward the limit; a success redirects.
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"],
               deduct_when=_failed_login)
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = auth_service.authenticate(form.email.data, form.password.data, current_actor())
        except AuthenticationFailed as exc:
            commit_despite_error()  # the LOGIN_FAILED audit row is the record of it
            form.form_errors.append(exc.message)
            status = 401
        else:
            # A fresh session at login: nothing from before carries over.
            session.clear()
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Any:
    if request.method == "GET":
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        return render_template("auth/logout.html")
    if current_user.is_authenticated:
        auth_service.logout(current_user._get_current_object(), current_actor())
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not auth_service.password_matches(user, form.current_password.data):
            form.current_password.errors.append("That is not your current password.")
            status = 422
        else:
            auth_service.set_password(user, form.password.data, current_actor())
            # Every other session of this user is now logged out; keep this one.
            login_user(user)
            flash("Your password is changed. Other sessions have been logged out.", "success")
            return redirect(url_for("main.me"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form), status
