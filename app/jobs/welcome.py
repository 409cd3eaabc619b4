"""The welcome notification a new user finds in the portal."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db, rq
from app.models import Notification, NotificationType, User
from app.services.notifications import notify


@rq.job
def send_welcome_notification(user_id: int) -> dict:
    """Create the user's welcome notification once, however often the job runs."""
    user = db.session.get(User, user_id)
    if user is None:
        return {"user_id": user_id, "status": "skipped", "reason": "user is gone"}
    key = f"welcome:{user_id}"
    if db.session.scalar(select(Notification.id).where(Notification.dedupe_key == key)):
        return {"user_id": user_id, "status": "already_sent"}
    try:
        notify(user, NotificationType.WELCOME, "Welcome to Credwright",
               f"Hello {user.name}, your account is ready. Your learning, credentials and "
               "certificates will appear on your page.", link="/me", dedupe_key=key)
        db.session.commit()
    except IntegrityError:
        # Another run of this job created it between our check and our commit.
        db.session.rollback()
        return {"user_id": user_id, "status": "already_sent"}
    return {"user_id": user_id, "status": "created"}
