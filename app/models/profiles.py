"""Earner profiles: a holder's public page of valid certificates and awarded
micro-credentials, at /p/<slug> (a random, unguessable slug), off by default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.users import User


class EarnerProfile(Base):
    """One publication of a holder's profile. Unpublishing ends it for good: the row
    stays (so its slug is never handed out again) and publishing again makes a new row
    with a new slug. `live_user_id` is the holder's id while published and NULL after:
    its unique constraint allows one published profile per person, race or not."""

    __tablename__ = "earner_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    live_user_id: Mapped[int | None] = mapped_column(unique=True)
    # The holder's choice: name their organization on the page (off by default).
    show_organization: Mapped[bool] = mapped_column(default=False)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    unpublished_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def published(self) -> bool:
        return self.unpublished_at is None
