"""One helper decides whether a request gets a fragment or the full page."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request


def wants_fragment() -> bool:
    """An htmx request that is neither boosted nor a history restore wants a fragment."""
    hx = getattr(request, "htmx", None)
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def render(page: str, fragment: str | None = None, /, *, status: int = 200,
           **context: Any) -> Response:
    """Render `fragment` for htmx requests and `page` otherwise (pages include the fragment)."""
    template = fragment if fragment is not None and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def fragment_only(fragment: str, /, *, status: int = 200, **context: Any) -> Response:
    """For endpoints that only ever answer htmx (they still vary on HX-Request)."""
    response = make_response(render_template(fragment, **context), status)
    response.vary.add("HX-Request")
    return response
