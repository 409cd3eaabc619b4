"""Log in, log out; passwords (change, forgot, the emailed set-password link); personal
API tokens on the settings pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from app.blueprints.auth.forms import (
    ApiTokenForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    SetPasswordForm,
)
from app.extensions import limiter
from app.models import AccountTokenPurpose
from app.services import accounts
from app.services import auth as auth_service
from app.services.errors import AuthenticationFailed
from app.web.auth import current_actor
from app.web.boundary import commit_despite_error, submit
from app.web.htmx import render

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
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            user = auth_service.authenticate(form.email.data, form.password.data, current_actor())
        except AuthenticationFailed as exc:
            # The LOGIN_FAILED audit row and the account's failure count are the record.
            commit_despite_error()
            form.form_errors.append(exc.message)
            status = exc.status
            if isinstance(exc, auth_service.LoginThrottled):
                headers["Retry-After"] = str(exc.retry_after)
        else:
            # A fresh session at login: nothing from before carries over.
            session.clear()
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    elif request.method == "POST":
        status = 422
    return render_template("auth/login.html", form=form), status, headers


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
    user = current_user._get_current_object()
    status = 200
    if request.method == "POST":
        submit(form, lambda: auth_service.change_password(
            user, form.current_password.data, form.password.data, current_actor()))
        if form.status == 200:
            # Every session and API token of this user has ended; this session goes on.
            login_user(user)
            flash("Your password is changed. Your other sessions are logged out and your "
                  "API tokens revoked.", "success")
            return redirect(url_for("main.me"))
        status = form.status
    return render_template("auth/password.html", form=form), status


def _private(response: Any) -> Any:
    """A page whose URL holds a secret: never cached, never sent on as a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], methods=["POST"])
def forgot_password() -> Any:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same answer and the same work whoever the email belongs to: a queued job.
        accounts.request_reset(form.email.data, current_actor())
        return render_template("auth/forgot_password.html", form=form, sent=True)
    status = 422 if request.method == "POST" else 200
    return render_template("auth/forgot_password.html", form=form, sent=False), status


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["PASSWORD_RESET_RATE_LIMIT"], methods=["POST"])
def set_password(token: str) -> Any:
    """The emailed link (an invitation or a reset): choose a password, then log in."""
    link = accounts.live_link(token)
    if link is None:
        return _private(make_response(render_template("auth/link_gone.html"), 404))
    invitation = link.purpose == AccountTokenPurpose.INVITATION
    form = SetPasswordForm()
    status = 200
    if request.method == "POST":
        if submit(form, lambda: accounts.redeem(token, form.password.data,
                                                current_actor())) is not None:
            logout_user()
            session.clear()
            flash("Your password is set. Log in with it now." if invitation else
                  "Your password is changed and your other sessions are logged out. Log in "
                  "with the new password.", "success")
            return redirect(url_for("auth.login"))
        status = form.status
    return _private(make_response(render_template(
        "auth/set_password.html", form=form, invitation=invitation, user=link.user), status))


# --- personal API tokens (Settings) ---------------------------------------------------

def _tokens_page(form: ApiTokenForm, status: int = 200, created: str | None = None) -> Any:
    user = current_user._get_current_object()
    response = render("auth/tokens.html", "partials/auth/tokens.html", status=status,
                      form=form, created=created, tokens=auth_service.api_tokens_of(user),
                      state=auth_service.token_state)
    if created:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/me/tokens")
@login_required
def tokens() -> Any:
    return _tokens_page(ApiTokenForm(formdata=None))


@bp.route("/me/tokens", methods=["POST"])
@login_required
def create_token() -> Any:
    form = ApiTokenForm()
    user = current_user._get_current_object()
    made = submit(form, lambda: auth_service.create_api_token(
        user, form.name.data, current_actor(), form.expires_in_days.data))
    if made is None:
        return _tokens_page(form, status=form.status)
    # The plaintext is shown in this answer only; it is stored hashed.
    return _tokens_page(ApiTokenForm(formdata=None), status=201, created=made[1])


@bp.route("/me/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> Any:
    token = auth_service.own_api_token(current_user._get_current_object(), token_id)
    auth_service.revoke_api_token(token, current_actor())
    if not request.headers.get("HX-Request"):
        flash(f"Token {token.name} revoked.", "success")
        return redirect(url_for("auth.tokens"))
    return _tokens_page(ApiTokenForm(formdata=None))
