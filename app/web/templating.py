"""Template globals and filters."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, request, url_for
from markupsafe import Markup, escape

from app.models import (
    CertificateStatus,
    CertificateType,
    ContentType,
    CredentialStatus,
    ProgressStatus,
    Role,
)

# htmx runs without eval; 409/413/422 answers (a form with field errors, a row with its
# message) are swapped like 200s.
HTMX_CONFIG = json.dumps({
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    "selfRequestsOnly": True,
    "historyCacheSize": 0,
    "refreshOnHistoryMiss": True,
    # Not "style": settling it would copy inline styles, which the CSP refuses.
    "attributesToSettle": ["class", "width", "height"],
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "(409|413|422)", "swap": True},
        # Other failures come back as a message aimed at the page's message area
        # (HX-Retarget, app/web/errors.py): swap it, and still tell app.js it failed.
        {"code": "[45]..", "swap": True, "error": True},
    ],
}, separators=(",", ":"))


def url_with(_endpoint: str | None = None, **changes: Any) -> str:
    """The current URL with some query arguments changed (None removes one); with
    `_endpoint`, the same arguments on another page (a list shown inside a detail page)."""
    endpoint = _endpoint or request.endpoint or "main.index"
    # A query argument named like url_for's own parameters (endpoint, _method, _external,
    # ...) or like one of the target route's path arguments is not the page's to pass on:
    # ?endpoint=x or ?_method=POST would be a TypeError/BuildError (a 500), and
    # ?definition_id= on /<definition_id>/staff a clash with the path.
    reserved = _route_arguments(endpoint)
    args = {key: value for key, value in request.args.items()
            if key != "endpoint" and not key.startswith("_") and key not in reserved}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    if _endpoint is not None:
        return url_for(_endpoint, **args)
    # The path's own values (/people/<user_id>) are the current page's.
    return url_for(endpoint, **{**args, **(request.view_args or {})})


def _route_arguments(endpoint: str) -> set[str]:
    """The path arguments of every rule of `endpoint`."""
    try:
        rules = list(current_app.url_map.iter_rules(endpoint))
    except KeyError:  # url_for will say what is wrong with the endpoint
        return set()
    return {name for rule in rules for name in rule.arguments}


_SENTINEL = 2147483647  # an id no URL of the map holds otherwise


def url_parts(_endpoint: str, _key: str, **values: Any) -> tuple[str, str]:
    """The URL of `_endpoint` split around its `_key` path value, built once for a list:
    a row's URL is then `parts[0] ~ row.id ~ parts[1]`, the same string url_for gives,
    without building it per row (a page of 25 rows built ~100 URLs)."""
    url = url_for(_endpoint, **{_key: _SENTINEL}, **values)
    before, _, after = url.partition(str(_SENTINEL))
    return before, after


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.strftime(fmt) + (" UTC" if "%H" in fmt else "")


def expiry_title(credential: Any, today: date) -> str:
    if credential.expiry_date is None:
        return ""
    days = (credential.expiry_date - today).days
    if days < 0:
        return f"Expired {-days} days ago"
    if days == 0:
        return "Expires today"
    return f"Expires in {days} days"


def id_options(choices: Any, selected: Any) -> Markup:
    """A select's <option>s for (id, label) rows, the one equal to `selected` marked: a
    Jinja loop cost ~10 calls an option, and the org pages' pickers have one per
    organization and per definition (issue 16). The markup is the loop's, space and all."""
    return Markup("".join([  # noqa: S704 - every value is escaped
        f'<option value="{escape(id_)}" {"selected" if id_ == selected else ""}>'
        f"{escape(label)}</option>" for id_, label in choices]))


def paragraphs(text: str | None) -> Markup:
    """Plain text as HTML paragraphs: every character escaped, blank lines split them."""
    blocks = [b.strip() for b in (text or "").replace("\r\n", "\n").split("\n\n")]
    return Markup("".join(  # noqa: S704 - every block is escaped before joining
        "<p>" + str(escape(b)).replace("\n", "<br>") + "</p>" for b in blocks if b))


def unread_notifications() -> int:
    """The bell's count for the logged-in user (0 when nobody is)."""
    from flask_login import current_user

    from app.services.notifications import unread_count

    return unread_count(current_user) if current_user.is_authenticated else 0


def init_app(app: Flask) -> None:
    from app.services.credentials import allowed_moves, expiry_band
    from app.services.training import percent_complete
    from app.services.urls import public_url, verify_url
    from app.web.htmx import wants_fragment

    # The enums templates compare with (never their values as string literals).
    app.jinja_env.globals.update(CertificateStatus=CertificateStatus,
                                 CertificateType=CertificateType, ContentType=ContentType,
                                 CredentialStatus=CredentialStatus,
                                 ProgressStatus=ProgressStatus)
    app.jinja_env.globals.update(HTMX_CONFIG=HTMX_CONFIG, Role=Role, url_with=url_with,
                                 url_parts=url_parts, id_options=id_options,
                                 expiry_band=expiry_band, expiry_title=expiry_title,
                                 allowed_moves=allowed_moves, percent_complete=percent_complete,
                                 wants_fragment=wants_fragment,
                                 unread_notifications=unread_notifications,
                                 public_url=public_url, verify_url=verify_url)
    # A certificate's public standing (one rule: app/services/certificates/status.py).
    from app.services.certificates.lifecycle import successor_of
    from app.services.certificates.status import (
        PUBLIC_STATUSES,
        Standing,
        recertification_due_on,
        standing,
    )
    app.jinja_env.globals.update(Standing=Standing, standing=standing,
                                 PUBLIC_CERTIFICATE_STATUSES=PUBLIC_STATUSES,
                                 recertification_due_on=recertification_due_on,
                                 successor_of=successor_of)
    from app.web.certificate_rows import (
        certificate_badge,
        certificate_rows,
        course_options,
        pending_card,
    )
    app.jinja_env.globals.update(certificate_badge=certificate_badge,
                                 certificate_rows=certificate_rows,
                                 course_options=course_options, pending_card=pending_card)
    from app.web.matrix_cells import credential_expiry, matrix_cells
    app.jinja_env.globals.update(credential_expiry=credential_expiry, matrix_cells=matrix_cells)
    from app.web.icons import icon
    from app.web.status_badges import status_badge_html, tone_badge
    app.jinja_env.globals.update(icon=icon, status_badge_html=status_badge_html,
                                 tone_badge=tone_badge)
    from app.web.verify_page import og_meta, result_for_template
    app.jinja_env.globals.update(verify_result=result_for_template, og_meta=og_meta)
    from app.services.training.progress import completion_message_for
    app.jinja_env.globals.update(completion_message_for=completion_message_for)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.filters["date"] = lambda v: format_datetime(v, "%Y-%m-%d")
