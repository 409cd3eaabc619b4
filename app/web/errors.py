"""Errors answered in the form the request wants: `{"error": {...}}` JSON under /api/, a
small message fragment for htmx (retargeted to the page's message area, never a whole
page inside a page), and a full error page otherwise. Every handler rolls the request's
transaction back (app/web/boundary.py commits only successes)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import AlreadyDone, ServiceError
from app.web.auth import is_api_request
from app.web.htmx import fragment_only, wants_fragment

log = logging.getLogger(__name__)

# Where every page shows messages (base.html), and the fragment htmx swaps into it.
MESSAGE_AREA = "#flashes"
MESSAGE_FRAGMENT = "partials/message.html"

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    422: "validation_failed", 429: "rate_limited", 500: "server_error",
}
TITLES = {
    400: "Bad request", 401: "Please log in", 403: "Not allowed", 404: "Page not found",
    405: "Method not allowed", 409: "Conflict", 413: "File too large",
    422: "Check the form", 429: "Too many requests", 500: "Something went wrong",
}
MESSAGES = {
    403: "You do not have permission to see this page.",
    404: "There is nothing at this address.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "The error has been logged. Please try again in a moment.",
}


def error_response(status: int, message: str, code: str | None = None,
                   fields: dict | None = None, *, notice: bool = False) -> Any:
    """`notice`: the refusal says the outcome holds already (AlreadyDone): pages show it
    as information, not as an error."""
    if is_api_request():
        error: dict[str, Any] = {"code": code or CODES.get(status, "error"), "message": message}
        if fields:
            error["fields"] = fields
        response = jsonify({"error": error})
        response.status_code = status
        return response
    if wants_fragment():
        response = fragment_only(MESSAGE_FRAGMENT, status=status, message=message,
                                 title=TITLES.get(status, "Error"), notice=notice)
        response.headers["HX-Retarget"] = MESSAGE_AREA
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    html = render_template("errors/error.html", status=status,
                           title=TITLES.get(status, "Error"), message=message)
    return html, status


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Any:
        db.session.rollback()
        return error_response(exc.status, exc.message, exc.code, exc.fields,
                              notice=isinstance(exc, AlreadyDone))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        db.session.rollback()
        return error_response(400, "The form expired or was not sent from this site. "
                                   "Reload the page and try again.", "csrf_failed")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        db.session.rollback()
        status = exc.code or 500
        message = MESSAGES.get(status) or exc.description or TITLES.get(status, "Error")
        response = make_response(error_response(status, message))
        if status == 429:
            response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(Exception)
    def unhandled(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, MESSAGES[500])
