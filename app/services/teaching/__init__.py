"""Teaching: instructors (an active TEACHING certificate for a course), the sessions they
run, attendance and 1-5 ratings, and the certificates instructors recommend with their
supporting figures. Depends on app.services.certificates (never the other way round).
"""

from __future__ import annotations

from app.services.teaching.instructors import is_instructor, require_instructor, taught_courses
from app.services.teaching.recommendations import Supporting, recommend, supporting_figures
from app.services.teaching.sessions import (
    create_session,
    mark_attendance,
    rate_session,
    sessions_to_rate,
)

__all__ = ["Supporting", "create_session", "is_instructor", "mark_attendance", "rate_session",
           "recommend", "require_instructor", "sessions_to_rate", "supporting_figures",
           "taught_courses"]
