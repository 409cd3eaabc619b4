"""Who is acting, and from where: passed by views and jobs to every service that writes."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Role, User


@dataclass(frozen=True, slots=True)
class Actor:
    user: User | None
    ip: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """Jobs and CLI commands act as the system: no user, no address."""
        return cls(user=None, ip=None)


def active_admin(user_id: int | None, ip: str | None = None) -> Actor | None:
    """The admin `user_id` as an Actor while they may still act (active, still an admin),
    else None: a job queued by an admin who has since lost the role or been deactivated
    does nothing in their name (bulk actions, bulk imports)."""
    user = db.session.get(User, user_id) if user_id else None
    if user is None or not user.active or user.role != Role.ADMIN:
        return None
    return Actor(user=user, ip=ip)
