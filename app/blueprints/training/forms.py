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
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms import Form as PlainForm
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional

from app.models import ContentType, Role, TrackAudience, TrackLevel
from app.services.training.quizzes import MAX_OPTIONS
from app.web.forms import Form, strip

TRACK_API_FIELDS = {"requiredForGoLive": "required_for_go_live",
                    "estimatedHours": "estimated_hours", "validityMonths": "validity_months",
                    "isActive": "active", "type": "audience",
                    "recertificationGraceDays": "recertification_grace_days",
                    "autoIssue": "auto_issue"}
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
    # Completing the track issues its certificate at once (no pending approval).
    auto_issue = BooleanField("Issue the certificate on completion")
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
    """One question of the quiz editor: its options as text boxes, each with a "correct"
    control (checkboxes for multiple choice, radios otherwise) posting option indexes."""

    # Not "id" and "type": those names would shadow the FormField's own attributes.
    qid = HiddenField()
    kind = SelectField("Type", choices=[SelectChoice("single", "Single choice"),
                                        SelectChoice("multiple", "Multiple choice"),
                                        SelectChoice("true_false", "True / false")])
    prompt = TextAreaField("Question")
    options = FieldList(StringField("Option"), min_entries=0, max_entries=MAX_OPTIONS)
    correct = SelectMultipleField("Correct", choices=[SelectChoice(str(i), str(i)) for i in range(
        MAX_OPTIONS)], validate_choice=False)
    explanation = TextAreaField("Explanation (shown after submission)")
    remove = BooleanField("Remove this question")


def _indexes(values: Any) -> list[int]:
    """Posted option indexes in ASCII digits ("²" is not one), others dropped."""
    return sorted({int(v) for v in values or [] if isinstance(v, str) and v.isascii()
                   and v.isdigit() and int(v) < MAX_OPTIONS})


def question_data(kind: str, prompt: str, options: list[str], correct: list[int],
                  explanation: str = "", qid: str = "") -> dict[str, Any]:
    """A question as the editor holds it (QuestionForm's data)."""
    return {"qid": qid, "kind": kind, "prompt": prompt, "options": options,
            "correct": [str(i) for i in correct], "explanation": explanation}


def edit_question(data: dict[str, Any], op: str, option: int | None = None) -> dict[str, Any]:
    """The editor's controls on one question, on the server (no script): "add" an empty
    option, "remove" one (the correct marks follow their options), "kind" after the type
    changed (true/false has exactly True and False; single choice keeps one mark)."""
    kind = data["kind"] if data["kind"] in ("single", "multiple", "true_false") else "single"
    options = list(data["options"])
    correct = _indexes(data["correct"])
    if kind == "true_false":
        if options != ["True", "False"]:
            options, correct = ["True", "False"], []
    if op == "add" and kind != "true_false" and len(options) < MAX_OPTIONS:
        options.append("")
    if op == "remove" and kind != "true_false" and option is not None and option < len(options):
        del options[option]
        correct = [i if i < option else i - 1 for i in correct if i != option]
    if kind != "multiple":
        correct = correct[:1]
    correct = [i for i in correct if i < len(options)]
    return question_data(kind, data["prompt"], options, correct, data["explanation"],
                         data["qid"])


class QuizForm(Form):
    passing_score = IntegerField("Pass mark %", default=80, validators=[
        InputRequired("Enter the pass mark."),
        NumberRange(min=1, max=100, message="From 1 to 100.")])
    attempt_limit = IntegerField("Attempt limit", validators=[
        Optional(), NumberRange(min=1, max=100, message="From 1 to 100, or empty.")])
    questions = FieldList(FormField(QuestionForm), min_entries=0)

    def kept(self) -> list[int]:
        """The 1-based numbers (as the editor shows them) of the questions not removed."""
        return [n for n, entry in enumerate(self.questions, start=1) if not entry.remove.data]

    def question_dicts(self) -> list[dict[str, Any]]:
        """The editor's questions in the stored shape; the "correct" controls post option
        indexes."""
        out = []
        for entry in self.questions:
            if entry.remove.data:
                continue
            out.append({"id": entry.qid.data or None, "type": entry.kind.data,
                        "prompt": entry.prompt.data,
                        "options": [(o.data or "").strip() for o in entry.options],
                        "correct": _indexes(entry.correct.data),
                        "explanation": entry.explanation.data})
        return out

    @staticmethod
    def editor_data(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored questions as the editor shows them."""
        return [question_data(q["type"], q["prompt"], list(q["options"]), q["correct"],
                              q.get("explanation", ""), q["id"]) for q in questions]


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
