"""Training: tracks and courses, quizzes, enrolment and progress roll-up, version bumps,
implementation projects and go-live readiness.

The package: tracks.py, courses.py, quizzes.py, enrolment.py, progress.py, summary.py,
projects.py, serializers.py (the JSON).
"""

from __future__ import annotations

from app.services.dates import add_months
from app.services.training.courses import (
    COURSE_FIELDS,
    archive_course,
    course_usage,
    create_course,
    delete_course,
    get_course,
    move_course,
    reorder_courses,
    restore_course,
    update_course,
)
from app.services.training.enrolment import (
    enrol,
    enrol_many,
    find_enrolment,
    learner_enrolments,
    open_tracks,
    percent_complete,
)
from app.services.training.progress import (
    attempts_left,
    complete_course,
    last_attempt,
    progress_for,
    progress_view,
    roll_up,
    set_course_progress,
    submit_quiz_attempt,
)
from app.services.training.projects import (
    TARGET_ROLES,
    AssignmentStatus,
    ProjectStatus,
    assign_training,
    assignment_statuses,
    create_project,
    get_assignment,
    get_project,
    project_status,
    remove_assignment,
    update_project,
)
from app.services.training.quizzes import (
    QUESTION_TYPES,
    Grade,
    IncompleteAnswers,
    check_answer_shape,
    grade,
    public_questions,
    public_questions_of,
    save_quiz,
    unanswered,
    validate_questions,
)
from app.services.training.retakes import (
    CourseRecord,
    course_progress,
    enrolment_of,
    grant_attempts,
    learner_record,
    reset_attempts,
)
from app.services.training.serializers import (
    project_status_to_api,
    readiness_to_api,
    summary_to_api,
)
from app.services.training.summary import TrackSummary, track_learners, track_summary
from app.services.training.tracks import (
    TRACK_FIELDS,
    bump_version,
    create_track,
    get_track,
    search_tracks,
    set_fields,
    track_choices,
    update_track,
)

__all__ = [
    "archive_course", "course_usage", "delete_course", "get_assignment", "remove_assignment",
    "restore_course", "update_project",
    "COURSE_FIELDS", "QUESTION_TYPES", "TARGET_ROLES", "TRACK_FIELDS", "AssignmentStatus",
    "Grade", "ProjectStatus", "TrackSummary", "add_months", "assign_training",
    "assignment_statuses", "attempts_left",
    "bump_version", "complete_course", "create_course", "create_project", "create_track",
    "enrol", "enrol_many", "find_enrolment", "get_course", "get_project", "get_track", "grade",
    "last_attempt", "learner_enrolments", "move_course", "open_tracks", "percent_complete",
    "progress_for", "progress_view", "project_status", "project_status_to_api", "public_questions",
    "readiness_to_api", "reorder_courses", "roll_up", "save_quiz", "search_tracks",
    "set_course_progress", "set_fields", "submit_quiz_attempt", "summary_to_api",
    "track_choices", "track_learners", "track_summary", "update_course", "update_track",
    "validate_questions",
    # retakes and the manager's view of a learner
    "CourseRecord", "IncompleteAnswers", "check_answer_shape", "course_progress",
    "enrolment_of", "grant_attempts",
    "learner_record", "public_questions_of", "reset_attempts", "unanswered",
]
