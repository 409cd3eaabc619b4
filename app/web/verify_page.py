"""The public check's answer drawn in Python (issue 16): the result panel (the certificate
page's and the lookup's, partials/verify/result.html calls it), the page's title and Open
Graph tags (partials/profiles/og_meta.html calls those), and, for a visitor without a
session, the whole /verify/<id> page.

A first check of a certificate renders its page (the minute's page cache only helps the
checks after it), and through Jinja that cost 3.7x a bare Flask page: the layout, the
result partial's ~60 expressions, the Open Graph include, the request context and the
context processors. Here the certificate's parts are f-strings with every value escaped,
and the anonymous layout around them (verify/certificate.html rendered once, for nobody,
with markers where the parts go) is kept per process and script root, remade after
STATIC_RECHECK_SECONDS like the static names it links (development: every time).

tests/test_verify_page.py compares what is drawn here with the Jinja templates it
replaced (tests/reference_templates/), for every standing and generated values.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from functools import lru_cache
from time import monotonic
from typing import Any, NamedTuple
from urllib.parse import quote

from flask import Flask, current_app, render_template, request, url_for
from markupsafe import Markup, escape

from app.services.certificates.status import Standing
from app.web.icons import sprite_url
from app.web.status_badges import tone_badge

CATEGORY_LABELS = {
    "issued_in_error": "Issued in error",
    "misconduct": "Misconduct",
    "requirements_not_met": "Requirements not met",
    "superseded": "Superseded by a newer certificate",
    "other": "Other",
}
# A successor's standing, in the sentence about it.
WORDS = {"VALID": "valid", "EXPIRED": "expired", "REVOKED": "revoked",
         "SUPERSEDED": "itself superseded",
         "RECERTIFICATION_REQUIRED": "awaiting re-certification", "NOT_FOUND": "not found"}
_ID = "ID" * 16  # a verification id's shape, to split the built URLs around


@lru_cache(maxsize=8192)
def human_date(value: str | None) -> str:
    """An ISO date as people read it ("2 November 2026"); "" for none."""
    if not value:
        return ""
    day = date.fromisoformat(value)
    return f"{day.day} {day:%B %Y}"


class Links(NamedTuple):
    """The site's URLs an answer links to, as url_for builds them for one script root,
    escaped for HTML."""

    lookup: str
    jwks: str
    json_answer: tuple[str, str]  # around a verification id
    template_logo: tuple[str, str]  # around a template version's id
    sprite: str  # raw: tone_badge escapes it

    def json_url(self, verification_id: str) -> str:
        return f"{self.json_answer[0]}{quote(verification_id, safe='')}{self.json_answer[1]}"


def request_links() -> Links:
    """The links for the current request (its script root)."""
    json_answer = str(escape(url_for("verify.certificate", verification_id=_ID,
                                     format="json")))
    logo = str(escape(url_for("verify.template_logo", version_id=4242)))
    before, _, after = logo.rpartition("4242")
    return Links(str(escape(url_for("verify.lookup"))), str(escape(url_for("verify.jwks"))),
                 tuple(json_answer.split(_ID, 1)), (before, after),  # type: ignore[arg-type]
                 sprite_url())


# --- The result panel ----------------------------------------------------------------

# The answer's text fields, each escaped once per drawing (as Jinja's {{ }} would: None
# reads "None"); dates as people read them.
_TEXT = ("number", "recipient_name", "type_label", "subject", "track", "version", "issuer",
         "current_version", "verify_url")
_DATES = ("issued_on", "expires_on", "revoked_on", "superseded_on")
_KEYS = (*_TEXT, *_DATES)
# Standings with their labels, looked up once (Standing.label builds a dict each time).
_STANDINGS = {st.value: (st, st.label) for st in Standing}


def _escaped(c: dict[str, Any]) -> dict[str, str]:
    """The certificate's text fields and dates, escaped in one call (joined by NUL, which
    escaping leaves as it is; a value holding a NUL of its own falls back to one call
    each): a dozen calls were a tenth of the page's CPU."""
    values = [value if type(value) is str else str(value)
              for value in (*(c[key] for key in _TEXT), *(human_date(c[key]) for key in _DATES))]
    escaped = str(escape("\0".join(values))).split("\0")
    if len(escaped) != len(values):
        escaped = [str(escape(value)) for value in values]
    return dict(zip(_KEYS, escaped, strict=True))


def _status_line(st: Standing, c: dict[str, Any], e: dict[str, str]) -> str:
    issuer = e["issuer"]
    if st == Standing.VALID:
        return ('<p class="flash flash-success verify-status" role="status"><strong>✓ Valid '
                f'certificate</strong> — issued by {issuer} and in good standing.</p>')
    if st == Standing.EXPIRED:
        return ('<p class="flash flash-warning verify-status" role="status"><strong>! '
                'Expired</strong> — this certificate was genuine, but its validity ended on '
                f'{e["expires_on"]}.</p>')
    if st == Standing.SUPERSEDED:
        successor = c["superseded_by"]
        if successor:
            number = escape(successor["number"])
            by = f' by {number} ({escape(WORDS.get(successor["status"], ""))})'
            instead = (f':\n    <a href="{escape(successor["verify_url"])}" '
                       f'id="successor-link">check certificate {number}</a> instead')
        else:
            by = instead = ""
        on = f' on {e["superseded_on"]}' if c["superseded_on"] else ""
        return ('<p class="flash flash-warning verify-status" role="status"><strong>⟳ '
                f'Superseded{by}</strong> —\n    {issuer} replaced this certificate with a '
                f'newer one{on}. It is no longer the current record{instead}.</p>')
    if st == Standing.RECERTIFICATION_REQUIRED:
        of_track = f' of {e["track"]}' if c["track"] else ""
        return ('<p class="flash flash-warning verify-status" role="status"><strong>! '
                'Re-certification required</strong> — this certificate covers version '
                f'{e["version"]}{of_track}, which is now at version {e["current_version"]}.'
                '\n    It is not valid for the current version until the holder '
                're-certifies.</p>')
    return ('<p class="flash flash-error verify-status" role="status"><strong>✕ '
            f'Revoked</strong> — {issuer} withdrew this certificate on {e["revoked_on"]}. '
            'It is no longer valid.</p>')


def _row(header: str, cell: str, wrapped: bool = False) -> str:
    between = "\n        " if wrapped else ""
    return f'      <tr><th scope="row">{header}</th>{between}<td>{cell}</td></tr>\n'


def _details(st: Standing, label: str, c: dict[str, Any], e: dict[str, str],
             sprite: str) -> str:
    version = e["version"]
    course = c["subject_kind"] == "course"
    rows = [_row("Status", tone_badge(st.value.lower(), label, href=sprite)),
            _row("Certificate number", f"<strong>{e['number']}</strong>"),
            _row("Awarded to", e["recipient_name"]),
            _row("Certificate", e["type_label"]),
            _row("Course" if course else "Track",
                 f"{e['subject']} · version {version}" if c["version"] else e["subject"],
                 wrapped=True)]
    if course and c["track"]:
        rows.append(_row("Part of track", e["track"]))
    if st == Standing.RECERTIFICATION_REQUIRED:
        rows.append(_row("Current version",
                         f"{e['current_version']} (this certificate covers {version})"))
    rows.append(_row("Issued on", e["issued_on"]))
    if st == Standing.EXPIRED:
        until = "Expired on"
    elif st in (Standing.REVOKED, Standing.SUPERSEDED):
        until = "Originally valid until"
    elif st == Standing.RECERTIFICATION_REQUIRED:
        until = f"Version {version} valid until"
    else:
        until = "Valid until"
    rows.append(_row(until, e["expires_on"] if c["expires_on"] else "Does not expire",
                     wrapped=True))
    if st == Standing.REVOKED:
        rows.append(_row("Revoked on", e["revoked_on"]))
        rows.append(_row("Reason for revoking",
                         escape(CATEGORY_LABELS.get(c["revocation_category"], "Other"))))
    elif st == Standing.SUPERSEDED:
        if c["superseded_on"]:
            rows.append(_row("Superseded on", e["superseded_on"]))
        successor = c["superseded_by"]
        if successor:
            rows.append(_row("Replaced by", f'<a href="{escape(successor["verify_url"])}">'
                                            f'{escape(successor["number"])}</a> — '
                                            f'{escape(WORDS.get(successor["status"], ""))}'))
    rows.append(_row("Issuer", e["issuer"]))
    return "".join(rows)


def result_panel(answer: dict[str, Any], heading: str, json_url: str | None, links: Links,
                 issuer_name: str, escaped: dict[str, str] | None = None) -> Markup:
    """partials/verify/result.html: the answer about one certificate (`answer`: the public
    answer, verification.answer_for), its title an <h1> or <h2> (`heading`). A NOT FOUND
    panel is the same whatever was asked. `escaped`: _escaped(the certificate), if made."""
    h = "h2" if heading == "h2" else "h1"
    status = answer["status"]
    if status == "NOT_FOUND":
        return Markup(  # noqa: S704 - every value escaped
            '<article class="verify-result verify-not-found readiness not-ready" '
            'aria-labelledby="verify-title">\n'
            '  <p class="flash flash-error verify-status" role="status"><strong>✕ Not '
            'found</strong> — no certificate we issued matches this.</p>\n'
            f'  <hgroup>\n    <{h} id="verify-title">No certificate found</{h}>\n'
            '  </hgroup>\n'
            '  <p>We have no issued certificate at this address or with these details. The '
            'link may be\n    mistyped or incomplete, or the document may not have been issued '
            f'by {escape(issuer_name)}.</p>\n'
            '  <p>If you were given a certificate, type the <strong>certificate number</strong>'
            ' and the\n    <strong>verification code</strong> printed on it into the '
            f'<a href="{links.lookup}">certificate check</a>,\n'
            '    or upload its PDF there.</p>\n</article>\n')
    c = answer["certificate"]
    e = escaped if escaped is not None else _escaped(c)
    st, label = _STANDINGS[status]
    kind = "the course" if c["subject_kind"] == "course" else "the track"
    version = f' (version {e["version"]})' if c["version"] else ""
    checked = answer["checked_at"]
    software = (f'    <p class="muted">For software: <a href="{escape(json_url)}" '
                'rel="nofollow">signed answer (JSON)</a> ·\n'
                f'      <a href="{links.jwks}" rel="nofollow">public keys (JWKS)</a>'
                '</p>\n' if json_url else "")
    return Markup(  # noqa: S704 - every value escaped
        f'<article class="verify-result verify-{escape(status.lower().replace("_", "-"))} '
        f'readiness {"ready" if st == Standing.VALID else "not-ready"}" '
        'aria-labelledby="verify-title">\n'
        f'  {_status_line(st, c, e)}\n'
        f'  <hgroup>\n    <{h} id="verify-title">{e["recipient_name"]}</{h}>\n'
        f'    <p>{"was once awarded" if st == Standing.REVOKED else "was awarded"} the '
        f'<strong>{e["type_label"]} certificate</strong>\n'
        f'      for {kind} <strong>{e["subject"]}</strong>{version}.</p>\n'
        '  </hgroup>\n'
        '  <table class="verify-details">\n    <tbody>\n'
        f'{_details(st, label, c, e, links.sprite)}'
        '    </tbody>\n  </table>\n'
        '  <footer>\n'
        f'    <p class="muted">Checked against {e["issuer"]}\'s records on '
        f'{escape(human_date(checked[:10]))} at {escape(checked[11:16])} UTC.\n'
        '      The details above are what the certificate said when it was issued; it is '
        'genuine only\n      if the name and number match the document you were shown.</p>\n'
        f'{software}  </footer>\n</article>\n')


# --- The page's head -----------------------------------------------------------------

def og_meta(site_name: Any, title: Any, description: Any, url: Any, image: Any) -> Markup:
    """Open Graph and Twitter card tags, so a shared link previews with the badge image
    (`url` and `image` absolute, or empty): with an image the Twitter card is the
    large-image one, without, the plain summary."""
    return _og_tags(escape(site_name), escape(title), escape(description),
                    escape(url) if url else "", escape(image) if image else "")


def _og_tags(site_name: str, title: str, description: str, url: str, image: str) -> Markup:
    """og_meta's tags, every value given escaped."""
    url_tag = f'<meta property="og:url" content="{url}">\n' if url else ""
    image_tags = (f'<meta property="og:image" content="{image}">\n'
                  f'<meta property="og:image:alt" content="{title}">\n' if image else "")
    twitter_image = f'<meta name="twitter:image" content="{image}">\n' if image else ""
    return Markup(  # noqa: S704 - every value escaped
        '<meta property="og:type" content="website">\n'
        f'<meta property="og:site_name" content="{site_name}">\n'
        f'<meta property="og:title" content="{title}">\n'
        f'<meta property="og:description" content="{description}">\n'
        f'{url_tag}{image_tags}'
        f'<meta name="twitter:card" content="{"summary_large_image" if image else "summary"}">'
        '\n'
        f'<meta name="twitter:title" content="{title}">\n'
        f'<meta name="twitter:description" content="{description}">\n'
        f'{twitter_image}')


class PageParts(NamedTuple):
    """What verify/certificate.html puts in its layout's blocks."""

    title: Markup
    head_meta: Markup
    content: Markup


def _branding(found: Any, links: Links) -> str:
    """The logo and colour band of the template version the certificate was issued with
    (frozen in its snapshot); "" for the built-in look (no query then)."""
    from app.services.certificates import template_preview
    from app.services.certificates import templates as certificate_templates

    if found is None or not found.snapshot_json or '"template_version_id"' not in \
            found.snapshot_json:
        return ""
    version_id = json.loads(found.snapshot_json).get("template_version_id")
    if version_id is None:
        return ""
    brand = certificate_templates.branding_of(version_id)
    logo = (f'<img src="{links.template_logo[0]}{int(brand.version_id)}'
            f'{links.template_logo[1]}" alt="Issuer logo" class="verify-logo">'
            if brand.logo and brand.version_id is not None else "")
    return (f'<div class="verify-branding">\n  <img src="'
            f'{escape(template_preview.band_data_uri(brand))}" alt="" class="verify-band">\n'
            f'  {logo}\n</div>\n')


def page_parts(found: Any, answer: dict[str, Any], links: Links) -> PageParts:
    """The certificate page's own parts (`found`: the PublicRecord, or None)."""
    from app.services import verification

    issuer_name = escape(current_app.config["ISSUER_NAME"])
    c = answer["certificate"]
    if c is None:
        panel = result_panel(answer, "h1", None, links, issuer_name)
        title, head_meta, more = "Certificate not found", "", ""
    else:
        e = _escaped(c)
        json_url = Markup(links.json_url(found.verification_id))  # noqa: S704 - escaped
        panel = result_panel(answer, "h1", json_url,
                             links, issuer_name, e)
        label = _STANDINGS[answer["status"]][1]
        title = f"Certificate {e['number']} · {label}"
        image = verification.image_url(found)
        head_meta = _og_tags(
            issuer_name, title,
            f"{e['recipient_name']} — {e['subject']}, "
            f"{escape(str(c['type_label']).lower())} certificate issued by {e['issuer']}. "
            f"{label} as checked now.",
            e["verify_url"] if c["verify_url"] else "", escape(image) if image else "")
        more = ('<p class="muted">Have a certificate number and verification code, or the '
                f'PDF?\n  <a href="{links.lookup}">Check a certificate</a>.</p>\n')
    return PageParts(Markup(title), Markup(head_meta), Markup(  # noqa: S704 - escaped
        f'{_branding(found, links)}<p class="muted">{issuer_name} certificate '
        f'check</p>\n{panel}{more}'))


# --- The anonymous page: its layout kept per process ----------------------------------

_MARKS = PageParts(Markup("\x00title\x00"), Markup("\x00head\x00"), Markup("\x00content\x00"))


class _Frame(NamedTuple):
    pieces: tuple[str, str, str, str]  # the layout around the three parts
    links: Links
    made_at: float


class _Frames:
    """verify/certificate.html's layout as a visitor without a session sees it, per
    script root (a deployment's, or a proxy's prefix: at most MAX of them)."""

    MAX = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frames: dict[str, _Frame] = {}

    def get(self, app: Flask, script_name: str) -> _Frame:
        frame = self._frames.get(script_name)
        if frame is None or monotonic() - frame.made_at >= app.config[
                "STATIC_RECHECK_SECONDS"]:
            frame = _make_frame(app, script_name)
            with self._lock:
                if script_name in self._frames or len(self._frames) < self.MAX:
                    self._frames[script_name] = frame
        return frame


def _make_frame(app: Flask, script_name: str) -> _Frame:
    """The layout rendered for nobody: in an app context of its own (a signed-in request
    that asks keeps its user in its own `g`) and a bare request (no cookie: no session,
    no flashed message, the anonymous menu)."""
    # SCRIPT_NAME as the request's own environ has it (WSGI's latin-1 text): Werkzeug
    # decodes it for script_root as it does for that request, and no prefix is refused.
    with app.app_context(), app.test_request_context(
            "/verify/", environ_overrides={"SCRIPT_NAME": script_name}):
        html = render_template("verify/certificate.html", page=_MARKS)
        links = request_links()
    head, rest = html.split(_MARKS.title, 1)
    middle, rest = rest.split(_MARKS.head_meta, 1)
    before, after = rest.split(_MARKS.content, 1)
    if any(mark in after for mark in _MARKS):
        raise ValueError("verify/certificate.html shows a part twice")
    return _Frame((head, middle, before, after), links, monotonic())


def anonymous_html(found: Any, answer: dict[str, Any], script_name: str) -> str:
    """The /verify/<id> page for a visitor without a session (in an app context; no
    request context needed): the kept layout around the certificate's parts."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    frames = app.extensions.get("credwright.verify_frames")
    if frames is None:
        frames = app.extensions.setdefault("credwright.verify_frames", _Frames())
    frame = frames.get(app, script_name)
    title, head_meta, content = page_parts(found, answer, frame.links)
    head, middle, before, after = frame.pieces
    return f"{head}{title}{middle}{head_meta}{before}{content}{after}"


def request_page_parts(found: Any, answer: dict[str, Any]) -> PageParts:
    """page_parts for the current request (a signed-in visitor's page)."""
    return page_parts(found, answer, request_links())


def result_for_template(answer: dict[str, Any], heading: str | None,
                        json_url: str | None) -> Markup:
    """The result panel for a template (the lookup's), with the current request's links."""
    return result_panel(answer, heading or "h1", json_url, request_links(),
                        current_app.config["ISSUER_NAME"])


def script_name() -> str:
    return request.environ.get("SCRIPT_NAME", "")
