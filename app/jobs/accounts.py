"""Account emails that must not tell, by their timing, whether an account exists."""

from __future__ import annotations

from app.extensions import db, rq
from app.services import accounts


@rq.job
def send_password_reset(email: str, ip: str | None = None) -> dict:
    """Send a reset link to the account with this email, if there is an active one.
    Running it again sends a new link and ends the earlier one."""
    token = accounts.send_reset(email, ip)
    db.session.commit()
    return {"status": "sent" if token else "no_account"}
