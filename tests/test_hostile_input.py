"""No input gets a 500 (issue 13): each cause found by posting hostile values to every
route, pinned by a test of its own, then Hypothesis posting generated hostile values to
every HTML form and query string of the route map as an admin and as staff. On
PostgreSQL too (DATABASE_URL), where NUL and 32-bit ids fail differently from SQLite."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.models import Organization, Role, User
from app.services import fields
from app.services.context import Actor
from tests import hostile
from tests.conftest import HX, PASSWORD


@pytest.fixture
def hworld(app: Flask, make_user: Any, make_track: Any, make_definition: Any,
           make_credential: Any, issue: Any, org: Any) -> dict[str, Any]:
    return hostile.world(app, make_user, make_track, make_definition, make_credential, issue, org)


# --- each cause ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["a\x00b@example.test", "\x00", "x\x1b@example.test"])
def test_nul_in_the_login_email_is_refused_not_a_500(client: Any, value: str) -> None:
    response = client.post("/login", data={"email": value, "password": PASSWORD})
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)


def test_nul_in_search_boxes_and_verify_is_a_400(admin_client: Any, client: Any) -> None:
    for path in ("/admin/users", "/admin/certificates", "/admin/micro-credentials",
                 "/admin/tracks", "/admin/audit", "/org", "/admin/organizations"):
        response = admin_client.get(path, query_string={"q": "a\x00b"})
        assert response.status_code == 400, path
        assert "control characters" in response.get_data(as_text=True)
    assert client.get("/verify", query_string={"number": "CERT\x00", "code": "x"}
                      ).status_code == 400
    assert client.get("/verify/abc%00def").status_code == 400
    response = client.post("/verify", data={"number": "CERT-2026-00001\x00", "code": "x"})
    assert response.status_code == 422


def test_nul_in_a_json_body_names_the_field(client: Any, admin_user: User,
                                            bearer: Any) -> None:
    response = client.post("/api/v1/internal/training/tracks",
                                 json={"name": "Track\x00"}, headers=bearer(admin_user))
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"name": [
        "Remove the control characters (such as NUL)."]}


@pytest.mark.parametrize("big", [2**31, 2**63 - 1, 2**63, 2**64, 10**30])
def test_ids_beyond_the_columns_range_are_not_found(admin_client: Any, bearer: Any,
                                                    admin_user: User, big: int) -> None:
    for path in (f"/admin/tracks/{big}", f"/admin/certificates/{big}", f"/teach/sessions/{big}",
                 f"/admin/users/{big}/edit", f"/credentials/{big}/evidence"):
        assert admin_client.get(path).status_code == 404, path
    response = admin_client.application.test_client().get(f"/api/admin/users/{big}",
                                                          headers=bearer(admin_user))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert admin_client.get(f"/admin/tracks/{fields.MAX_ID}").status_code == 404


@pytest.mark.parametrize("value", [str(2**31), str(2**64), "-1", "²", "1e400", "NaN"])
def test_integers_in_query_strings_are_bounded(admin_client: Any, value: str) -> None:
    for path, name in (("/admin/users", "organization_id"), ("/admin/users", "page"),
                       ("/admin/certificates", "course_id"), ("/admin/certificates", "page"),
                       ("/admin/certificates/new", "user_id"), ("/org", "definition_id")):
        response = admin_client.get(path, query_string={name: value}, headers=HX)
        assert response.status_code in (200, 404), (path, name, response.status_code)


def test_api_limit_and_page_are_bounded(client: Any, admin_user: User,
                                        bearer: Any) -> None:
    for args in ({"limit": str(2**64)}, {"page": str(2**64)}, {"limit": "-5"}, {"page": "²"}):
        response = client.get("/api/admin/users", query_string=args,
                                    headers=bearer(admin_user))
        assert response.status_code == 200, args


def test_superscript_digits_are_not_ids(admin_client: Any, hworld: dict[str, Any]) -> None:
    definition, track = hworld["definition"], hworld["track"]
    for path in (f"/admin/micro-credentials/{definition.id}/assign",
                 f"/admin/tracks/{track.id}/enrol"):
        response = admin_client.post(path, data={"user_ids": ["²", str(2**64), "١"]}, headers=HX)
        assert response.status_code == 422, path


def test_quiz_answers_refuse_non_finite_and_odd_numbers(app: Flask, new_client: Any,
                                                       hworld: dict[str, Any]) -> None:
    staff = new_client()
    staff.login(hworld["staff"].email)
    exam = hworld["track"].courses[1]
    with app.app_context():
        from app.models import Course

        question_ids = [q["id"] for q in db.session.get(Course, exam.id).questions]
    data = {f"answer-{qid}": ["²", "1e400", str(2**64), "-1"] for qid in question_ids}
    response = staff.post(f"/learn/courses/{exam.id}/quiz", data=data)
    assert response.status_code < 500


@pytest.mark.parametrize("body", ["1e400", "[1e400]", '{"name": NaN}', '{"name": Infinity}',
                                  '{"estimatedHours": 1e400}', "[]", "1", '"x"', "null", "{"])
def test_json_refuses_non_finite_numbers_and_non_objects(client: Any, admin_user: User,
                                                         bearer: Any, body: str) -> None:
    response = client.post("/api/v1/internal/training/tracks", data=body,
                                 headers={**bearer(admin_user), "Content-Type": "application/json"})
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()


def test_quiz_questions_with_odd_shapes_are_refused(client: Any, admin_user: User,
                                                    bearer: Any, hworld: dict[str, Any]) -> None:
    exam = hworld["track"].courses[1]
    for questions in ([{"type": "single", "prompt": "Q", "options": "ab", "correct": [0]}],
                      [{"type": ["single"], "prompt": "Q", "options": ["a", "b"], "correct": 0}],
                      [{"type": "single", "prompt": "Q", "options": [1.5e308, {}],
                        "correct": [1e308]}],
                      [{"type": "single", "prompt": "Q", "options": ["a", "b"], "correct": ["²"]}],
                      [{"type": "single", "prompt": "Q", "options": ["a", "b"],
                        "correct": [2**64]}]):
        response = client.patch(f"/api/v1/internal/training/courses/{exam.id}",
                                      json={"questions": questions}, headers=bearer(admin_user))
        assert response.status_code == 422, questions


def test_a_list_where_a_string_is_expected(client: Any, admin_user: User,
                                           bearer: Any, hworld: dict[str, Any]) -> None:
    admin_client = client  # a Bearer token, no session (a session would need CSRF)
    token = bearer(admin_user)
    response = admin_client.post("/api/v1/internal/training/tracks", json={"name": ["a", "b"]},
                                 headers=token)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"name": ["Send a single value."]}
    response = admin_client.post("/api/v1/internal/training/tracks", json={"name": {"a": 1}},
                                 headers=token)
    assert response.status_code == 422
    with admin_client.application.app_context():
        from app.models import CourseProgress

        progress_id = db.session.scalar(db.select(CourseProgress.id).limit(1))
    response = admin_client.patch(f"/api/v1/internal/training/course-progress/{progress_id}",
                                  json={"status": ["COMPLETED"]}, headers=token)
    assert response.status_code == 422
    cert = hworld["certificate"]
    response = admin_client.post(f"/api/admin/certificates/{cert.id}/approve", json=[1],
                                 headers=token)
    assert response.status_code == 422


@pytest.mark.parametrize("edge", ["9999-12-31", "0001-01-01", "10000-01-01", "2026-02-30"])
def test_dates_at_the_edge_of_the_calendar(admin_client: Any, admin_user: User, bearer: Any,
                                           edge: str) -> None:
    for path in ("/admin/certificates", "/admin/audit"):
        for name in ("from", "to"):
            assert admin_client.get(path, query_string={name: edge}).status_code == 200
    response = admin_client.application.test_client().get(
        "/api/admin/certificates", query_string={"to": edge}, headers=bearer(admin_user))
    assert response.status_code == 200
    assert fields.parse_date("9999-12-31") == date(9999, 12, 30)


@pytest.mark.parametrize("index", ["-1", "-100", str(2**64), "100000"])
def test_quiz_editor_question_index_is_bounded(admin_client: Any, hworld: dict[str, Any],
                                               index: str) -> None:
    exam = hworld["track"].courses[1]
    response = admin_client.get(f"/admin/courses/{exam.id}/quiz/question",
                                query_string={"index": index}, headers=HX)
    assert response.status_code == 200  # a first question: the index is ignored


def test_teach_ids_and_ratings_are_bounded(admin_client: Any) -> None:
    for path in ("/teach/sessions/1/attendance", "/teach/sessions/1/rate"):
        response = admin_client.post(path, data={"user_id": str(2**64), "rating": str(2**64)})
        assert response.status_code in (403, 404)


BIDI = "\u202eAda\u202c \u2066Lovelace\u2069\u202a\u202b\u202d\u2067\u2068"


def test_bidi_overrides_are_stripped_from_names(app: Flask, admin_client: Any,
                                                issue: Any, make_track: Any) -> None:
    from app.models import CertificateType
    from app.services import organizations, training
    from app.services import users as user_service

    with app.app_context():
        organization = organizations.create_organization(Actor.system(), name="\u202eAcme\u202c")
        user = user_service.create_user(Actor.system(), name=BIDI, email="bidi@example.test",
                                        role=Role.STAFF, organization_id=organization.id,
                                        password=PASSWORD + "-Zq8")
        db.session.commit()
        assert user.name == "Ada Lovelace"
        assert organization.name == "Acme"
        user_id = user.id
    track = make_track("\u202eTrack\u2069")
    assert track.name == "Track"
    with app.app_context():
        recipient = db.session.get(User, user_id)
        db.session.expunge(recipient)
    certificate = issue(recipient, track=track, type_=CertificateType.COMPLETION)
    page = admin_client.get(f"/verify/{certificate.verification_id}").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert not any(ch in page for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    response = admin_client.post("/admin/tracks", data={"name": "\u202e\u2066 ", "audience":
                                                        "CLIENT_EMPLOYEE", "level": "FOUNDATION"},
                                 headers=HX)
    assert response.status_code == 422  # only bidi characters: an empty name
    with app.app_context():
        assert training is not None


# --- unknown ids are not found, never a fallback -------------------------------------------

def test_org_matrix_for_an_unknown_organization_is_not_found(admin_client: Any,
                                                             org: Organization) -> None:
    assert admin_client.get("/org", query_string={"organization_id": "999"}).status_code == 404
    assert admin_client.get("/org", query_string={"organization_id": "abc"}).status_code == 404
    assert admin_client.get("/org", query_string={"organization_id": str(2**64)}
                            ).status_code == 404
    assert admin_client.get("/org/credentials.csv",
                            query_string={"organization_id": "999"}).status_code == 404
    page = admin_client.get("/org", query_string={"organization_id": str(org.id)})
    assert page.status_code == 200 and "Acme Roofing" in page.get_data(as_text=True)
    assert admin_client.get("/org").status_code == 200  # no choice yet: the first one


# --- Hypothesis over the route map ------------------------------------------------------------

HOSTILE = st.one_of(
    st.sampled_from(hostile.HOSTILE_TEXT),
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats().map(repr),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=3000),
)
VALUE = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=2, max_size=3))


def _hammer(app: Flask, client: Any, *, examples: int) -> dict[int, int]:
    names = hostile.form_field_names()
    post_rules = hostile.rules(app, "POST", api=False)
    get_rules = hostile.rules(app, "GET")
    statuses: dict[int, int] = {}
    with hostile.server_errors() as errors:

        @given(rule=st.sampled_from(post_rules), values=st.fixed_dictionaries(
            {}, optional={name: VALUE for name in names}), path_id=st.sampled_from(
            ["1", "2", str(2**31), str(2**64)]), htmx=st.booleans())
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def post_forms(rule: Any, values: dict[str, Any], path_id: str, htmx: bool) -> None:
            response = client.post(hostile.build_path(rule, {}, path_id), data=values,
                                   headers=HX if htmx else {})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (rule.rule, values, errors.records[-1:])

        @given(rule=st.sampled_from(get_rules), args=st.fixed_dictionaries(
            {}, optional={name: HOSTILE for name in hostile.QUERY_ARGS}))
        @settings(max_examples=examples // 2, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def get_pages(rule: Any, args: dict[str, Any]) -> None:
            response = client.get(hostile.build_path(rule, {}), query_string=args)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (rule.rule, args, errors.records[-1:])

        post_forms()
        get_pages()
    assert client.get("/me").status_code == 200  # the walk ran logged in throughout
    assert not errors.records, errors.causes()
    return statuses


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_hostile_values_in_every_form_never_get_a_500(new_client: Any, app: Flask,
                                                      hworld: dict[str, Any], role: str) -> None:
    client = new_client()
    client.login(hworld[role].email)
    statuses = _hammer(app, client, examples=300)
    assert sum(statuses.values()) >= 200
    assert statuses.get(422, 0) > 0  # the forms and the guard did refuse things


def test_session_ids_and_token_references_are_ascii_ids(app: Flask, admin_user: User) -> None:
    from app.services import auth

    with app.app_context():
        for cookie in ("²:token", "١:token", f"{2**31}:token", f"{2**64}:token", ":token"):
            assert auth.load_session_user(cookie) is None, cookie
        for reference in (str(2**31), "9" * 18, "²"):
            assert auth.find_api_token(reference) is None, reference


@pytest.mark.parametrize("big", [str(2**31), str(2**63), str(2**64)])
def test_a_refused_form_is_shown_again_without_looking_up_a_huge_id(admin_client: Any,
                                                                     big: str) -> None:
    response = admin_client.post("/admin/certificates", data={"user_id": big, "type":
                                                              "COMPLETION"}, headers=HX)
    assert response.status_code == 422
    assert "Enter a smaller number." in response.get_data(as_text=True)


# The values that found a cause each, in every field of every form and every query
# parameter at once, on every route (ids of existing rows and beyond the columns' range).
SWEEP = [str(2**31), str(2**64), "-1", "²", "a\x00b", "1e400", "9999-12-31", "\u202ex"]


@pytest.mark.parametrize("role", ["admin", "staff", "org_admin"])
def test_every_route_with_each_hostile_value_in_every_field(new_client: Any, app: Flask,
                                                            hworld: dict[str, Any],
                                                            role: str) -> None:
    client = new_client()
    client.login(hworld[role].email)
    names = hostile.form_field_names()
    seen = 0
    failed: list[str] = []
    with hostile.server_errors() as errors:
        for value in SWEEP:
            for rule in hostile.rules(app, "POST", api=False):
                response = client.post(hostile.build_path(rule, {}),
                                       data={n: value for n in names}, headers=HX)
                failed += [f"POST {rule.rule} {value!r}"] if response.status_code >= 500 else []
                seen += 1
            for rule in hostile.rules(app, "GET"):
                response = client.get(hostile.build_path(rule, {}),
                                      query_string={a: value for a in hostile.QUERY_ARGS})
                failed += [f"GET {rule.rule} {value!r}"] if response.status_code >= 500 else []
                seen += 1
            assert client.get("/me").status_code == 200, value  # still logged in
        for big in hostile.BIG_IDS:
            for rule in hostile.rules(app, "GET"):
                if rule.arguments:
                    response = client.get(hostile.build_path(rule, {}, big))
                    failed += [f"GET {rule.rule} {big}"] if response.status_code >= 500 else []
                    seen += 1
    assert seen > 500
    assert failed == [], (failed, errors.causes())


@pytest.mark.parametrize("role", ["admin", "org_admin"])
def test_query_arguments_named_like_url_for_or_a_path_argument(new_client: Any, app: Flask,
                                                               hworld: dict[str, Any],
                                                               role: str) -> None:
    """?endpoint=, ?_method=, ?_external= and ?<any path argument>= on every page (sort
    headers, pagers and the certificate workspace's crumbs rebuild the URL from them)."""
    client = new_client()
    client.login(hworld[role].email)
    path_args = sorted({a for rule in app.url_map.iter_rules() for a in rule.arguments})
    query = {"endpoint": "x", "_method": "POST", "_external": "1", "_anchor": "x",
             "_scheme": "javascript", **dict.fromkeys(path_args, "3")}
    failed: list[str] = []
    with hostile.server_errors() as errors:
        for rule in hostile.rules(app, "GET"):
            for headers in ({}, HX):
                response = client.get(hostile.build_path(rule, {}), query_string=query,
                                      headers=headers)
                failed += [f"GET {rule.rule}"] if response.status_code >= 500 else []
    assert failed == [], (failed, errors.causes())


# --- the lean public check (app/blueprints/verify/lean.py) ------------------------------------

CSRF_TOKEN = re.compile(rb'(<meta name="csrf-token" content=|name="csrf_token" value=)"[^"]*"')


@pytest.mark.parametrize(("path", "query", "headers"), [
    ("/verify/" + "A" * 32 + "%00", "", {}),
    ("/verify/" + "A" * 31 + "\u00e9", "", {}),
    ("/verify/" + "A" * 33, "", {}),
    ("/verify/" + "A" * 32 + "/", "", {}),
    ("/verify/" + "A" * 32, "format=json%00", {}),
    ("/verify/" + "A" * 32, "format=json&", {}),
    ("/verify/" + "A" * 32, "", {"Accept": ";;;q=abc, application/json;q=x"}),
    ("/verify/" + "A" * 32, "", {"Accept": "application/json;q=0.1" + ", */*" * 2000}),
    ("/verify/" + "A" * 32, "", {"Accept-Encoding": "br;q=nope, gzip;q=-1, \x00"}),
    ("/verify/" + "A" * 32, "format=json", {"Accept-Encoding": "*"}),
    ("/verify/" + "A" * 32, "", {"If-None-Match": "\"" * 300, "Range": "bytes=9-1"}),
])
def test_hostile_public_checks_answer_as_the_route_never_500(
        app: Flask, monkeypatch: pytest.MonkeyPatch, path: str, query: str,
        headers: dict[str, str]) -> None:
    """Whether or not the lean path takes them, both ways give the same answer."""
    from datetime import UTC, datetime

    from app.blueprints.verify import lean
    from app.services import signing

    with app.app_context():
        signing.ensure_key()  # the one key both ways sign with
        db.session.commit()
    checked_at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # one signed payload both ways
    monkeypatch.setattr("app.services.verification.utcnow", lambda: checked_at)
    answers = []
    for n, lean_path in enumerate((True, False)):
        app.extensions.pop("credwright.verify_pages", None)
        response = app.test_client(use_cookies=False).get(
            path, query_string=query, headers=headers,
            environ_overrides={lean.SWITCH: lean_path, "REMOTE_ADDR": f"192.0.2.{n + 1}"})
        assert response.status_code < 500, response.status_code
        # The route's error pages start a session of their own (a random CSRF token).
        answers.append((response.status_code, CSRF_TOKEN.sub(b"", response.get_data())))
    assert answers[0] == answers[1]
