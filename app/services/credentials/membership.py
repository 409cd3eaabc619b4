"""Which organization a staff credential counts for: `staff_micro_credentials.
organization_id`, a copy of its holder's `users.organization_id` (migration 0034) so the
org matrix's summary counts one organization's credentials from one index, without
joining every credential to its holder (issue 16).

The copy is written in two places only: when a credential row is created
(`holder_organizations`, read from the holder's row) and when a person changes
organization (`follow_move`, called by users.update_user). Under concurrency the
holder's row is the lock both take, so the copy cannot go stale:

- a new credential reads its holder's organization FOR SHARE, which waits for a move of
  that person still in progress and then reads the organization the move committed;
- a move updates the person's row first (which waits for a credential being created
  for them to commit) and only then their credentials, in a statement that starts
  after that wait and so also sees the credential just created.

SQLite writes one transaction at a time, so the order alone is enough there.

`resync_organizations` (a phase of the daily sweep) puts right any copy that still
differs: one written by code older than 0034 while a deploy was rolling out (the
migration backfills, then old processes may still create or move), or by a path that
bypassed the two above.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from app.extensions import db
from app.models import StaffMicroCredential, User


def holder_organizations(user_ids: Iterable[int]) -> dict[int, int | None]:
    """Each person's organization, read FOR SHARE for the credential rows about to be
    created for them (held until the transaction ends). In id order, so two requests
    locking the same people take the locks in the same order."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {row.id: row.organization_id for row in db.session.execute(
        select(User.id, User.organization_id).where(User.id.in_(ids))
        .order_by(User.id).with_for_update(read=True))}


def follow_move(user_id: int, organization_id: int | None) -> None:
    """Point every credential of this person at their new organization. Call it after
    the person's own row was updated (flushed): that UPDATE is what waits for a
    credential being created for them, so this one sees it."""
    db.session.execute(
        update(StaffMicroCredential)
        .where(StaffMicroCredential.user_id == user_id,
               # Only rows that differ: a move back and forth writes nothing twice.
               StaffMicroCredential.organization_id.is_distinct_from(organization_id))
        # updated_at stays: the credential itself did not change (its holder moved).
        .values(organization_id=organization_id, updated_at=StaffMicroCredential.updated_at)
        .execution_options(synchronize_session="fetch"))


def resync_organizations() -> int:
    """Every credential whose copy differs from its holder's organization made equal;
    how many were. Safe to run at any time and repeatedly (it writes only rows that
    differ; updated_at stays, as in follow_move)."""
    holder_org = (select(User.organization_id)
                  .where(User.id == StaffMicroCredential.user_id).scalar_subquery())
    return db.session.execute(
        update(StaffMicroCredential)
        .where(StaffMicroCredential.organization_id.is_distinct_from(holder_org))
        .values(organization_id=holder_org, updated_at=StaffMicroCredential.updated_at)
        .execution_options(synchronize_session=False)).rowcount or 0
