"""A track's figures for managers: learners by status (one grouped query) and a page of
its learners with their completed required courses, chosen in name order without
sorting the track's whole list."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import (
    CertificationTrack,
    Course,
    CourseProgress,
    Enrolment,
    ProgressStatus,
    User,
)
from app.services.pagination import MAX_PER_PAGE, Page
from app.services.users import people_matching

P = ProgressStatus


@dataclass(frozen=True)
class TrackSummary:
    enrolled: int
    completed: int
    in_progress: int
    not_started: int
    failed: int

    @property
    def completion_rate(self) -> float:
        return round(100.0 * self.completed / self.enrolled, 1) if self.enrolled else 0.0


def track_summary(track: CertificationTrack) -> TrackSummary:
    """Counts by status, in one grouped query."""
    counts = dict(db.session.execute(
        select(Enrolment.status, func.count(Enrolment.id))
        .where(Enrolment.track_id == track.id).group_by(Enrolment.status)).all())
    return TrackSummary(
        enrolled=sum(counts.values()), completed=counts.get(P.COMPLETED, 0),
        in_progress=counts.get(P.IN_PROGRESS, 0), not_started=counts.get(P.NOT_STARTED, 0),
        failed=counts.get(P.FAILED, 0))


def track_learners(track: CertificationTrack, *, status: str = "", q: str = "", page: int = 1,
                   per_page: int = 25) -> tuple[Page[Any], dict[int, int]]:
    """A page of (enrolment, user) rows and each enrolment's completed required courses.

    The count needs the users only when searching; the page is chosen among the users in
    name order (ix_users_name_id) that have an enrolment (the (user_id, track_id) unique
    index), so neither database sorts the track's whole list of full rows."""
    enrolled = select(Enrolment.id).where(Enrolment.user_id == User.id,
                                          Enrolment.track_id == track.id)
    count = select(func.count()).select_from(Enrolment).where(Enrolment.track_id == track.id)
    if status in P.__members__:
        enrolled = enrolled.where(Enrolment.status == P(status))
        count = count.where(Enrolment.status == P(status))
    people = select(User.id).where(enrolled.exists())
    if q.strip():
        match = people_matching(q)
        people = people.where(match)
        count = count.join(User, User.id == Enrolment.user_id).where(match)
    total = db.session.scalar(count) or 0
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = min(max(1, page), max(1, ceil(total / per_page)))
    chosen = (people.order_by(User.name, User.id).limit(per_page)
              .offset((page - 1) * per_page).correlate(None))
    items = list(db.session.execute(
        select(Enrolment, User).join(User, User.id == Enrolment.user_id)
        .where(Enrolment.track_id == track.id, User.id.in_(chosen))
        .order_by(User.name, User.id)).all())
    page_rows: Page[Any] = Page(items=items, page=page, per_page=per_page, total=total)
    ids = [row[0].id for row in page_rows.items]
    done: dict[int, int] = {}
    if ids:
        done = dict(db.session.execute(
            select(CourseProgress.enrolment_id,
                   func.sum(case((CourseProgress.status == P.COMPLETED, 1), else_=0)))
            .join(Course, Course.id == CourseProgress.course_id)
            .where(CourseProgress.enrolment_id.in_(ids), Course.required.is_(True),
                   Course.archived_at.is_(None))
            .group_by(CourseProgress.enrolment_id)).all())
    return page_rows, {k: int(v or 0) for k, v in done.items()}
