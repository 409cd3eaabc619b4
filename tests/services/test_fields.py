"""Field rules on the data (issue 10): the helpers of app/services/fields.py, and every
service that creates or updates a named thing refusing what its form refuses, changing
nothing."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import (
    CertificationTrack,
    ContentType,
    Course,
    CourseSession,
    ImplementationProject,
    MicroCredentialDefinition,
    Organization,
    Role,
    TrackAudience,
    TrainingAssignment,
    User,
)
from app.services import fields, teaching, training
from app.services import organizations as org_service
from app.services import users as user_service
from app.services.context import Actor
from app.services.credentials import definitions
from app.services.errors import ValidationFailed

CONTROLS = [c for c in map(chr, range(0x110000))
            if unicodedata.category(c) in ("Cc", "Cs")]
SINGLE_LINE_CONTROLS = st.sampled_from(CONTROLS)
MULTILINE_CONTROLS = st.sampled_from([c for c in CONTROLS if c not in "\n\r\t"])
CLEAN_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60)


# --- helpers -------------------------------------------------------------------------

def _refused(call, field):
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert list(caught.value.fields) == [field]
    assert caught.value.fields[field]
    return caught.value


def test_text_strips_and_bounds():
    assert fields.text("  Roofing  ", "name", max_len=200) == "Roofing"
    assert fields.text(" Roofing\n ", "body", max_len=200, multiline=True) == "Roofing"
    assert fields.text("abc", "title", min_len=3, max_len=200) == "abc"
    _refused(lambda: fields.text("x", "title", min_len=3, max_len=200), "title")
    _refused(lambda: fields.text("x" * 201, "title", max_len=200), "title")
    _refused(lambda: fields.text("   ", "name", max_len=200), "name")
    _refused(lambda: fields.text(None, "name", max_len=200), "name")
    _refused(lambda: fields.text(5, "name", max_len=200), "name")
    assert fields.optional_text("  ", "notes", max_len=10) is None
    assert fields.optional_text(None, "notes", max_len=10) is None


def test_text_refuses_control_characters():
    _refused(lambda: fields.text("Acme\x00Roofing", "name", max_len=200), "name")
    _refused(lambda: fields.text("Acme\nRoofing", "name", max_len=200), "name")
    _refused(lambda: fields.text("Acme\tRoofing", "name", max_len=200), "name")
    _refused(lambda: fields.text("Acme\x7f", "name", max_len=200), "name")
    _refused(lambda: fields.text("line\x00", "body", max_len=200, multiline=True), "body")
    assert fields.text("one\r\ntwo\tthree", "body", max_len=200, multiline=True) == \
        "one\r\ntwo\tthree"


def test_integer_and_ident():
    assert fields.integer(5, "level", min=1, max=10) == 5
    for bad in (0, 11, 99, -1, True, False, 5.0, "5", None):
        _refused(lambda bad=bad: fields.integer(bad, "level", min=1, max=10), "level")
    assert fields.optional_integer(None, "months", min=1, max=600) is None
    assert fields.ident(2**31 - 1, "id") == 2**31 - 1
    for bad in (0, -3, 2**31, 2**63, True, "7"):
        _refused(lambda bad=bad: fields.ident(bad, "id"), "id")


def test_slug_url_choice_boolean():
    assert fields.slug("acme-roofing", "slug") == "acme-roofing"
    assert fields.slug("  ", "slug") is None
    for bad in ("Acme", "acme roofing", "a_b", "x" * 81):
        _refused(lambda bad=bad: fields.slug(bad, "slug"), "slug")
    assert fields.url("https://example.test/v", "url") == "https://example.test/v"
    for bad in ("javascript:alert(1)", "example.test", "https://", "https://a b"):
        _refused(lambda bad=bad: fields.url(bad, "url"), "url")
    assert fields.choice("TEXT", "content_type", ContentType) is ContentType.TEXT
    _refused(lambda: fields.choice("PDF", "content_type", ContentType), "content_type")
    _refused(lambda: fields.boolean("yes", "active"), "active")


def test_clean_collects_every_error_and_refuses_unknown_fields():
    rules = {"title": fields.rule(fields.text, min_len=3, max_len=200),
             "level": fields.rule(fields.integer, min=1, max=10)}
    with pytest.raises(ValidationFailed) as caught:
        fields.clean({"title": "x", "level": 99}, rules, creating=False)
    assert set(caught.value.fields) == {"title", "level"}
    with pytest.raises(ValidationFailed) as caught:
        fields.clean({}, rules, creating=True, required=("title", "level"))
    assert set(caught.value.fields) == {"title", "level"}
    assert fields.clean({}, rules, creating=False) == {}
    with pytest.raises(ValueError):
        fields.clean({"is_default": True}, rules, creating=False)


@given(st.text(max_size=30), SINGLE_LINE_CONTROLS, st.text(max_size=30))
def test_any_control_character_is_refused(before, control, after):
    value = before + control + after
    with pytest.raises(ValidationFailed):
        fields.text(value, "name", max_len=1000)


@given(st.text(max_size=30), MULTILINE_CONTROLS, st.text(max_size=30))
def test_any_control_character_but_newline_and_tab_is_refused_in_multiline(before, control,
                                                                          after):
    with pytest.raises(ValidationFailed):
        fields.text(before + control + after, "body", max_len=1000, multiline=True)


@given(CLEAN_TEXT, st.integers(min_value=1, max_value=20), st.integers(min_value=0, max_value=40))
def test_stripped_text_within_bounds_is_accepted_stripped(value, min_len, extra):
    max_len = min_len + extra
    stripped = value.strip()
    try:
        result = fields.text(value, "name", min_len=min_len, max_len=max_len)
    except ValidationFailed:
        assert not min_len <= len(stripped) <= max_len
    else:
        assert result == stripped
        assert min_len <= len(result) <= max_len


@given(st.integers(min_value=-(2**64), max_value=2**64), st.integers(-50, 50),
       st.integers(0, 100))
def test_integer_accepts_exactly_the_range(value, low, width):
    high = low + width
    if low <= value <= high:
        assert fields.integer(value, "n", min=low, max=high) == value
    else:
        with pytest.raises(ValidationFailed):
            fields.integer(value, "n", min=low, max=high)


# --- the forms strip, so "   " fails InputRequired on the page too ----------------------

def test_forms_strip_whitespace_only_names(app):
    from app.blueprints.admin.forms import OrganizationForm
    from app.blueprints.credentials.forms import DefinitionForm
    from app.blueprints.training.forms import CourseForm, ProjectForm, TrackForm

    cases = [(DefinitionForm, {"title": "   ", "level": "4", "issuing_body": "  "},
              {"title", "issuing_body"}),
             (TrackForm, {"name": "   "}, {"name"}),
             (CourseForm, {"title": " \t "}, {"title"}),
             (ProjectForm, {"name": "  "}, {"name"}),
             (OrganizationForm, {"name": "   "}, {"name"})]
    with app.test_request_context(method="POST"):
        for form_class, data, bad in cases:
            form = form_class(formdata=MultiDict(data))
            if form_class is ProjectForm:
                form.organization_id.choices = [(1, "Acme")]
            assert not form.validate()
            assert bad <= set(form.errors), form_class
        form = DefinitionForm(formdata=MultiDict({"title": "  Reroofing  ", "level": "5",
                                                  "issuing_body": " RANZ "}))
        assert form.validate(), form.errors
        assert form.title.data == "Reroofing"


# --- services refuse what their forms refuse, and change nothing -----------------------

def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def _refuses(call, *expected_fields):
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert set(expected_fields) <= set(caught.value.fields), caught.value.fields
    db.session.rollback()
    return caught.value


GOOD_DEFINITION = {"title": "Membrane roofing", "level": 4, "issuing_body": "RANZ"}


@pytest.mark.parametrize("bad, field", [
    ({"title": "x"}, "title"), ({"title": "   "}, "title"), ({"title": "A\x00B title"}, "title"),
    ({"title": "x" * 201}, "title"), ({"level": 99}, "level"), ({"level": 0}, "level"),
    ({"level": True}, "level"), ({"level": "5"}, "level"), ({"validity_months": -1},
                                                            "validity_months"),
    ({"validity_months": 0}, "validity_months"), ({"validity_months": 601}, "validity_months"),
    ({"issuing_body": "  "}, "issuing_body"), ({"skill_standard": "s" * 201}, "skill_standard"),
    ({"requirements": "r" * 2001}, "requirements"),
])
def test_definition_rules(app, bad, field):
    with app.app_context():
        before = _count(MicroCredentialDefinition)
        _refuses(lambda: definitions.create_definition(Actor.system(),
                                                       **{**GOOD_DEFINITION, **bad}), field)
        assert _count(MicroCredentialDefinition) == before
        definition = definitions.create_definition(Actor.system(), **GOOD_DEFINITION)
        db.session.commit()
        _refuses(lambda: definitions.update_definition(definition, Actor.system(), **bad), field)
        definition = db.session.get(MicroCredentialDefinition, definition.id)
        assert (definition.title, definition.level, definition.validity_months) == \
            ("Membrane roofing", 4, None)


def test_definition_errors_come_together_and_required_fields_are_required(app):
    with app.app_context():
        error = _refuses(lambda: definitions.create_definition(
            Actor.system(), title="x", level=99, issuing_body="", validity_months=-1),
            "title", "level", "issuing_body", "validity_months")
        assert len(error.fields) == 4
        _refuses(lambda: definitions.create_definition(Actor.system(), title="Only a title"),
                 "level", "issuing_body")
        made = definitions.create_definition(Actor.system(), title="  Gutters  ", level=3,
                                             issuing_body=" RANZ ", requirements="  ",
                                             validity_months=None)
        assert (made.title, made.issuing_body, made.requirements) == ("Gutters", "RANZ", None)


@pytest.mark.parametrize("bad, field", [
    ({"name": "   "}, "name"), ({"name": ""}, "name"), ({"name": "Track\x00"}, "name"),
    ({"name": "n" * 201}, "name"), ({"estimated_hours": -1}, "estimated_hours"),
    ({"estimated_hours": 0}, "estimated_hours"), ({"validity_months": -1}, "validity_months"),
    ({"validity_months": 601}, "validity_months"), ({"audience": "EVERYONE"}, "audience"),
    ({"active": "no"}, "active"), ({"description": "d" * 5001}, "description"),
])
def test_track_rules(app, bad, field):
    with app.app_context():
        before = _count(CertificationTrack)
        values = {"name": "Safety", "audience": TrackAudience.INTERNAL, **bad}
        _refuses(lambda: training.create_track(Actor.system(), **values), field)
        assert _count(CertificationTrack) == before
        track = training.create_track(Actor.system(), name="Safety",
                                      audience=TrackAudience.INTERNAL, estimated_hours=3)
        db.session.commit()
        _refuses(lambda: training.update_track(track, Actor.system(), **bad), field)
        track = db.session.get(CertificationTrack, track.id)
        assert (track.name, track.estimated_hours, track.active) == ("Safety", 3, True)


@pytest.mark.parametrize("bad, field", [
    ({"title": "   "}, "title"), ({"title": "T\x00"}, "title"), ({"title": "t" * 201}, "title"),
    ({"estimated_minutes": -5}, "estimated_minutes"), ({"passing_score": 101}, "passing_score"),
    ({"passing_score": 0}, "passing_score"), ({"passing_score": None}, "passing_score"),
    ({"attempt_limit": 0}, "attempt_limit"), ({"attempt_limit": 101}, "attempt_limit"),
    ({"content_url": "javascript:alert(1)"}, "content_url"),
    ({"content_type": "PDF"}, "content_type"),
])
def test_course_rules(app, bad, field):
    with app.app_context():
        track = training.create_track(Actor.system(), name="Safety",
                                      audience=TrackAudience.INTERNAL)
        values = {"title": "Ladders", "content_type": ContentType.TEXT,
                  "content_body": "Hold on.", **bad}
        _refuses(lambda: training.create_course(track, Actor.system(), **values), field)
        track = training.create_track(Actor.system(), name="Safety",
                                      audience=TrackAudience.INTERNAL)
        course = training.create_course(track, Actor.system(), title="Ladders",
                                        content_type=ContentType.TEXT, content_body="Hold on.")
        db.session.commit()
        before = _count(Course)
        _refuses(lambda: training.update_course(course, Actor.system(), **bad), field)
        course = db.session.get(Course, course.id)
        assert (course.title, course.passing_score, course.attempt_limit) == ("Ladders", 80, None)
        assert _count(Course) == before


@pytest.mark.parametrize("kwargs, field", [
    ({"passing_score": 0}, "passing_score"), ({"passing_score": 101}, "passing_score"),
    ({"passing_score": True}, "passing_score"), ({"attempt_limit": 0}, "attempt_limit"),
    ({"attempt_limit": "3"}, "attempt_limit"), ({"attempt_limit": 101}, "attempt_limit"),
])
def test_quiz_rules(app, make_track, kwargs, field):
    from tests.conftest import QUIZ

    track = make_track(attempt_limit=3)
    with app.app_context():
        course = db.session.get(Course, track.courses[-1].id)
        _refuses(lambda: training.save_quiz(course, QUIZ, Actor.system(), **kwargs), field)
        course = db.session.get(Course, course.id)
        assert (course.passing_score, course.attempt_limit) == (80, 3)


def test_project_and_assignment_rules(app, org):
    with app.app_context():
        for name in ("   ", "", "P\x00", "p" * 201):
            _refuses(lambda name=name: training.create_project(
                Actor.system(), name=name, organization_id=org.id, go_live_date=None), "name")
        _refuses(lambda: training.create_project(Actor.system(), name="Go", organization_id=0,
                                                 go_live_date=None), "organization_id")
        assert _count(ImplementationProject) == 0
        project = training.create_project(Actor.system(), name=" Go-live ",
                                          organization_id=org.id, go_live_date=None)
        track = training.create_track(Actor.system(), name="Safety",
                                      audience=TrackAudience.INTERNAL)
        assert project.name == "Go-live"
        for count in (0, -1, 100_001, True, "2"):
            _refuses(lambda count=count: training.assign_training(
                project, track, Actor.system(), required_completions=count),
                "required_completions")
        assert _count(TrainingAssignment) == 0


@pytest.mark.parametrize("bad, field", [
    ({"name": "   "}, "name"), ({"name": "Ann\x00"}, "name"), ({"name": "n" * 201}, "name"),
    ({"phone": "call me"}, "phone"), ({"phone": "+64 21 555\x00"}, "phone"),
])
def test_user_rules(app, make_user, bad, field):
    user = make_user(Role.STAFF, name="Ann Staff")
    with app.app_context():
        before = _count(User)
        values = {"email": "new@example.test", "name": "New Person", "role": Role.STAFF, **bad}
        _refuses(lambda: user_service.create_user(Actor.system(), **values), field)
        assert _count(User) == before
        target = db.session.get(User, user.id)
        _refuses(lambda: user_service.update_user(target, Actor.system(), **bad), field)
        assert db.session.get(User, user.id).name == "Ann Staff"


@pytest.mark.parametrize("bad, field", [
    ({"name": "   "}, "name"), ({"name": "Acme\x00"}, "name"), ({"name": "a" * 201}, "name"),
    ({"slug": "Not A Slug"}, "slug"), ({"slug": "s" * 81}, "slug"),
    ({"email_system_alerts": "yes"}, "email_system_alerts"),
])
def test_organization_rules(app, org, bad, field):
    with app.app_context():
        before = _count(Organization)
        values = {"name": "New Org", **bad}
        _refuses(lambda: org_service.create_organization(Actor.system(), **values), field)
        assert _count(Organization) == before
        target = db.session.get(Organization, org.id)
        _refuses(lambda: org_service.update_organization(target, Actor.system(), **bad), field)
        again = db.session.get(Organization, org.id)
        assert (again.name, again.email_system_alerts) == ("Acme Roofing", True)


def test_session_rules(app, make_user, make_track, monkeypatch):
    from app.services.teaching import sessions

    instructor = make_user(Role.STAFF, name="Mere Teacher")
    track = make_track(exam=False)
    with app.app_context():
        monkeypatch.setattr(sessions, "require_instructor", lambda user, course: user)
        actor = Actor(db.session.get(User, instructor.id))
        course = db.session.get(Course, track.courses[0].id)
        when = datetime(2026, 1, 5, 9, tzinfo=UTC)
        for kwargs, field in (({"title": "T\x00"}, "title"), ({"title": "t" * 201}, "title"),
                              ({"title": "ok", "location": "L\x00"}, "location"),
                              ({"title": "ok", "location": "l" * 201}, "location")):
            _refuses(lambda kwargs=kwargs: teaching.create_session(
                actor, course, starts_at=when, **kwargs), field)
        assert _count(CourseSession) == 0
        session = teaching.create_session(actor, course, title="   ", starts_at=when,
                                          location="  ")
        assert (session.title, session.location) == (course.title, None)
        for rating in (0, 6, True, 4.5, "5"):
            _refuses(lambda rating=rating: teaching.rate_session(actor, session, rating),
                     "rating")
