"""Who is acting, and from where: passed by views and jobs to every service that writes."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import User


@dataclass(frozen=True, slots=True)
class Actor:
    user: User | None
    ip: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """Jobs and CLI commands act as the system: no user, no address."""
        return cls(user=None, ip=None)
