"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, Response

# No inline script or style anywhere: htmx runs with allowEval=false and its indicator
# styles come from our stylesheet, so 'unsafe-inline'/'unsafe-eval' are never needed.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _defaults(production: bool) -> tuple[tuple[str, str], ...]:
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if production:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return tuple(headers)


def default_headers(app: Flask) -> tuple[tuple[str, str], ...]:
    """The headers every response carries unless it sets its own (pages through the
    after_request hook below, static files through WhiteNoise's add_headers_function)."""
    return _defaults(app.config["APP_ENV"] == "production")


def add_headers(response: Response, defaults: tuple[tuple[str, str], ...]) -> Response:
    """Every default the response does not set itself, and no-store on pages (the
    after_request hook below; app/blueprints/verify/lean.py calls it directly)."""
    headers = response.headers
    # One pass over the response's headers, not one per default (Headers is a list:
    # eight setdefault calls cost more than the rest of a small public page's hooks).
    present = {key.lower() for key in headers.keys()}
    for key, value in defaults:
        if key.lower() not in present:
            headers.add(key, value)
    if response.mimetype == "text/html" and "cache-control" not in present:
        # Pages show personal data; never keep them in shared caches.
        headers.add("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    defaults = default_headers(app)

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        return add_headers(response, defaults)
