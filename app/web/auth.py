"""Who is asking: session cookies for pages, Bearer tokens for the API, and role guards."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, abort, after_this_request, g, jsonify, redirect, request, url_for
from flask_login import LoginManager, current_user

from app.extensions import csrf
from app.models import Role, User
from app.services import auth as auth_service
from app.services.context import Actor

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def init_login_manager(login_manager: LoginManager) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(cookie_id: str) -> User | None:
        return auth_service.load_session_user(cookie_id)

    @login_manager.request_loader
    def load_user_from_token(req: Any) -> User | None:
        if not is_api_request():
            return None
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        use = auth_service.use_api_token(token.strip())
        if use is None:
            return None
        g.api_token_auth = True
        if use.touch:
            token_id = use.token_id

            @after_this_request
            def record_use(response: Any) -> Any:
                # After the request's own transaction ended: a GET still writes nothing.
                auth_service.touch_api_token(token_id)
                return response
        return use.user

    @login_manager.unauthorized_handler
    def unauthorized() -> Any:
        if is_api_request():
            response = jsonify({"error": {"code": "unauthorized",
                                          "message": "Authentication required."}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="credwright"'
            return response
        login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
        if getattr(request, "htmx", False):
            # An htmx request whose session ended: send the whole page to the login form.
            response = jsonify({})
            response.headers["HX-Redirect"] = login_url
            response.status_code = 401
            return response
        return redirect(login_url)


def current_actor() -> Actor:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return Actor(user=user, ip=request.remote_addr)


def allow_roles(*roles: Role) -> Callable:
    """Widen a guarded blueprint's default roles for one view."""

    def decorator(view: Callable) -> Callable:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return decorator


def guard_blueprint(bp: Blueprint, default_roles: Iterable[Role], *, api: bool = False) -> None:
    """Every route of `bp` needs a logged-in user with one of the roles.

    Anonymous visitors are sent to log in (401 for the API); other roles get 403. A view
    may widen the roles with @allow_roles. The API also needs CSRF when it is called with
    a session cookie rather than a Bearer token.
    """
    from flask import current_app

    default = frozenset(default_roles)

    @bp.before_request
    def _guard() -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        view = current_app.view_functions.get(request.endpoint or "")
        allowed = getattr(view, "allowed_roles", default)
        if current_user.role not in allowed:
            abort(403)
        if (api and request.method not in SAFE_METHODS and not g.get("api_token_auth")
                and current_app.config.get("WTF_CSRF_ENABLED", True)):
            csrf.protect()
        return None
