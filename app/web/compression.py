"""Response compression (Flask-Compress) that does not open pages to BREACH.

A logged-in page carries the session's CSRF token beside input it reflects (/search?q=,
a refused form): compressed, the response's length tells an attacker who can make the
victim's browser send chosen input how much of it matches the token, one guess at a time.
So HTML and JSON answers to a request that carries credentials (the session or
remember-me cookie, an Authorization header) go out uncompressed; anonymous pages,
CSV/text downloads and static files (precompressed, app/web/static_assets.py) stay
compressed. Masking the token per response would keep compression, at the cost of
changing how Flask-WTF's token is issued and checked: this is the simpler safe choice.
"""

from __future__ import annotations

from flask import Response, current_app, request
from flask_compress import Compress

#: What a secret may sit in beside reflected input.
SECRET_BEARING = frozenset({"text/html", "application/json"})


def carries_credentials() -> bool:
    """Whether this request is someone's: a session or remember-me cookie, or a token."""
    config = current_app.config
    return bool(request.cookies.get(config["SESSION_COOKIE_NAME"])
                or request.cookies.get(config.get("REMEMBER_COOKIE_NAME", "remember_token"))
                or "Authorization" in request.headers)


class BreachSafeCompress(Compress):
    def after_request(self, response: Response | None) -> Response:
        if (response is not None and response.mimetype in SECRET_BEARING
                and carries_credentials()):
            return response
        return super().after_request(response)
