"""The org matrix's cells, drawn in Python: a page is 25 staff x every definition any of
them holds (1,000 cells with 40 columns), and a Jinja loop with two macro calls per held
credential cost most of the page's app CPU (issue 16). A credential's status badge and
its expiry are the macros.html markup (its status_badge and expiry macros call these);
every value is escaped here."""

from __future__ import annotations

from datetime import date
from typing import Any

from markupsafe import Markup, escape

from app.models import CredentialStatus
from app.services.credentials.status import expiry_band
from app.web.icons import icon_markup, sprite_url
from app.web.status_badges import status_badge_html
from app.web.templating import expiry_title

# Expired: the calendar crossed out (red); within 30 days: a warning sign (dark orange);
# within 60 or 90: a clock (amber). Never green: it is a warning.
_BAND_ICONS = {"expired": "calendar-x", "30": "triangle-alert", "60": "clock", "90": "clock"}
_EMPTY = '<td><span class="muted">—</span></td>'


def credential_expiry(credential: Any, today: date) -> Markup:
    """The expiry date with its warning band (expired, within 30 / 60 / 90 days) and how
    long is left in its title; "No expiry" for an awarded one without a date."""
    if credential.expiry_date:
        band = expiry_band(credential, today)
        mark = icon_markup(_BAND_ICONS[band], sprite_url()) if band else ""
        return Markup(  # noqa: S704 - escaped
            f'<span class="expiry {"expiry-" + band if band else ""}" '
            f'title="{escape(expiry_title(credential, today))}">'
            f'{mark}{credential.expiry_date.isoformat()}</span>')
    if credential.status == CredentialStatus.AWARDED:
        return Markup('<span class="muted">No expiry</span>')
    return Markup("")


def matrix_cells(matrix: Any, user_id: int, today: date) -> Markup:
    """One staff member's cells, in the matrix's column order."""
    return Markup("".join([  # noqa: S704 - every value is escaped
        f"<td>{status_badge_html(c.status)}<br>{credential_expiry(c, today)}</td>"
        if c is not None else _EMPTY for c in matrix.row(user_id)]))
