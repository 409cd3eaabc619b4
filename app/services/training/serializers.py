"""The training domain's JSON (the seeds' camelCase contracts): a track's summary, a
project's assignment status, and go-live readiness with what blocks it."""

from __future__ import annotations

from typing import Any

from app.models import (
    CertificationTrack,
)
from app.services.training.projects import ProjectStatus
from app.services.training.summary import TrackSummary


def summary_to_api(track: CertificationTrack, summary: TrackSummary) -> dict[str, Any]:
    return {"trackId": track.id, "trackName": track.name, "totalEnrolled": summary.enrolled,
            "completed": summary.completed, "inProgress": summary.in_progress,
            "notStarted": summary.not_started, "failed": summary.failed,
            "completionRate": summary.completion_rate}



def project_status_to_api(status: ProjectStatus) -> dict[str, Any]:
    return {
        "projectId": status.project.id,
        "goLiveDate": status.project.go_live_date.isoformat()
        if status.project.go_live_date else None,
        "assignments": [{
            "trackId": a.assignment.track_id, "trackName": a.assignment.track.name,
            "targetRole": a.assignment.target_role,
            "required": a.assignment.required_completions, "completed": a.completed,
            "expiringBeforeGoLive": a.expiring, "isComplete": a.is_complete,
            "requiredForGoLive": a.assignment.track.required_for_go_live,
            "dueDate": a.assignment.due_date.isoformat() if a.assignment.due_date else None,
        } for a in status.assignments],
        "overallComplete": status.overall_complete,
    }


def readiness_to_api(status: ProjectStatus) -> dict[str, Any]:
    return {
        "projectId": status.project.id,
        "ready": status.ready,
        "blocking": [{
            "trackId": a.assignment.track_id, "trackName": a.assignment.track.name,
            "targetRole": a.assignment.target_role, "required": a.assignment.required_completions,
            "completed": a.completed, "shortfall": a.shortfall,
            "expiringBeforeGoLive": a.expiring,
        } for a in status.blocking],
    }
