"""The certificate list's rows and the org matrix's cells are drawn in Python
(app/web/certificate_rows.py, app/web/matrix_cells.py, issue 16): every value a person
typed is escaped, and the markup is the macros' (badges, bands, links)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace as NS
from typing import Any

import pytest

from app.models import CertificateStatus, CertificateType, CredentialStatus
from app.web.certificate_rows import certificate_badge, certificate_rows
from app.web.matrix_cells import matrix_cells

TODAY = date(2026, 12, 1)
EVIL = '<script>alert("x")</script>'
URLS = {"detail": ("/admin/certificates/", "?status=issued&amp;q=a"),
        "person": ("/people/", ""), "track": ("/training/tracks/", "")}


def _certificate(**values: Any) -> NS:
    person = NS(id=7, name=EVIL, email="a&b@example.test")
    base = dict(id=41, number="CERT-2026-00001", status=CertificateStatus.ISSUED,
                type=CertificateType.COMPLETION, issued_at=datetime(2026, 11, 2, 9, 30),
                expires_at=TODAY + timedelta(days=300), recipient=person,
                course=NS(title=EVIL, track_id=3), track=None, issued_by=NS(name=EVIL),
                recommended_by=None, course_id=5, track_version=None)
    return NS(**{**base, **values})


def test_a_row_escapes_every_value_and_links_by_the_page_urls(app: Any) -> None:
    with app.app_context():
        html = str(certificate_rows([_certificate()], URLS, TODAY, select=True))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "a&amp;b@example.test" in html
    assert '<a href="/people/7" class="person-link">' in html
    assert '<a href="/training/tracks/3">' in html
    assert 'href="/admin/certificates/41?status=issued&amp;amp;q=a"' in html  # escaped as Jinja did
    assert 'aria-label="Select CERT-2026-00001"' in html
    assert ">Revoke</a>" in html and "2026-11-02" in html
    assert '<span class="badge tone-ok status-valid">' in html and "</svg>Active</span>" in html


def test_the_badge_tells_pending_rejected_and_expired_apart(app: Any) -> None:
    with app.app_context():
        pending = certificate_badge(_certificate(status=CertificateStatus.PENDING), TODAY)
        rejected = certificate_badge(_certificate(status=CertificateStatus.REJECTED), TODAY)
        expired = certificate_badge(_certificate(expires_at=TODAY - timedelta(days=1)), TODAY)
    assert pending.startswith('<span class="badge tone-warn status-pending">')
    assert pending.endswith('#hourglass"></use></svg>Pending</span>')
    assert rejected.startswith('<span class="badge tone-neutral status-rejected">')
    assert expired.startswith('<span class="badge tone-danger status-expired">')
    assert expired.endswith('#calendar-x"></use></svg>Expired</span>')


def test_matrix_cells_show_band_and_dash(app: Any) -> None:
    due = NS(status=CredentialStatus.AWARDED, expiry_date=TODAY + timedelta(days=20))
    matrix = NS(row=lambda user_id: [due, None])
    with app.app_context():
        html = str(matrix_cells(matrix, 1, TODAY))
    assert '<span class="badge tone-ok status-awarded">' in html
    assert 'class="expiry expiry-30" title="Expires in 20 days"' in html
    assert '#triangle-alert"></use></svg>' + due.expiry_date.isoformat() in html
    assert html.endswith('<td><span class="muted">—</span></td>')


def test_id_options_are_the_jinja_loops_markup(app: Any) -> None:
    """The org pickers' options drawn in Python (id_options) are the markup of the loop
    they replaced, the selected one marked and every label escaped."""
    from app.web.templating import id_options

    choices = [(1, "Alpha & Co"), (2, EVIL), (3, "Gamma")]
    loop = ('{% for id, name in choices %}<option value="{{ id }}" '
            '{{ "selected" if id == chosen }}>{{ name }}</option>{% endfor %}')
    with app.app_context():
        for chosen in (2, None):
            expected = app.jinja_env.from_string(loop).render(choices=choices, chosen=chosen)
            assert str(id_options(choices, chosen)) == expected
    assert '<option value="2" selected>&lt;script&gt;' in str(id_options(choices, 2))


def test_matrix_row_puts_each_cell_in_its_column() -> None:
    from app.services.credentials.matrix import ExpirySummary, Matrix
    from app.services.pagination import Page

    columns = [NS(id=30), NS(id=10), NS(id=20)]
    cells = {(1, 20): "b", (1, 30): "a", (2, 10): "c", (1, 99): "not a column"}
    matrix = Matrix(Page(items=[], page=1, per_page=25, total=0), columns, cells,
                    ExpirySummary(0, 0, 0))
    assert matrix.row(1) == ["a", None, "b"]
    assert matrix.row(2) == [None, "c", None]
    assert matrix.row(3) == [None, None, None]


def test_course_options_are_the_jinja_loops_markup(app: Any) -> None:
    """The list filter's course options drawn in Python (course_options) are the markup
    of the loop they replaced: the selected one marked, archived ones said, every title
    and track name escaped."""
    from app.web.certificate_rows import course_options

    courses = [NS(id=1, track_name="Fire & Safety", title=EVIL, archived=False),
               NS(id=2, track_name="Building", title="Consents", archived=True),
               NS(id=3, track_name=EVIL, title="Act", archived=False)]
    loop = ('{% for c in courses %}<option value="{{ c.id }}" {{ "selected" if chosen == c.id }}>'
            '{{ c.track_name }} — {{ c.title }}{{ " (archived)" if c.archived }}</option>'
            '{% endfor %}')
    with app.app_context():
        for chosen in (1, 2, None):
            expected = app.jinja_env.from_string(loop).render(courses=courses, chosen=chosen)
            assert str(course_options(courses, chosen)) == expected
    html = str(course_options(courses, 2))
    assert '<option value="2" selected>Building — Consents (archived)</option>' in html
    assert "<script>" not in html and "Fire &amp; Safety — &lt;script&gt;" in html


# The Pending card's macro as it was (partials/certificates/cells.html before issue 16's
# pending_card): the markup pending_card must draw, byte for byte.
PENDING_CARD_MACRO = """{% macro _subject(c, urls) -%}
{% if c.course %}<a href="{{ urls.track[0] }}{{ c.course.track_id }}{{ urls.track[1] }}">{{ c.course.title }}</a>{% elif c.track %}<a href="{{ urls.track[0] }}{{ c.track.id }}{{ urls.track[1] }}">{{ c.track.name }}</a>{% endif %}
{%- endmacro %}

{% macro _person(user, urls) -%}
<a href="{{ urls.person[0] }}{{ user.id }}{{ urls.person[1] }}" class="person-link">{{ user.name }}</a>
{%- endmacro %}

{% macro pending_card(c, urls, select=False) -%}
{% set detail_url = urls.detail[0] ~ c.id ~ urls.detail[1] %}
    <article class="pending-card" id="certificate-{{ c.id }}">
      <header>
        {% if select %}<input type="checkbox" name="id" value="{{ c.id }}" form="bulk-form" aria-label="Select {{ c.recipient.name }}, {{ c.course.title if c.course else (c.track.name if c.track else '') }}">{% endif %}
        <strong>{{ _person(c.recipient, urls) }}</strong>
        · {{ _subject(c, urls) }}
        · <span class="badge">{{ c.type.label }}</span>
      </header>
      <p class="muted">
        {% if c.recommended_by %}Recommended by {{ c.recommended_by.name }}{% else %}Requested on completion{% endif %}
        {% if c.recommended_at %} on {{ c.recommended_at.strftime("%Y-%m-%d") }}{% endif %}
      </p>
      <p>Progress {{ "%.0f"|format(c.progress_percent or 0) }}% · Sessions attended {{ c.sessions_attended or 0 }}
        {% if c.type == CertificateType.TEACHING %} · Average rating {{ c.average_rating if c.average_rating is not none else "—" }}{% endif %}</p>
      {% if c.notes %}<p class="muted">{{ c.notes }}</p>{% endif %}
      <div class="actions">
        <button type="button" hx-post="{{ urls.approve[0] }}{{ c.id }}{{ urls.approve[1] }}" hx-disabled-elt="this" hx-target="#detail" hx-swap="innerHTML"
                data-error-message="Unable to issue certificate.">Approve</button>
        <form class="inline-form reject-form" hx-post="{{ urls.reject[0] }}{{ c.id }}{{ urls.reject[1] }}" hx-disabled-elt="find button[type=submit]" hx-target="#detail" hx-swap="innerHTML">
          <input type="text" name="reason" placeholder="Reason for rejecting" aria-label="Reason for rejecting {{ c.recipient.name }}" required>
          <button type="submit" class="secondary outline">Reject</button>
        </form>
        <a href="{{ detail_url }}" hx-get="{{ detail_url }}" hx-target="#detail" hx-swap="innerHTML" hx-push-url="true">Details</a>
      </div>
    </article>
{%- endmacro %}"""


@pytest.mark.parametrize("select", [True, False])
def test_a_pending_card_is_the_macros_markup(app: Any, select: bool) -> None:
    from app.web.certificate_rows import pending_card

    urls = {**URLS, "approve": ("/admin/certificates/", "/approve"),
            "reject": ("/admin/certificates/", "/reject")}
    person = NS(id=7, name=EVIL, email="a@b.test")
    cards = [
        _certificate(status=CertificateStatus.PENDING, recipient=person, number=None,
                     recommended_by=NS(name=EVIL), recommended_at=datetime(2026, 11, 3),
                     progress_percent=99.6, sessions_attended=3, notes=EVIL,
                     type=CertificateType.TEACHING, average_rating=4.5),
        _certificate(status=CertificateStatus.PENDING, recipient=person, course=None,
                     track=NS(id=9, name=EVIL), recommended_at=None, progress_percent=None,
                     sessions_attended=None, notes="", type=CertificateType.TEACHING,
                     average_rating=None),
        _certificate(status=CertificateStatus.PENDING, recipient=person, course=None,
                     track=None, recommended_at=datetime(2026, 1, 2), progress_percent=50,
                     sessions_attended=0, notes=None, type=CertificateType.MASTERY,
                     average_rating=None),
    ]
    macro = app.jinja_env.from_string(
        PENDING_CARD_MACRO + "{{ pending_card(c, urls, select=select) }}")  # the macro
    with app.app_context():
        for c in cards:
            # What the definitions themselves print (the newlines between them) first.
            prefix = app.jinja_env.from_string(PENDING_CARD_MACRO).render()
            expected = macro.render(c=c, urls=urls, select=select)[len(prefix):]
            assert str(pending_card(c, urls, select=select)) == expected
    assert "<script>" not in str(pending_card(cards[0], urls, select=select))
