"""Implementation projects and go-live readiness: an organization's project assigns
tracks (per target role, a number of completions, a due date); an assignment is complete
when enough of the organization's active people in that role hold a completion still
valid on the go-live date, and the project is ready when no go-live-required assignment
falls short (nothing assigned is not ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, exists, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    AuditAction,
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    Role,
    TrainingAssignment,
    User,
)
from app.services import audit, fields
from app.services.context import Actor
from app.services.dates import today
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.persistence import flush_or_raise
from app.services.transitions import lock

P = ProgressStatus
TARGET_ROLES = ("any", Role.STAFF.value, Role.ORG_ADMIN.value)


def get_project(project_id: int) -> ImplementationProject:
    """Raises NotFound."""
    project = db.session.get(ImplementationProject, project_id)
    if project is None:
        raise NotFound("Project not found.")
    return project


PROJECT_NAME_TAKEN = "This organization already has a project with this name."


def _name_taken(organization_id: int, name: str, except_id: int | None = None) -> Conflict | None:
    stmt = select(ImplementationProject.id).where(
        ImplementationProject.organization_id == organization_id,
        func.lower(ImplementationProject.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(ImplementationProject.id != except_id)
    if db.session.scalar(stmt) is None:
        return None
    return Conflict(PROJECT_NAME_TAKEN, fields={"name": [PROJECT_NAME_TAKEN]})


def create_project(actor: Actor, *, name: str, organization_id: int,
                   go_live_date: date | None) -> ImplementationProject:
    """Raises ValidationFailed (the ProjectForm's rules) and Conflict when the
    organization has a project of that name (any case; also the loser of a double-click,
    refused by uq_implementation_projects_org_name_lower)."""
    checked = fields.Fields()
    name = checked.check(fields.text, name, "name", max_len=200)
    organization_id = checked.check(fields.ident, organization_id, "organization_id")
    go_live_date = checked.check(fields.optional_date, go_live_date, "go_live_date")
    checked.done()
    if conflict := _name_taken(organization_id, name):
        raise conflict
    project = ImplementationProject(name=name, organization_id=organization_id,
                                    go_live_date=go_live_date)
    flush_or_raise(Conflict(PROJECT_NAME_TAKEN, fields={"name": [PROJECT_NAME_TAKEN]}),
                   add=[project])
    audit.record(actor, AuditAction.CREATE, "project", project.id,
                 {"name": project.name, "organization_id": organization_id,
                  "go_live_date": go_live_date})
    return project


def update_project(project: ImplementationProject, actor: Actor, *, name: str,
                   go_live_date: date | None) -> ImplementationProject:
    """Rename the project or move its go-live date (readiness is then judged on the new
    date). Raises ValidationFailed (the ProjectForm's rules) and Conflict (another
    project of the organization has the name), changing nothing; audited when something
    changed."""
    checked = fields.Fields()
    name = checked.check(fields.text, name, "name", max_len=200)
    go_live_date = checked.check(fields.optional_date, go_live_date, "go_live_date")
    checked.done()
    lock(project)  # a double submit reads what the first one wrote: one audit row
    if conflict := _name_taken(project.organization_id, name, project.id):
        raise conflict
    before = {"name": project.name, "go_live_date": project.go_live_date}
    project.name = name
    project.go_live_date = go_live_date
    flush_or_raise(Conflict(PROJECT_NAME_TAKEN, fields={"name": [PROJECT_NAME_TAKEN]}))
    changes = audit.changes_between(before, {"name": name, "go_live_date": go_live_date})
    if changes:
        audit.record(actor, AuditAction.UPDATE, "project", project.id, changes)
    return project


def get_assignment(project: ImplementationProject, assignment_id: int) -> TrainingAssignment:
    """One of the project's assignments. Raises NotFound (also for another project's)."""
    assignment = db.session.get(TrainingAssignment, assignment_id)
    if assignment is None or assignment.project_id != project.id:
        raise NotFound("That assignment is no longer on this project.")
    return assignment


def remove_assignment(assignment: TrainingAssignment, actor: Actor) -> None:
    """Take a track off the project: it no longer counts toward go-live readiness. The
    learners' progress is untouched. Raises NotFound when a request a moment ago removed
    it (the row is locked first, so of two removals at once one takes effect)."""
    try:
        lock(assignment)
    except NotFound:
        raise NotFound("That assignment was removed a moment ago. Reload the page.") from None
    snapshot = {"project_id": assignment.project_id, "track_id": assignment.track_id,
                "target_role": assignment.target_role,
                "required_completions": assignment.required_completions,
                "due_date": assignment.due_date}
    assignment_id = assignment.id
    deleted = db.session.execute(delete(TrainingAssignment).where(
        TrainingAssignment.id == assignment_id).execution_options(
        synchronize_session=False)).rowcount
    if deleted != 1:
        raise NotFound("That assignment was removed a moment ago. Reload the page.")
    project = assignment.project
    db.session.expunge(assignment)
    db.session.expire(project, ["assignments"])
    audit.record(actor, AuditAction.DELETE, "training_assignment", assignment_id, snapshot)


def assign_training(project: ImplementationProject, track: CertificationTrack, actor: Actor, *,
                    target_role: str = "any", required_completions: int = 1,
                    due_date: date | None = None) -> TrainingAssignment:
    """Raises ValidationFailed (bad role or count) or Conflict (already assigned)."""
    if target_role not in TARGET_ROLES:
        raise ValidationFailed("Unknown target role.",
                               fields={"target_role": [f"One of {', '.join(TARGET_ROLES)}."]})
    checked = fields.Fields()
    required_completions = checked.check(fields.integer, required_completions,
                                         "required_completions", min=1, max=100_000,
                                         message="At least 1.")
    due_date = checked.check(fields.optional_date, due_date, "due_date")
    checked.done()
    assignment = TrainingAssignment(project_id=project.id, track_id=track.id,
                                    target_role=target_role,
                                    required_completions=required_completions, due_date=due_date)
    flush_or_raise(Conflict(f"{track.name} is already assigned to this project for that role.",
                            fields={"track_id": ["Already assigned for that role."]}),
                   add=[assignment])
    audit.record(actor, AuditAction.CREATE, "training_assignment", assignment.id,
                 {"project_id": project.id, "track_id": track.id, "target_role": target_role,
                  "required_completions": required_completions, "due_date": due_date})
    return assignment


@dataclass
class AssignmentStatus:
    assignment: TrainingAssignment
    completed: int  # valid on the go-live date
    expiring: int  # completed now, but expired by the go-live date
    enrolled: int

    @property
    def is_complete(self) -> bool:
        return self.completed >= self.assignment.required_completions

    @property
    def shortfall(self) -> int:
        return max(0, self.assignment.required_completions - self.completed)


@dataclass
class ProjectStatus:
    project: ImplementationProject
    assignments: list[AssignmentStatus] = field(default_factory=list)

    @property
    def overall_complete(self) -> bool:
        return all(a.is_complete for a in self.assignments)

    @property
    def blocking(self) -> list[AssignmentStatus]:
        return [a for a in self.assignments
                if a.assignment.track.required_for_go_live and not a.is_complete]

    @property
    def ready(self) -> bool:
        # Nothing assigned is not "ready": no one has checked what go-live needs.
        return bool(self.assignments) and not self.blocking


def project_status(project: ImplementationProject, as_of: date | None = None) -> ProjectStatus:
    """Each assignment's completions among the organization's people in the target role,
    counting only completions still valid on the go-live date (one grouped query)."""
    assignments = list(db.session.scalars(
        select(TrainingAssignment).options(selectinload(TrainingAssignment.track))
        .where(TrainingAssignment.project_id == project.id).order_by(TrainingAssignment.id)))
    return ProjectStatus(project, assignment_statuses(
        project, assignments, project.go_live_date or as_of or today()))


def _grace_runs(track: CertificationTrack, valid_on: date) -> bool:
    """Whether `valid_on` falls in the grace period after the track's last major version
    (certificates of the previous major version are valid then:
    certificates.status.recertification_due_on)."""
    changed_at = track.major_version_changed_at
    return changed_at is not None and track.version_major > 1 and (
        valid_on < changed_at.date() + timedelta(days=track.recertification_grace_days or 0))


def completion_counts(track: CertificationTrack, valid_on: date) -> ColumnElement[bool]:
    """An Enrolment that counts as a completion of `track` on `valid_on`: completed and
    not expired by then; or, during the grace period, completed at the previous major
    version (the holder re-certifying meanwhile)."""
    not_expired = or_(Enrolment.expires_at.is_(None), Enrolment.expires_at >= valid_on)
    completed = Enrolment.status == P.COMPLETED
    if _grace_runs(track, valid_on):
        completed = or_(completed, and_(
            Enrolment.completed_at.is_not(None),
            Enrolment.completed_version.like(f"{track.version_major - 1}.%")))
    return and_(Enrolment.track_id == track.id, completed, not_expired)


def certificate_counts(track: CertificationTrack, valid_on: date) -> ColumnElement[bool]:
    """A Certificate that counts as a completion of `track` on `valid_on`: an issued
    completion or mastery certificate of the track (an admin may issue one directly:
    prior learning) not expired by then, of the current major version, or of the
    previous one during the grace period."""
    versions = [Certificate.track_version.is_(None),  # before versions were recorded
                Certificate.track_version.like(f"{track.version_major}.%")]
    if _grace_runs(track, valid_on):
        versions.append(Certificate.track_version.like(f"{track.version_major - 1}.%"))
    return and_(Certificate.track_id == track.id, Certificate.course_id.is_(None),
                Certificate.type.in_((CertificateType.COMPLETION, CertificateType.MASTERY)),
                Certificate.status == CertificateStatus.ISSUED,
                or_(Certificate.expires_at.is_(None), Certificate.expires_at >= valid_on),
                or_(*versions))


def holds_completion(track: CertificationTrack, valid_on: date) -> ColumnElement[bool]:
    """The one rule of a person (User row) who counts toward `track` on `valid_on`
    (go-live readiness, its blockers, the sweep's due reminders): a completed enrolment
    or a certificate that counts then."""
    return or_(
        exists().where(Enrolment.user_id == User.id, completion_counts(track, valid_on)),
        exists().where(Certificate.recipient_id == User.id, certificate_counts(track, valid_on)))


def completion_expired(track: CertificationTrack, valid_on: date) -> ColumnElement[bool]:
    """Completed (at the current version) but expired by `valid_on`."""
    return and_(Enrolment.track_id == track.id, Enrolment.status == P.COMPLETED,
                Enrolment.expires_at.is_not(None), Enrolment.expires_at < valid_on)


def counted_people(project: ImplementationProject,
                   assignment: TrainingAssignment) -> list[ColumnElement[bool]]:
    """Whose completions count toward the assignment: the project organization's active
    people in its target role."""
    where = [User.organization_id == project.organization_id, User.active.is_(True)]
    if assignment.target_role != "any":
        where.append(User.role == Role(assignment.target_role))
    return where


def assignment_statuses(project: ImplementationProject, assignments: list[TrainingAssignment],
                        valid_on: date) -> list[AssignmentStatus]:
    """The one completion count (go-live readiness, and the sweep's due reminders): for
    each of the project's `assignments`, the organization's active people in the target
    role who hold a completion on `valid_on` (holds_completion), those whose completion
    has expired by then (and hold none), and those enrolled (one grouped query per
    track)."""
    by_track: dict[int, dict[Role, tuple[int, int, int]]] = {}
    for track in {a.track_id: a.track for a in assignments}.values():
        holds = holds_completion(track, valid_on)
        expired = exists().where(Enrolment.user_id == User.id,
                                 completion_expired(track, valid_on))
        enrolled = exists().where(Enrolment.user_id == User.id, Enrolment.track_id == track.id)
        rows = db.session.execute(
            select(User.role, func.sum(case((holds, 1), else_=0)),
                   func.sum(case((and_(expired, ~holds), 1), else_=0)),
                   func.sum(case((enrolled, 1), else_=0)))
            .where(User.organization_id == project.organization_id, User.active.is_(True))
            .group_by(User.role))
        by_track[track.id] = {role: (int(done or 0), int(lapsed or 0), int(enrolled_ or 0))
                              for role, done, lapsed, enrolled_ in rows}
    statuses = []
    for assignment in assignments:
        matching = [counts for role, counts in by_track[assignment.track_id].items()
                    if assignment.target_role == "any" or role.value == assignment.target_role]
        statuses.append(AssignmentStatus(
            assignment, completed=sum(c[0] for c in matching),
            expiring=sum(c[1] for c in matching), enrolled=sum(c[2] for c in matching)))
    return statuses
