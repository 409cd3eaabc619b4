"""Reference data every database needs, and the demo data `make run` loads.

Both are idempotent: they look records up by their natural keys before creating them.
Later capabilities add their own demo data to `demo_data()`.
"""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Organization, Role, User
from app.services import audit
from app.services import organizations as org_service
from app.services import users as user_service
from app.services.auth import find_user_by_email
from app.services.context import Actor

DEMO_PASSWORD = "demo-password"
DEMO_ORG = ("Demo Roofing Ltd", "demo-roofing")
DEMO_LOGINS = [
    ("admin@demo.test", "admin"),
    ("manager@demo.test", "manager"),
    ("orgadmin@demo.test", "org_admin"),
    ("staff@demo.test", "staff"),
]
DEMO_PEOPLE = [
    ("admin@demo.test", "Aroha Admin", Role.ADMIN, False),
    ("manager@demo.test", "Mere Manager", Role.MANAGER, False),
    ("orgadmin@demo.test", "Oliver Org-Admin", Role.ORG_ADMIN, True),
    ("staff@demo.test", "Sam Staff", Role.STAFF, True),
    ("tane@demo.test", "Tāne Ngāti Pōneke", Role.STAFF, True),
    ("zoe@demo.test", "Zoë Brontë", Role.STAFF, True),
    ("li.wei@demo.test", "李伟 (Li Wei)", Role.STAFF, True),
    ("priya@demo.test", "Priya Raman", Role.STAFF, True),
]


def reference_data() -> None:
    """What a new database must hold: the audit chain's tip row."""
    audit.ensure_chain_head()


def demo_data() -> int:
    """Create the demo organization and people; returns how many records were new."""
    created = 0
    actor = Actor.system()
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_ORG[1]))
    if org is None:
        org = org_service.create_organization(actor, name=DEMO_ORG[0], slug=DEMO_ORG[1])
        created += 1
    for email, name, role, in_org in DEMO_PEOPLE:
        if find_user_by_email(email) is None:
            user_service.create_user(
                actor, email=email, name=name, role=role,
                organization_id=org.id if in_org else None, password=DEMO_PASSWORD,
            )
            created += 1
    db.session.flush()
    return created


def demo_user(email: str) -> User:
    user = find_user_by_email(email)
    assert user is not None, f"demo user {email} is missing"
    return user
