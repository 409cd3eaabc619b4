"""Who may see whom (app/services/people.py): `may_see` for one person and `visible_to`,
the same rule as SQL (the global search's people), agree for every role, and an org
admin never sees another organization's people."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.services import people


@pytest.mark.parametrize("role", list(Role))
def test_may_see_and_visible_to_agree(app: Any, org: Any, make_org: Any, make_user: Any,
                                      role: Role) -> None:
    viewer = make_user(role, org if role in (Role.ORG_ADMIN, Role.STAFF) else None,
                       name="Vera Viewer")
    own = make_user(Role.STAFF, org, name="Olive Own")
    other = make_user(Role.STAFF, make_org("Elsewhere Ltd"), name="Eli Elsewhere")
    nobody = make_user(Role.MANAGER, None, name="Noa No-org")
    with app.app_context():
        viewer = db.session.get(User, viewer.id)
        everyone = [db.session.get(User, u.id) for u in (viewer, own, other, nobody)]
        by_sql = set(db.session.scalars(select(User.id).where(
            User.id.in_([u.id for u in everyone]), people.visible_to(viewer))))
        by_python = {u.id for u in everyone if people.may_see(viewer, u)}
        assert by_sql == by_python
        expected = {Role.ADMIN: {u.id for u in everyone}, Role.MANAGER: {u.id for u in everyone},
                    Role.ORG_ADMIN: {viewer.id, own.id}}.get(role, set())
        assert by_sql == expected
        assert other.id not in by_sql or role in people.SEE_EVERYONE


def test_an_org_admin_without_an_organization_sees_nobody(app: Any, make_user: Any) -> None:
    viewer = make_user(Role.ORG_ADMIN, None, name="Orphan Org-Admin")
    make_user(Role.STAFF, None, name="Sam Staff")
    with app.app_context():
        viewer = db.session.get(User, viewer.id)
        assert db.session.scalars(select(User.id).where(people.visible_to(viewer))).all() == []
        assert not people.may_see(viewer, viewer)
