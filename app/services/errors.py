"""Errors raised by services; views and the JSON API turn them into responses."""

from __future__ import annotations


class ServiceError(Exception):
    """A rule refused the operation. Nothing the service did is left flushed."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_failed"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class AlreadyDone(Conflict):
    """What the request asked for holds already (a double-click, or another admin a
    moment ago): still 409 with code "conflict" for the API, but pages show it as a
    notice, not an error — nothing went wrong for the person."""


class AuthenticationFailed(ServiceError):
    status = 401
    code = "authentication_failed"


class PayloadTooLarge(ServiceError):
    status = 413
    code = "payload_too_large"
