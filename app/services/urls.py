"""Absolute URLs for everything that leaves the site (JSON answers, PDFs, QR codes,
credentials, emails): always built on PUBLIC_BASE_URL from the application's own URL
map, never from the current request's Host, so a worker (no request) and an admin's
request on an internal host print the same canonical address."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import BuildError, MapAdapter

log = logging.getLogger(__name__)


def public_base() -> str:
    """PUBLIC_BASE_URL without its trailing slash."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def public_url(endpoint: str, /, **values: Any) -> str:
    """The absolute public URL of `endpoint` (with or without a request context).

    Raises werkzeug's BuildError when the endpoint is unknown or `values` do not fit."""
    return _public_adapter().build(endpoint, values, force_external=True)


def _public_adapter() -> MapAdapter:
    """The URL map bound to PUBLIC_BASE_URL, kept per app while that stays the same (a
    bound adapter only reads the map: the public check builds two URLs a page)."""
    base = public_base()
    kept = current_app.extensions.get("credwright.public_adapter")
    if kept is None or kept[0] != base:
        parts = urlsplit(base)
        kept = (base, current_app.url_map.bind(parts.netloc, script_name=parts.path or "/",
                                               url_scheme=parts.scheme or "https"))
        current_app.extensions["credwright.public_adapter"] = kept
    return kept[1]


def site_path(endpoint: str, /, **values: Any) -> str:
    """The path of `endpoint` inside the portal ("/me/certificates/7.pdf"), without
    PUBLIC_BASE_URL: what a notification's link stores (public_link() makes it absolute,
    and the in-app "open" only follows such paths)."""
    return current_app.url_map.bind("localhost").build(endpoint, values)


def public_link(path: str | None) -> str:
    """An absolute public URL for a site path ("/me", a notification's link); an
    absolute URL is returned as it is, no path is the notifications page."""
    if not path:
        return public_url("notifications.index") if "notifications.index" in \
            current_app.view_functions else f"{public_base()}/me/notifications"
    if path.startswith(("http://", "https://")):
        return path
    return f"{public_base()}/{path.lstrip('/')}"


def verify_url(verification_id: str) -> str:
    """A certificate's public verify page: the route "verify.certificate" once that
    blueprint is registered, and <PUBLIC_BASE_URL>/verify/<id> (its contract) until then."""
    if "verify.certificate" in current_app.view_functions:
        if _URL_SAFE.fullmatch(verification_id):  # every id we issue: nothing to quote
            around = _verify_url_around()
            if around is not None:
                return f"{around[0]}{verification_id}{around[1]}"
        try:
            return public_url("verify.certificate", verification_id=verification_id)
        except BuildError:  # pragma: no cover - the route takes other arguments
            log.exception("verify.certificate did not build; printing /verify/<id>")
    return f"{public_base()}/verify/{verification_id}"


_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_PLACEHOLDER = "ID" * 16


def _verify_url_around() -> tuple[str, str] | None:
    """The verify page's public URL around its id, built once per app and base (each
    public check's answer names its certificate's)."""
    base = public_base()
    kept = current_app.extensions.get("credwright.verify_url_around")
    if kept is None or kept[0] != base:
        try:
            built = public_url("verify.certificate", verification_id=_PLACEHOLDER)
        except BuildError:  # pragma: no cover - the route takes other arguments
            return None
        before, found, after = built.partition(_PLACEHOLDER)
        kept = (base, (before, after) if found else None)
        current_app.extensions["credwright.verify_url_around"] = kept
    return kept[1]
