"""Training forms: tracks, courses, quizzes, projects. The API validates with these too."""

from __future__ import annotations

from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import Form as PlainForm
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional

from app.models import ContentType, Role, TrackAudience, TrackLevel
from app.web.forms import Form, strip

TRACK_API_FIELDS = {"requiredForGoLive": "required_for_go_live",
                    "estimatedHours": "estimated_hours", "validityMonths": "validity_months",
                    "isActive": "active", "type": "audience",
                    "recertificationGraceDays": "recertification_grace_days"}
COURSE_API_FIELDS = {"contentType": "content_type", "contentUrl": "content_url",
                     "contentBody": "content_body", "estimatedMinutes": "estimated_minutes",
                     "isRequired": "required", "hasExam": "has_exam",
                     "passingScore": "passing_score", "attemptLimit": "attempt_limit",
                     "name": "title"}
ASSIGN_API_FIELDS = {"trackId": "track_id", "targetRole": "target_role",
                     "requiredCompletions": "required_completions", "dueDate": "due_date"}


def _choices(enum_cls: Any) -> list[SelectChoice]:
    return [SelectChoice(m.value, m.label) for m in enum_cls]


class TrackForm(Form):
    name = StringField("Name", filters=[strip],
                       validators=[InputRequired("Enter a name."), Length(max=200)])
    description = TextAreaField("Description", filters=[strip],
                                validators=[Optional(), Length(max=5000)])
    audience = SelectField("Audience", choices=_choices(TrackAudience),
                           default=TrackAudience.CLIENT_EMPLOYEE.value)
    level = SelectField("Level", choices=_choices(TrackLevel), default=TrackLevel.FOUNDATION.value)
    active = BooleanField("Active", default=True)
    required_for_go_live = BooleanField("Required for go-live")
    estimated_hours = IntegerField("Hours", validators=[
        Optional(), NumberRange(min=1, max=1000, message="From 1 to 1000 hours.")])
    validity_months = IntegerField("Valid (months)", validators=[
        Optional(), NumberRange(min=1, max=600, message="From 1 to 600 months, or empty.")])
    # Days certificates of the previous major version stay valid after a major version.
    recertification_grace_days = IntegerField("Re-certification grace (days)", default=0,
                                              validators=[Optional(), NumberRange(
                                                  min=0, max=3650,
                                                  message="From 0 to 3650 days.")])

    def values(self) -> dict[str, Any]:
        names = list(getattr(self, "present", None) or self._fields)
        data = {name: getattr(self, name).data for name in names}
        if "audience" in data:
            data["audience"] = TrackAudience(data["audience"])
        if "level" in data:
            data["level"] = TrackLevel(data["level"])
        return data


class CourseForm(Form):
    title = StringField("Title", filters=[strip],
                        validators=[InputRequired("Enter a title."), Length(max=200)])
    description = TextAreaField("Description", filters=[strip],
                                validators=[Optional(), Length(max=2000)])
    content_type = SelectField("Type", choices=_choices(ContentType),
                               default=ContentType.TEXT.value)
    content_url = StringField("Content URL", filters=[strip], validators=[
        Optional(), Length(max=500),
        URL(require_tld=False, message="Enter a full URL starting with https://")])
    content_body = TextAreaField("Text", filters=[strip],
                                 validators=[Optional(), Length(max=100_000)])
    estimated_minutes = IntegerField("Minutes", validators=[
        Optional(), NumberRange(min=1, max=10_000, message="From 1 to 10000 minutes.")])
    required = BooleanField("Required", default=True)
    has_exam = BooleanField("Has exam")
    passing_score = IntegerField("Pass mark %", default=80, validators=[
        Optional(), NumberRange(min=1, max=100, message="From 1 to 100.")])
    attempt_limit = IntegerField("Attempts", validators=[
        Optional(), NumberRange(min=1, max=100, message="From 1 to 100, or empty.")])

    def values(self) -> dict[str, Any]:
        names = list(getattr(self, "present", None) or self._fields)
        data = {name: getattr(self, name).data for name in names}
        if "content_type" in data:
            data["content_type"] = ContentType(data["content_type"])
        if "passing_score" in data and data["passing_score"] is None:
            data["passing_score"] = 80
        return data


class QuestionForm(PlainForm):
    # Not "id" and "type": those names would shadow the FormField's own attributes.
    qid = HiddenField()
    kind = SelectField("Type", choices=[SelectChoice("single", "Single choice"),
                                        SelectChoice("multiple", "Multiple choice"),
                                        SelectChoice("true_false", "True / false")])
    prompt = TextAreaField("Question")
    options = TextAreaField("Options, one per line; put * before each correct one")
    explanation = TextAreaField("Explanation (shown after submission)")
    remove = BooleanField("Remove this question")


class QuizForm(Form):
    passing_score = IntegerField("Pass mark %", default=80, validators=[
        InputRequired("Enter the pass mark."),
        NumberRange(min=1, max=100, message="From 1 to 100.")])
    attempt_limit = IntegerField("Attempt limit", validators=[
        Optional(), NumberRange(min=1, max=100, message="From 1 to 100, or empty.")])
    questions = FieldList(FormField(QuestionForm), min_entries=0)

    def question_dicts(self) -> list[dict[str, Any]]:
        """The editor's text format to the stored one: `*` marks the correct options."""
        out = []
        for entry in self.questions:
            if entry.remove.data:
                continue
            options, correct = [], []
            for line in (entry.options.data or "").splitlines():
                text = line.strip()
                if not text:
                    continue
                if text.startswith("*"):
                    correct.append(len(options))
                    text = text[1:].strip()
                options.append(text)
            out.append({"id": entry.qid.data or None, "type": entry.kind.data,
                        "prompt": entry.prompt.data, "options": options, "correct": correct,
                        "explanation": entry.explanation.data})
        return out

    @staticmethod
    def editor_data(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored questions as the editor shows them."""
        return [{"qid": q["id"], "kind": q["type"], "prompt": q["prompt"],
                 "options": "\n".join(("* " if i in q["correct"] else "") + o
                                      for i, o in enumerate(q["options"])),
                 "explanation": q.get("explanation", "")} for q in questions]


class ProjectForm(Form):
    name = StringField("Name", filters=[strip],
                       validators=[InputRequired("Enter a name."), Length(max=200)])
    organization_id = SelectField("Organization", coerce=int,
                                  validators=[InputRequired("Choose the organization.")])
    go_live_date = DateField("Go-live date", validators=[Optional()])


class ProjectEditForm(Form):
    """A project's name and go-live date (its organization stays)."""

    name = StringField("Name", filters=[strip],
                       validators=[InputRequired("Enter a name."), Length(max=200)])
    go_live_date = DateField("Go-live date", validators=[Optional()])


class AssignmentForm(Form):
    track_id = SelectField("Track", coerce=int, validators=[InputRequired("Choose a track.")])
    target_role = SelectField("Who", choices=[
        SelectChoice("any", "Anyone"), SelectChoice(Role.STAFF.value, "Staff"),
        SelectChoice(Role.ORG_ADMIN.value, "Org admins")], default="any")
    required_completions = IntegerField("Completions needed", default=1, validators=[
        InputRequired("How many people must complete it?"),
        NumberRange(min=1, max=100_000, message="At least 1.")])
    due_date = DateField("Due", validators=[Optional()])

    def __init__(self, *args: Any, track_choices: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track_id.choices = track_choices or []
