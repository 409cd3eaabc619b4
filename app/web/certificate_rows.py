"""The admin certificate list's rows (Issued, Rejected, Revoked tabs) and a certificate's
status badge, drawn in Python: a page of 25 rows as one Jinja macro per row, with its
nested macros, cost more app CPU than its queries did (issue 16: ~1,000 autoescapes,
~1,400 attribute lookups and ~100 macro calls per page). The markup is the one the
macros drew (partials/certificates/cells.html, which keeps calling these); every value
is escaped here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from markupsafe import Markup, escape

from app.models import CertificateStatus, CertificateType
from app.services.certificates.lifecycle import successor_of
from app.services.certificates.status import Standing, standing
from app.web.status_badges import tone_badge
from app.web.templating import id_options

S = CertificateStatus


def certificate_badge(c: Any, today: date) -> Markup:
    """Pending and rejected as stored; an issued, revoked or superseded one by its public
    standing (app/services/certificates/status.py: Active, Expired, Re-certification
    required, Revoked, Superseded)."""
    if c.status in (S.PENDING, S.REJECTED):
        return tone_badge(c.status.value.lower(), c.status.label)
    st = standing(c, today)
    title = ""
    if st == Standing.RECERTIFICATION_REQUIRED:
        title = f"Covers version {c.track_version}; the track is at {c.track.version}"
    return tone_badge(st.value.lower(), "Active" if st == Standing.VALID else st.label, title)


def course_options(courses: Iterable[Any], selected: int | None) -> Markup:
    """The list filter's course <option>s (rows of routes._courses), the selected one
    marked: the markup of the Jinja loop they were (63 courses cost ~700 template calls
    and ~330 escapes on every list page, issue 16)."""
    return id_options(((c.id, f"{c.track_name} — {c.title}{' (archived)' if c.archived else ''}")
                       for c in courses), selected)


def _subject(c: Any, track_url: tuple[str, str]) -> str:
    if c.course:
        return (f'<a href="{track_url[0]}{c.course.track_id}{track_url[1]}">'
                f'{escape(c.course.title)}</a>')
    if c.track:
        return f'<a href="{track_url[0]}{c.track.id}{track_url[1]}">{escape(c.track.name)}</a>'
    return ""


def pending_card(c: Any, urls: dict[str, tuple[str, str]], select: bool = False) -> Markup:
    """One card of the Pending tab (Approve, Reject with a reason, Details), drawn here
    for the reason the rows are: as a macro with two nested ones a card cost ~470 Python
    calls, 25 a page (issue 16). The markup is the macro's, byte for byte; every value is
    escaped; `urls` as certificate_rows takes them."""
    detail, person, track, approve, reject = (
        tuple(escape(p) for p in urls[k]) for k in ("detail", "person", "track", "approve",
                                                      "reject"))
    detail_url = f"{detail[0]}{c.id}{detail[1]}"
    recipient = escape(c.recipient.name)
    out = [f'\n    <article class="pending-card" id="certificate-{c.id}">'
           f'\n      <header>\n        ']
    if select:
        subject = c.course.title if c.course else (c.track.name if c.track else "")
        out.append(f'<input type="checkbox" name="id" value="{c.id}" form="bulk-form" '
                   f'aria-label="Select {recipient}, {escape(subject)}">')
    out.append(
        f'\n        <strong><a href="{person[0]}{c.recipient.id}{person[1]}" '
        f'class="person-link">{recipient}</a></strong>'
        f'\n        · {_subject(c, track)}'
        f'\n        · <span class="badge">{escape(c.type.label)}</span>'
        f'\n      </header>\n      <p class="muted">\n        ')
    out.append(f"Recommended by {escape(c.recommended_by.name)}" if c.recommended_by
               else "Requested on completion")
    out.append("\n        ")
    if c.recommended_at:
        out.append(f' on {c.recommended_at.strftime("%Y-%m-%d")}')
    out.append(f'\n      </p>\n      <p>Progress {"%.0f" % (c.progress_percent or 0)}% '
               f'· Sessions attended {escape(c.sessions_attended or 0)}\n        ')
    if c.type == CertificateType.TEACHING:
        rating = c.average_rating if c.average_rating is not None else "—"
        out.append(f" · Average rating {escape(rating)}")
    out.append("</p>\n      ")
    if c.notes:
        out.append(f'<p class="muted">{escape(c.notes)}</p>')
    out.append(
        f'\n      <div class="actions">\n        <button type="button" '
        f'hx-post="{approve[0]}{c.id}{approve[1]}" hx-disabled-elt="this" hx-target="#detail" '
        f'hx-swap="innerHTML"\n                data-error-message="Unable to issue '
        f'certificate.">Approve</button>\n        <form class="inline-form reject-form" '
        f'hx-post="{reject[0]}{c.id}{reject[1]}" hx-disabled-elt="find button[type=submit]" '
        f'hx-target="#detail" hx-swap="innerHTML">\n          <input type="text" '
        f'name="reason" placeholder="Reason for rejecting" aria-label="Reason for rejecting '
        f'{recipient}" required>\n          <button type="submit" class="secondary outline">'
        f'Reject</button>\n        </form>\n        <a href="{detail_url}" '
        f'hx-get="{detail_url}" hx-target="#detail" hx-swap="innerHTML" '
        f'hx-push-url="true">Details</a>\n      </div>\n    </article>')
    return Markup("".join(out))  # noqa: S704 - every value above is escaped


def certificate_rows(items: Iterable[Any], urls: dict[str, tuple[str, str]], today: date,
                     select: bool = False) -> Markup:
    """The rows of the admin list; `urls` the (prefix, suffix) pairs list.html builds
    once per page; `select`: the bulk actions' checkbox (the bar's form="bulk-form")."""
    detail, person, track = (tuple(escape(p) for p in urls[k])
                             for k in ("detail", "person", "track"))
    out: list[str] = []
    for c in items:
        detail_url = f"{detail[0]}{c.id}{detail[1]}"
        recipient = c.recipient
        number = escape(c.number or "")
        cells = [f'\n        <tr id="certificate-{c.id}">\n          ']
        if select:
            cells.append(f'<td><input type="checkbox" name="id" value="{c.id}" '
                         f'form="bulk-form" aria-label="Select '
                         f'{number or escape(recipient.name)}"></td>')
        cells.append(
            f'\n          <td><a href="{person[0]}{recipient.id}{person[1]}" '
            f'class="person-link">{escape(recipient.name)}</a><br>'
            f'<small class="muted">{escape(recipient.email)}</small></td>'
            f'\n          <td>{_subject(c, track)}</td>'
            f'\n          <td>{escape(c.type.label)}</td>'
            f'\n          <td class="nowrap">'
            f'{c.issued_at.strftime("%Y-%m-%d") if c.issued_at else ""}'
            f'<br><small class="muted">{number}</small>')
        if c.issued_by:
            cells.append(f'\n            <br><small class="muted">by '
                         f'{escape(c.issued_by.name)}</small>')
        if c.recommended_by:
            cells.append(f'\n            <br><small class="muted">recommended by '
                         f'{escape(c.recommended_by.name)}</small>')
        cells.append(f'</td>\n          <td>{certificate_badge(c, today)}')
        if c.status == S.SUPERSEDED:
            successor = successor_of(c)
            if successor is not None:
                next_url = f"{detail[0]}{successor.id}{detail[1]}"
                cells.append(f'\n            <br><small class="nowrap">by <a href="{next_url}" '
                             f'hx-get="{next_url}" hx-target="#detail" hx-swap="innerHTML" '
                             f'hx-push-url="true">{escape(successor.number)}</a></small>')
        cells.append(
            f'</td>\n          <td><div class="actions">\n            <a role="button" '
            f'class="secondary" href="{detail_url}" hx-get="{detail_url}" hx-target="#detail" '
            f'hx-swap="innerHTML" hx-push-url="true">View</a>')
        if c.status == S.ISSUED:
            cells.append(f'\n            <a role="button" class="secondary outline" '
                         f'href="{detail_url}#revoke"\n               hx-get="{detail_url}" '
                         f'hx-target="#detail" hx-swap="innerHTML" '
                         f'hx-push-url="true">Revoke</a>')
        cells.append("\n          </div></td>\n        </tr>")
        out.append("".join(cells))
    return Markup("".join(out))  # noqa: S704 - every value above is escaped
