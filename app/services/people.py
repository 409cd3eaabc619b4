"""People as their overseers see them: the person page (credentials, tracks with course
progress and quiz attempts, certificates, recent audit entries) and an org admin's
read-only views of their own organization (training progress, certificates, projects'
go-live readiness with who blocks it).

Who sees whom: platform admins and implementation managers see anyone; an org admin sees
the people of their own organization only (anyone else is NotFound: nothing tells they
exist); staff see no one here (the pages answer 403 before asking). Audit entries are for
platform admins only, as the audit trail is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, func, or_, select, true
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import (
    AuditLog,
    Certificate,
    CertificateStatus,
    CertificationTrack,
    CourseProgress,
    Enrolment,
    ImplementationProject,
    ProgressStatus,
    QuizAttempt,
    Role,
    StaffMicroCredential,
    TrainingAssignment,
    User,
)
from app.services.dates import today
from app.services.errors import NotFound
from app.services.pagination import Page, paginate
from app.services.sorting import Ascending, Sort, Sorting
from app.services.training.enrolment import percent_complete
from app.services.training.projects import (
    ProjectStatus,
    counted_people,
    holds_completion,
    project_status,
)
from app.services.users import people_matching

OVERSEERS = (Role.ADMIN, Role.MANAGER, Role.ORG_ADMIN)
AUDIT_ENTRIES = 20


# Who may see whom, once: admins and managers see anyone; an org admin the people of
# their own organization; nobody else anyone. `may_see` asks it of one person,
# `visible_to` is the same rule as SQL for a query on User (global search, lists).
SEE_EVERYONE = (Role.ADMIN, Role.MANAGER)


def _seen_organization(viewer: User) -> int | None:
    """The one organization whose people the viewer sees (an org admin's own)."""
    return viewer.organization_id if viewer.role == Role.ORG_ADMIN else None


def may_see(viewer: User, person: User) -> bool:
    """Admins and managers: anyone; an org admin: the people of their organization."""
    if viewer.role in SEE_EVERYONE:
        return True
    organization_id = _seen_organization(viewer)
    return organization_id is not None and person.organization_id == organization_id


def visible_to(viewer: User) -> ColumnElement[bool]:
    """`may_see` as a condition on User: the people the viewer may see."""
    if viewer.role in SEE_EVERYONE:
        return true()
    organization_id = _seen_organization(viewer)
    return User.organization_id == organization_id if organization_id is not None else false()


def visible_person(viewer: User, user_id: int) -> User:
    """The person, if the viewer may see them. Raises NotFound otherwise."""
    person = db.session.get(User, user_id)
    if person is None or not may_see(viewer, person):
        raise NotFound("Person not found.")
    return person


@dataclass
class CourseRow:
    progress: CourseProgress
    attempts: list[QuizAttempt]


@dataclass
class TrackRow:
    enrolment: Enrolment
    percent: int
    courses: list[CourseRow] = field(default_factory=list)


@dataclass
class PersonOverview:
    person: User
    credentials: list[StaffMicroCredential]
    tracks: list[TrackRow]
    certificates: list[Certificate]
    audit: list[AuditLog] | None  # None: the viewer may not read the trail


def person_overview(viewer: User, person: User) -> PersonOverview:
    """Everything the person page shows, in a fixed number of queries."""
    credentials = list(db.session.scalars(
        select(StaffMicroCredential)
        .options(selectinload(StaffMicroCredential.definition),
                 selectinload(StaffMicroCredential.evidence_uploaded_by))
        .where(StaffMicroCredential.user_id == person.id)
        .order_by(StaffMicroCredential.id)))
    credentials.sort(key=lambda c: (-c.definition.level, c.definition.title))
    enrolments = list(db.session.scalars(
        select(Enrolment).join(Enrolment.track)
        .options(selectinload(Enrolment.track).selectinload(CertificationTrack.courses),
                 selectinload(Enrolment.course_progress).selectinload(CourseProgress.course))
        .where(Enrolment.user_id == person.id)
        .order_by(CertificationTrack.name, Enrolment.id)))
    progress_ids = [p.id for e in enrolments for p in e.course_progress]
    attempts: dict[int, list[QuizAttempt]] = {}
    if progress_ids:
        for attempt in db.session.scalars(
                select(QuizAttempt).where(QuizAttempt.course_progress_id.in_(progress_ids))
                .order_by(QuizAttempt.submitted_at, QuizAttempt.id)):
            attempts.setdefault(attempt.course_progress_id, []).append(attempt)
    tracks = []
    for enrolment in enrolments:
        order = {c.id: i for i, c in enumerate(enrolment.track.courses)}
        rows = sorted(enrolment.course_progress,
                      key=lambda p: (order.get(p.course_id, len(order)), p.course_id))
        tracks.append(TrackRow(enrolment, percent_complete(enrolment),
                               [CourseRow(p, attempts.get(p.id, [])) for p in rows]))
    certificates = list(db.session.scalars(
        select(Certificate).options(selectinload(Certificate.course),
                                    selectinload(Certificate.track))
        .where(Certificate.recipient_id == person.id)
        .order_by(Certificate.created_at.desc(), Certificate.id.desc())))
    return PersonOverview(person, credentials, tracks, certificates,
                          audit_about(person, credentials, certificates, enrolments)
                          if viewer.role == Role.ADMIN else None)


def audit_about(person: User, credentials: list[StaffMicroCredential],
                certificates: list[Certificate], enrolments: list[Enrolment],
                limit: int = AUDIT_ENTRIES) -> list[AuditLog]:
    """The latest entries about the person: their account, and their credentials,
    certificates and enrolments (not what they did to others)."""
    about = [and_(AuditLog.resource_type == "user", AuditLog.resource_id == str(person.id))]
    for kind, rows in (("staff_micro_credential", credentials), ("certificate", certificates),
                       ("enrolment", enrolments)):
        if rows:
            about.append(and_(AuditLog.resource_type == kind,
                              AuditLog.resource_id.in_([str(r.id) for r in rows])))
    return list(db.session.scalars(
        select(AuditLog).options(joinedload(AuditLog.actor))
        .where(or_(*about)).order_by(AuditLog.seq.desc()).limit(limit)))


# --- An org admin's views of their organization -----------------------------------------

def _members(org_id: int) -> Select[Any]:
    return select(User.id).where(User.organization_id == org_id)


_PERSON = Ascending(func.lower(User.name))
_TRACK = Ascending(func.lower(CertificationTrack.name))
#: An org admin's progress list (?sort=person|track|status|completed|expires): status in
#: its course (Not started, In progress, Completed, Failed); dates latest / soonest first.
PROGRESS_SORTS = Sorting({
    "person": (func.lower(User.name), User.id, _TRACK),
    "track": (func.lower(CertificationTrack.name), _PERSON),
    "status": (case({s: n for n, s in enumerate(ProgressStatus)}, value=Enrolment.status),
               _PERSON, _TRACK),
    "completed": (Enrolment.completed_at, _PERSON),
    "expires": (Enrolment.expires_at, _PERSON),
}, default="person", tiebreak=Enrolment.id, first_dir={"completed": "desc"})

#: An org admin's certificates (?sort=issued|person|expires): newest first by default.
CERTIFICATE_SORTS = Sorting({
    "issued": (Certificate.created_at,),
    "person": (select(func.lower(User.name)).where(User.id == Certificate.recipient_id)
               .correlate(Certificate).scalar_subquery(), Ascending(Certificate.recipient_id)),
    "expires": (Certificate.expires_at,),
}, default="issued", default_dir="desc", tiebreak=Certificate.id,
    first_dir={"issued": "desc"})


def org_progress(org_id: int, *, track_id: int | None = None, status: str = "",
                 q: str = "", page: int = 1, per_page: int = 25,
                 sort: Sort | None = None) -> Page[Enrolment]:
    """The organization's people's enrolments (person x track), by name then track."""
    stmt = (sort or PROGRESS_SORTS.default_sort()).apply(
        select(Enrolment).join(Enrolment.user).join(Enrolment.track)
        .options(joinedload(Enrolment.user), joinedload(Enrolment.track)
                 .selectinload(CertificationTrack.courses),
                 selectinload(Enrolment.course_progress))
        .where(User.organization_id == org_id))
    if track_id is not None:
        stmt = stmt.where(Enrolment.track_id == track_id)
    if status in ProgressStatus.__members__:
        stmt = stmt.where(Enrolment.status == ProgressStatus(status))
    if q.strip():
        stmt = stmt.where(people_matching(q))
    return paginate(stmt, page, per_page)


def org_track_choices(org_id: int) -> list[tuple[int, str]]:
    """(id, name) of the tracks the organization's people are enrolled in."""
    return [(row[0], row[1]) for row in db.session.execute(
        select(CertificationTrack.id, CertificationTrack.name)
        .where(CertificationTrack.id.in_(select(Enrolment.track_id)
                                         .where(Enrolment.user_id.in_(_members(org_id)))))
        .order_by(CertificationTrack.name))]


def org_certificates(org_id: int, *, status: str = "", q: str = "", page: int = 1,
                     per_page: int = 25, sort: Sort | None = None) -> Page[Certificate]:
    """The certificates of the organization's people, newest first (or `sort`), any
    status."""
    stmt = (sort or CERTIFICATE_SORTS.default_sort()).apply(
        select(Certificate)
        .options(joinedload(Certificate.recipient), joinedload(Certificate.course),
                 joinedload(Certificate.track))
        .where(Certificate.recipient_id.in_(_members(org_id))))
    if status in CertificateStatus.__members__:
        stmt = stmt.where(Certificate.status == CertificateStatus(status))
    if q.strip():
        stmt = stmt.where(Certificate.recipient_id.in_(select(User.id).where(
            people_matching(q))))
    return paginate(stmt, page, per_page)


def org_projects(org_id: int) -> list[ProjectStatus]:
    """The organization's projects with their readiness, by go-live date."""
    projects = db.session.scalars(
        select(ImplementationProject).where(ImplementationProject.organization_id == org_id)
        .order_by(ImplementationProject.go_live_date.asc().nulls_last(),
                  ImplementationProject.name, ImplementationProject.id))
    return [project_status(project) for project in projects]


def org_project(org_id: int, project_id: int) -> ImplementationProject:
    """One of the organization's projects. Raises NotFound (another organization's too)."""
    project = db.session.get(ImplementationProject, project_id)
    if project is None or project.organization_id != org_id:
        raise NotFound("Project not found.")
    return project


def blockers(project: ImplementationProject, assignment: TrainingAssignment,
             valid_on: date | None = None, limit: int = 200) -> list[User]:
    """Who blocks the assignment: the organization's active people in its target role
    (counted_people) who hold no completion of its track on the go-live date
    (holds_completion, the readiness count's own rule), by name (the first `limit`)."""
    valid_on = valid_on or project.go_live_date or today()
    stmt = (select(User).where(*counted_people(project, assignment),
                               ~holds_completion(assignment.track, valid_on))
            .order_by(User.name, User.id))
    return list(db.session.scalars(stmt.limit(limit)))
