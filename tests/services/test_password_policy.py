"""The password policy (NIST SP 800-63B 5.1.1.2), one implementation: app/services/auth.py
check_password, used wherever a password is set."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Role, User
from app.services import auth
from app.services import users as user_service
from app.services.context import Actor
from app.services.errors import ValidationFailed


@pytest.mark.parametrize("password", [
    "tui-kereru-kowhai-9", "correct-horse-battery", "a fairly long passphrase",
    "pōhutukawa in summer", "staple gun and ladder"])
def test_good_passwords_pass(password):
    assert auth.password_problems(password, email="ana@example.test", name="Ana Ngata") == []


@pytest.mark.parametrize(("password", "problem"), [
    ("elevenchars", "at least 12"),
    ("y" * 257, "at most 256"),
    ("password1234", "too common"),
    ("Password123!", "too common"),
    ("!!iloveyou2026", "too common"),
    ("aaaaaaaaaaaa", "repeated or sequential"),
    ("abababababab", "repeated or sequential"),
    ("1234567890123", "repeated or sequential"),
    ("qwertyuiopas", "repeated or sequential"),
    ("ana.ngata.2026!", "email address or name"),
    ("my-name-is-NGATA", "email address or name"),
    ("credwright-portal-1", "email address or name"),
    ("tab\there-and-long", "letters, digits"),
])
def test_weak_passwords_are_refused(password, problem):
    (message,) = auth.password_problems(password, email="ana.ngata@example.test",
                                        name="Ana Ngata")
    assert problem in message


def test_every_setter_applies_it(app):
    with app.app_context():
        with pytest.raises(ValidationFailed) as refused:
            user_service.create_user(Actor.system(), email="p@example.test", name="Pat Doe",
                                     role=Role.STAFF, password="password1234")
        assert "password" in refused.value.fields
        user = User(email="q@example.test", name="Quinn Doe", role=Role.STAFF)
        db.session.add(user)
        db.session.flush()
        for setter in (lambda: auth.set_password(user, "quinn-doe-2026!", Actor.system()),
                       lambda: user_service.update_user(user, Actor.system(),
                                                        password="aaaaaaaaaaaaaaa")):
            with pytest.raises(ValidationFailed):
                setter()
        db.session.rollback()


def test_the_demo_password_passes_for_every_demo_person(app):
    from app import seed

    for email, name, _role, _in_org in seed.DEMO_PEOPLE:
        assert auth.password_problems(seed.DEMO_PASSWORD, email=email, name=name) == []
