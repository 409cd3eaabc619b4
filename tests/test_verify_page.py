"""The public check's page drawn in Python (app/web/verify_page.py, issue 16) says what the
Jinja templates it replaced said: tests/reference_templates/ holds those templates as
they were, and every answer shape (each standing, optional facts missing, hostile text)
is drawn both ways and compared, whitespace runs aside. The anonymous layout kept per
process is the template's own, and is remade when its interval has passed."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template, url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import escape

from app.models import CertificateStatus, CertificateType
from app.services.verification import PublicRecord
from app.web import verify_page

REFERENCE = Path(__file__).parent / "reference_templates"
STANDINGS = ["VALID", "EXPIRED", "REVOKED", "SUPERSEDED", "RECERTIFICATION_REQUIRED"]
EVIL = '<b>"Aroha" & \'Tama\'</b>'

# A NUL too: the escaping joins the fields with one.
texts = st.one_of(st.none(), st.sampled_from(["", EVIL, "Fire Safety", "ünïcödé — ✓",
                                              "a\x00<b>"]), st.text(max_size=12))
days = st.one_of(st.none(), st.dates(date(2000, 1, 1), date(2099, 12, 31))
                 .map(date.isoformat))


@st.composite
def answers(draw: Any) -> dict[str, Any]:
    status = draw(st.sampled_from([*STANDINGS, "NOT_FOUND"]))
    checked = draw(st.dates(date(2020, 1, 1), date(2040, 1, 1))).isoformat()
    answer: dict[str, Any] = {"iss": "https://certs.example.test", "iat": 0,
                              "checked_at": f"{checked}T{draw(st.integers(0, 23)):02d}:07:00Z",
                              "status": status, "certificate": None}
    if status == "NOT_FOUND":
        return answer
    successor = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "number": texts, "status": st.sampled_from([*STANDINGS, "UNKNOWN"]),
        "verify_url": texts})))
    answer["certificate"] = {
        "number": draw(texts), "recipient_name": draw(texts), "type": "COMPLETION",
        "type_label": draw(texts), "subject": draw(texts),
        "subject_kind": draw(st.sampled_from(["course", "track", None])),
        "track": draw(texts), "version": draw(texts), "issued_on": draw(days),
        "expires_on": draw(days), "issuer": draw(texts), "revoked_on": draw(days),
        "revocation_category": draw(st.sampled_from(
            [None, "misconduct", "issued_in_error", "unheard-of", "other"])),
        "superseded_on": draw(days), "superseded_by": successor,
        "current_version": draw(texts), "verify_url": draw(texts)}
    return answer


def _record(course: bool = True) -> PublicRecord:
    return PublicRecord(7, "A" * 32, "CERT-2026-00007", CertificateType.COMPLETION,
                        CertificateStatus.ISSUED, None, None, None, None,
                        course_id=3 if course else None, track_id=None if course else 4)


def _words(html: str) -> str:
    return " ".join(html.split())


def _same(drawn: str, expected: str) -> None:
    """Equal but for runs of whitespace (where the template had any, the drawing has)."""
    mine, theirs = _words(drawn), _words(expected)
    if mine != theirs:
        at = next(i for i, (a, b) in enumerate(zip(mine + "\0", theirs + "\0", strict=False))
                  if a != b)
        raise AssertionError(f"drawn:    ...{mine[max(0, at - 80):at + 80]!r}\n"
                             f"template: ...{theirs[max(0, at - 80):at + 80]!r}")


def _reference(app: Flask, template: str, **context: Any) -> str:
    """`template` as the reference templates render it (in the current request)."""
    env = app.jinja_env.overlay(loader=ChoiceLoader([FileSystemLoader(REFERENCE),
                                                     app.jinja_env.loader]))
    app.update_template_context(context)
    return env.get_template(template).render(context)


def _reference_page(app: Flask, found: PublicRecord | None, answer: dict[str, Any],
                    branding: dict[str, Any] | None = None) -> str:
    json_url = f"/verify/{found.verification_id}?format=json" if found else None
    return _reference(app, "verify/certificate.html", result=answer, record=found,
                      branding=branding, json_url=json_url,
                      human_date=verify_page.human_date,
                      category_labels=verify_page.CATEGORY_LABELS)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers(), course=st.booleans())
def test_the_anonymous_page_says_what_the_templates_said(app: Flask, answer: dict[str, Any],
                                                         course: bool) -> None:
    found = _record(course) if answer["certificate"] else None
    with app.app_context():
        drawn = verify_page.anonymous_html(found, answer, "")
    with app.test_request_context("/verify/x"):
        expected = _reference_page(app, found, answer)
    _same(drawn, expected)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=answers(), heading=st.sampled_from(["h1", "h2", None]))
def test_the_lookup_panel_says_what_the_partial_said(app: Flask, answer: dict[str, Any],
                                                      heading: str | None) -> None:
    json_url = None if answer["certificate"] is None else '/verify/x?format=json&"'
    with app.test_request_context("/verify"):
        context = {"result": answer, "heading": heading, "json_url": json_url,
                   "human_date": verify_page.human_date,
                   "category_labels": verify_page.CATEGORY_LABELS}
        expected = _reference(app, "partials/verify/result.html", **context)
        drawn = render_template("partials/verify/result.html", **context)
    _same(drawn, expected)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=texts, description=texts, url=texts, image=texts)
def test_the_card_tags_are_the_partials(app: Flask, title: Any, description: Any, url: Any,
                                        image: Any) -> None:
    context = {"og_title": title, "og_description": description, "og_url": url,
               "og_image": image}
    with app.test_request_context("/p/x"):
        expected = _reference(app, "partials/profiles/og_meta.html", **context)
        drawn = render_template("partials/profiles/og_meta.html", **context)
    _same(drawn, expected)


def test_every_value_is_escaped(app: Flask) -> None:
    answer = {"iss": "", "iat": 0, "checked_at": "2026-12-02T10:00:00Z", "status": "VALID",
              "certificate": {key: EVIL for key in (
                  "number", "recipient_name", "type_label", "subject", "track", "version",
                  "issuer", "current_version", "verify_url")} | {
                  "subject_kind": "course", "issued_on": "2026-01-02", "expires_on": None,
                  "revoked_on": None, "revocation_category": None, "superseded_on": None,
                  "superseded_by": None}}
    with app.app_context():
        html = verify_page.anonymous_html(_record(), answer, "")
    assert "<b>" not in html
    assert html.count("&lt;b&gt;&#34;Aroha&#34; &amp; &#39;Tama&#39;&lt;/b&gt;") >= 8


def test_links_follow_the_script_root(app: Flask) -> None:
    """Under a prefix (a proxy's SCRIPT_NAME) every link of the kept layout and of the
    certificate's parts starts with it, as url_for's do."""
    answer = {"iss": "", "iat": 0, "checked_at": "2026-12-02T10:00:00Z",
              "status": "NOT_FOUND", "certificate": None}
    with app.app_context():
        plain = verify_page.anonymous_html(None, answer, "")
        prefixed = verify_page.anonymous_html(None, answer, "/portal")
    assert 'href="/verify"' in plain and 'href="/portal/verify"' in prefixed
    links = set(re.findall(r'(?:href|src)="(/[^"]*)"', prefixed))
    assert links and all(link.startswith("/portal/") for link in links), links



@pytest.mark.parametrize("script_name", ["/a%20b", "/caf\xc3\xa9", "/odd?prefix#x"])
def test_any_prefix_gets_the_links_url_for_gives_its_request(app: Flask,
                                                            script_name: str) -> None:
    """A prefix that needs quoting, one of non-ASCII bytes (WSGI's latin-1 text) and one
    holding ? and #: the kept layout's links are those url_for builds in a request under
    it, and the page is drawn (no error)."""
    answer = {"iss": "", "iat": 0, "checked_at": "2026-12-02T10:00:00Z",
              "status": "NOT_FOUND", "certificate": None}
    with app.app_context():
        html = verify_page.anonymous_html(None, answer, script_name)
    with app.test_request_context("/verify/", environ_overrides={"SCRIPT_NAME": script_name}):
        lookup = str(escape(url_for("verify.lookup")))
    assert f'href="{lookup}"' in html


def test_the_layout_is_kept_for_its_interval(app: Flask, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    made: list[str] = []
    real = verify_page._make_frame

    def counting(app: Flask, script_name: str) -> Any:
        made.append(script_name)
        return real(app, script_name)

    monkeypatch.setattr(verify_page, "_make_frame", counting)
    now = [1000.0]
    monkeypatch.setattr(verify_page, "monotonic", lambda: now[0])
    app.config["STATIC_RECHECK_SECONDS"] = 2.0
    answer = {"iss": "", "iat": 0, "checked_at": "2026-12-02T10:00:00Z",
              "status": "NOT_FOUND", "certificate": None}
    with app.app_context():
        first = verify_page.anonymous_html(None, answer, "")
        now[0] += 1.5
        assert verify_page.anonymous_html(None, answer, "") == first
        assert made == [""]
        now[0] += 1.0  # 2.5 s after it was made
        verify_page.anonymous_html(None, answer, "")
        assert made == ["", ""]


def test_a_signed_in_request_never_shapes_the_kept_layout(app: Flask, admin_user: Any) -> None:
    """The layout is made for nobody even when it is made inside a signed-in request (its
    own app context: the user loaded for that request, kept in its `g`, is not seen)."""
    from flask_login import login_user

    from app.extensions import db
    from app.models import User

    answer = {"iss": "", "iat": 0, "checked_at": "2026-12-02T10:00:00Z",
              "status": "NOT_FOUND", "certificate": None}
    with app.test_request_context("/verify/x"):
        login_user(db.session.get(User, admin_user.id))
        signed_in = render_template("base.html")
        page = verify_page.anonymous_html(None, answer, "")
    assert "Log out" in signed_in  # the request's own pages have the menu
    assert "Log out" not in page and admin_user.email not in page


def test_a_branded_page_says_what_the_template_said(app: Flask, new_client: Any,
                                                    make_user: Any, make_track: Any,
                                                    issue: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate issued with a template version's logo and colours: its page, as an
    anonymous visitor gets it, against the reference template given the branding the
    route gave it (the logo's URL, the colour band)."""
    from datetime import UTC, datetime

    from flask import url_for

    from app.extensions import db
    from app.models import Certificate
    from app.services import verification
    from app.services.certificates import template_preview
    from app.services.certificates import templates as certificate_templates
    from app.services.context import Actor
    from tests.services.test_certificate_templates import DESIGN, _png

    track = make_track("Branded check")
    with app.app_context():
        template = certificate_templates.create_template(Actor.system(), "Branded check",
                                                         DESIGN, {"logo": _png(60, 30)})
        certificate_templates.assign(Actor.system(), template, f"track:{track.id}")
        db.session.commit()
    certificate = issue(make_user(name='Mere "M" <Ngata>'), track=track)
    monkeypatch.setattr("app.services.verification.utcnow",
                        lambda: datetime(2026, 12, 2, 10, 0, tzinfo=UTC))
    page = new_client().get(f"/verify/{certificate.verification_id}").get_data(as_text=True)
    with app.test_request_context(f"/verify/{certificate.verification_id}"):
        version_id = db.session.get(Certificate, certificate.id).snapshot["template_version_id"]
        found = verification.by_verification_id(certificate.verification_id)
        brand = certificate_templates.branding_of(version_id)
        branding = {"logo": url_for("verify.template_logo", version_id=brand.version_id),
                    "band": template_preview.band_data_uri(brand)}
        expected = _reference_page(app, found, verification.answer_for(found), branding)
    assert 'class="verify-logo"' in page
    _same(page, expected)
