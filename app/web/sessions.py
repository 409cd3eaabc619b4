"""Flask's signed-cookie sessions, without the work when a request brings no cookie."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask builds the cookie's signer before it looks for the cookie; an anonymous
    request (most of the public verification traffic) has none to check, so it gets an
    empty session straight away. Behaviour is otherwise Flask's own."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
