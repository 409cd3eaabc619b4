"""Reference data every database needs, and the demo data `make run` loads.

Both are idempotent: they look records up by their natural keys before creating them.
Later capabilities add their own demo data to `demo_data()`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import (
    Certificate,
    CertificateStatus,
    CertificateType,
    CertificationTrack,
    ContentType,
    CredentialStatus,
    MicroCredentialDefinition,
    Organization,
    Role,
    StaffMicroCredential,
    TrackAudience,
    TrackLevel,
    User,
)
from app.models.base import utcnow
from app.services import audit, certificates, credentials, teaching, training
from app.services import organizations as org_service
from app.services import users as user_service
from app.services.auth import find_user_by_email
from app.services.context import Actor

DEMO_PASSWORD = "demo-password"
DEMO_ORG = ("Demo Roofing Ltd", "demo-roofing")
DEMO_LOGINS = [
    ("admin@demo.test", "admin"),
    ("manager@demo.test", "manager"),
    ("orgadmin@demo.test", "org_admin"),
    ("staff@demo.test", "staff"),
]
DEMO_PEOPLE = [
    ("admin@demo.test", "Aroha Admin", Role.ADMIN, False),
    ("manager@demo.test", "Mere Manager", Role.MANAGER, False),
    ("orgadmin@demo.test", "Oliver Org-Admin", Role.ORG_ADMIN, True),
    ("staff@demo.test", "Sam Staff", Role.STAFF, True),
    ("tane@demo.test", "Tāne Ngāti Pōneke", Role.STAFF, True),
    ("zoe@demo.test", "Zoë Brontë", Role.STAFF, True),
    ("li.wei@demo.test", "李伟 (Li Wei)", Role.STAFF, True),
    ("priya@demo.test", "Priya Raman", Role.STAFF, True),
]


def reference_data() -> None:
    """What every database must hold: the audit chain's tip row, the RANZ defaults."""
    audit.ensure_chain_head()
    credentials.ensure_default_definitions()


def demo_data() -> int:
    """Create the demo organization and people; returns how many records were new."""
    created = 0
    actor = Actor.system()
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_ORG[1]))
    if org is None:
        org = org_service.create_organization(actor, name=DEMO_ORG[0], slug=DEMO_ORG[1])
        created += 1
    for email, name, role, in_org in DEMO_PEOPLE:
        if find_user_by_email(email) is None:
            user_service.create_user(
                actor, email=email, name=name, role=role,
                organization_id=org.id if in_org else None, password=DEMO_PASSWORD,
            )
            created += 1
    db.session.flush()
    staff = demo_user("staff@demo.test")
    if staff.phone is None:  # texts for urgent matters, to show the SMS channel
        staff.phone, staff.sms_critical = "+64 21 555 0101", True
    created += _demo_micro_credentials(actor)
    created += _demo_training(actor, org)
    created += _demo_certificates(actor)
    return created


# A tiny but real PDF, so the demo's evidence link downloads something that opens.
DEMO_EVIDENCE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 58>>stream\nBT /F1 14 Tf 20 70 Td (Working at Heights - assessed) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)

DEMO_DEFINITIONS = [
    {"title": "Working at Heights", "level": 3, "issuing_body": "WorkSafe NZ",
     "skill_standard": "US 23229", "validity_months": 24,
     "requirements": "Practical assessment of harness, anchor and edge-protection use."},
    {"title": "Asbestos Awareness", "level": 2, "issuing_body": "WorkSafe NZ",
     "skill_standard": "US 29765", "validity_months": 12,
     "requirements": "Identify asbestos-containing materials and the steps to take."},
]

# (email, definition title, status, days until expiry for awarded ones)
DEMO_HOLDINGS = [
    ("staff@demo.test", "Working at Heights", CredentialStatus.AWARDED, 25),
    ("staff@demo.test", "Reclad/Reroofing Level 5", CredentialStatus.IN_TRAINING, None),
    ("staff@demo.test", "Asbestos Awareness", CredentialStatus.AWARDED, 200),
    ("tane@demo.test", "Working at Heights", CredentialStatus.AWARDED, 55),
    ("tane@demo.test", "Compliance Practices Level 4", CredentialStatus.ASSESSMENT_PENDING, None),
    ("zoe@demo.test", "Asbestos Awareness", CredentialStatus.EXPIRED, -12),
    ("zoe@demo.test", "Working at Heights", CredentialStatus.AWARDED, 85),
    ("li.wei@demo.test", "Repairs/Maintenance Level 5", CredentialStatus.NOT_STARTED, None),
    ("priya@demo.test", "Asbestos Awareness", CredentialStatus.AWARDED, 320),
    # More falling due over the coming year, for the daily sweep's 90/60/30-day reminders.
    ("zoe@demo.test", "Repairs/Maintenance Level 5", CredentialStatus.AWARDED, 6),
    ("priya@demo.test", "Working at Heights", CredentialStatus.AWARDED, 100),
    ("li.wei@demo.test", "Working at Heights", CredentialStatus.AWARDED, 150),
    ("tane@demo.test", "Asbestos Awareness", CredentialStatus.AWARDED, 270),
]


def _demo_micro_credentials(actor: Actor) -> int:
    """Credentials in every state, some about to expire, one with evidence."""
    created = 0
    titles = {d.title: d for d in db.session.scalars(select(MicroCredentialDefinition))}
    # A default keeps its original title here even after an admin renamed it.
    keyed = {d.default_key: d for d in titles.values() if d.default_key}
    titles.update({values["title"]: keyed[values["default_key"]]
                   for values in credentials.RANZ_DEFAULTS if values["default_key"] in keyed})
    for values in DEMO_DEFINITIONS:
        if values["title"] not in titles:
            titles[values["title"]] = credentials.create_definition(actor, **values)
            created += 1
    today = utcnow().date()
    for email, title, status, days in DEMO_HOLDINGS:
        user, definition = demo_user(email), titles[title]
        exists = db.session.scalar(select(StaffMicroCredential.id).where(
            StaffMicroCredential.user_id == user.id,
            StaffMicroCredential.definition_id == definition.id))
        if exists:
            continue
        (credential,) = credentials.assign(definition, [user.id], actor)
        created += 1
        for step in credentials.ORDER[1:credentials.ORDER.index(status) + 1]:
            if step == CredentialStatus.EXPIRED:
                # Demo history: it expired `days` ago, so back-date the award.
                credential.expiry_date = today + timedelta(days=days)
                credential.awarded_at = utcnow() - timedelta(days=365 - days)
                credentials.change_status(credential, step, actor, today=today)
            elif step == CredentialStatus.AWARDED:
                expiry = today + timedelta(days=days if days and days > 0 else 365)
                credentials.change_status(credential, step, actor, expiry_date=expiry)
            else:
                credentials.change_status(credential, step, actor)
        if (email, title) == ("staff@demo.test", "Working at Heights"):
            credentials.attach_evidence(credential, "working-at-heights-assessment.pdf",
                                              DEMO_EVIDENCE_PDF, actor)
    return created


DEMO_TRACK = "Roofing Compliance Essentials"
DEMO_QUIZ = [
    {"type": "single", "prompt": "Which document records the restricted building work you did?",
     "options": ["Record of work", "Invoice", "Site diary"], "correct": [0],
     "explanation": "A licensed building practitioner gives a record of work on completion."},
    {"type": "multiple", "prompt": "Which of these need a building consent in most cases?",
     "options": ["A full reroof in a different material", "Replacing a few damaged tiles",
                 "Re-cladding the whole house"], "correct": [0, 2],
     "explanation": "Like-for-like repairs are usually exempt; a change of material or a "
                    "full reclad is not."},
    {"type": "true_false", "prompt": "Edge protection is needed when working above 3 metres.",
     "options": ["True", "False"], "correct": [0],
     "explanation": "Falls from height are the most common serious injury in roofing."},
    {"type": "single", "prompt": "Who signs off weathertightness at the final inspection?",
     "options": ["The council's building inspector", "The roofer", "The homeowner"],
     "correct": [0], "explanation": "The building consent authority inspects and signs off."},
    {"type": "true_false", "prompt": "A producer statement replaces the council inspection.",
     "options": ["True", "False"], "correct": [1],
     "explanation": "It supports the inspection; it does not replace it."},
]


def _demo_training(actor: Actor, org: Organization) -> int:
    """A track of three courses (one with a quiz), learners at every stage, a project."""
    if db.session.scalar(select(CertificationTrack.id).where(
            CertificationTrack.name == DEMO_TRACK)):
        return 0
    track = training.create_track(
        actor, name=DEMO_TRACK, audience=TrackAudience.CLIENT_EMPLOYEE,
        level=TrackLevel.FOUNDATION, active=True, required_for_go_live=True, estimated_hours=3,
        validity_months=24,
        description="What every roofer on a Demo Roofing job must know before go-live.")
    intro = training.create_course(
        track, actor, title="The Building Act in one hour", content_type=ContentType.TEXT,
        estimated_minutes=60, required=True, has_exam=False,
        content_body="Restricted building work must be carried out or supervised by a "
        "licensed building practitioner.\n\nAt the end of the job, give the owner and the "
        "council a record of work.\n\nWhen in doubt, ask the council before you start.")
    training.create_course(
        track, actor, title="Working at height (video)", content_type=ContentType.VIDEO,
        content_url="https://www.worksafe.govt.nz/topic-and-industry/working-at-height/",
        estimated_minutes=20, required=False, has_exam=False)
    quiz = training.create_course(
        track, actor, title="Compliance check", content_type=ContentType.TEXT,
        content_body="Answer five questions. You need 80% to pass; three attempts.",
        estimated_minutes=15, required=True, has_exam=True, passing_score=80, attempt_limit=3)
    training.save_quiz(quiz, DEMO_QUIZ, actor)
    training.create_track(
        actor, name="Investigator Fundamentals", audience=TrackAudience.CLIENT_INVESTIGATOR,
        level=TrackLevel.INTERMEDIATE, active=True, required_for_go_live=False,
        estimated_hours=6, description="Running an investigation from report to close-out.")

    learners = {email: demo_user(email) for email in (
        "tane@demo.test", "zoe@demo.test", "li.wei@demo.test", "priya@demo.test")}
    for user in learners.values():
        training.enrol(user, track, actor)
    db.session.flush()
    # Tāne has finished; Zoë has read the intro; Li Wei failed the quiz once.
    tane = training.find_enrolment(learners["tane@demo.test"].id, track.id)
    training.complete_course(training.progress_for(tane, intro), Actor(learners["tane@demo.test"]))
    answers = {q["id"]: q["correct"] for q in quiz.questions}
    training.submit_quiz_attempt(training.progress_for(tane, quiz), answers,
                                 Actor(learners["tane@demo.test"]))
    zoe = training.find_enrolment(learners["zoe@demo.test"].id, track.id)
    training.complete_course(training.progress_for(zoe, intro), Actor(learners["zoe@demo.test"]))
    li = training.find_enrolment(learners["li.wei@demo.test"].id, track.id)
    # A wrong option for every question (not blanks: those would need "submit anyway").
    wrong = {q["id"]: [next(i for i in range(len(q["options"])) if i not in q["correct"])]
             for q in quiz.questions}
    training.submit_quiz_attempt(training.progress_for(li, quiz), wrong,
                                 Actor(learners["li.wei@demo.test"]))

    project = training.create_project(actor, name="Demo Roofing go-live",
                                      organization_id=org.id,
                                      go_live_date=utcnow().date() + timedelta(days=45))
    training.assign_training(project, track, actor, target_role="staff",
                             required_completions=2,
                             due_date=utcnow().date() + timedelta(days=30))
    return 1


def _demo_certificates(actor: Actor) -> int:
    """Certificates in every state, an instructor with a rated session, a recommendation."""
    if db.session.scalar(select(Certificate.id).where(Certificate.number.is_not(None))):
        return 0
    admin = Actor(demo_user("admin@demo.test"))
    track = db.session.scalar(select(CertificationTrack).where(
        CertificationTrack.name == DEMO_TRACK))
    intro, _video, quiz = track.courses
    mere, sam = demo_user("manager@demo.test"), demo_user("staff@demo.test")
    zoe, li, priya = (demo_user("zoe@demo.test"), demo_user("li.wei@demo.test"),
                      demo_user("priya@demo.test"))

    # Mere teaches the intro course: a teaching certificate makes her its instructor.
    certificates.issue_certificate(admin, recipient=mere, type_=CertificateType.TEACHING,
                                   course=intro, notes="Vetted by the training lead.")
    session = teaching.create_session(Actor(mere), intro, title="Building Act workshop",
                                          starts_at=utcnow() - timedelta(days=3),
                                          location="Demo Roofing yard")
    for learner, rating in ((zoe, 5), (li, 4)):
        teaching.mark_attendance(Actor(mere), session, learner, True)
        teaching.rate_session(Actor(learner), session, rating)
    teaching.recommend(Actor(mere), intro, zoe, notes="Led the group exercise well.")

    # Tāne's completion (requested when he finished the track) is approved.
    tane_pending = certificates.live_certificate(demo_user("tane@demo.test").id, None, track.id,
                                                 CertificateType.COMPLETION)
    if tane_pending is not None and tane_pending.status == CertificateStatus.PENDING:
        certificates.approve(tane_pending, admin)
    certificates.issue_certificate(admin, recipient=sam, type_=CertificateType.COMPLETION,
                                   course=intro)
    # One that has expired: issued 25 months ago on a 24-month track.
    certificates.issue_certificate(admin, recipient=priya, type_=CertificateType.COMPLETION,
                                   track=track, issued_on=utcnow().date() - timedelta(days=760))
    # Two that fall due this year (24-month track): in about 40 and 190 days.
    for learner, age_days in ((zoe, 690), (li, 540)):
        certificates.issue_certificate(admin, recipient=learner, type_=CertificateType.COMPLETION,
                                       track=track, issued_on=utcnow().date()
                                       - timedelta(days=age_days))
    revoked = certificates.issue_certificate(admin, recipient=li, type_=CertificateType.MASTERY,
                                             course=quiz)
    certificates.revoke(revoked, admin, "Issued before the assessment was marked.",
                        "issued_in_error", notify_recipient=False)
    rejected = teaching.recommend(Actor(mere), intro, li, notes="Attended one session.")
    certificates.reject(rejected, admin, "Needs to finish the course first.")
    return 1


def demo_user(email: str) -> User:
    user = find_user_by_email(email)
    assert user is not None, f"demo user {email} is missing"
    return user
