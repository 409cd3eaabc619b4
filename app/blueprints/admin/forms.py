"""Admin forms: users and organizations."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp

from app.models import Role
from app.services.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from app.services.organizations import organization_choices
from app.web.forms import EmailAddress, Form, strip


def _org_id(value: object) -> int | None:
    if value in (None, "", "None"):
        return None
    return int(value)  # type: ignore[arg-type]


class UserForm(Form):
    name = StringField("Name", filters=[strip],
                       validators=[InputRequired("Enter a name."), Length(max=200)])
    email = EmailField("Email", filters=[strip], validators=[
        InputRequired("Enter an email address."), Length(max=254),
        EmailAddress(),
    ])
    role = SelectField("Role", choices=[SelectChoice(r.value, r.label) for r in Role],
                       default=Role.STAFF.value, validators=[InputRequired()])
    organization_id = SelectField("Organization", coerce=_org_id, validate_choice=True,
                                  validators=[Optional()])
    phone = StringField("Phone", filters=[strip], validators=[
        Optional(), Length(max=32),
        Regexp(r"^\+?[0-9 ()-]{6,31}$", message="Enter a phone number such as +64 21 555 0100."),
    ])
    # Only when editing (an admin sets a new one); a new person is invited instead. The
    # whole policy is auth.check_password, on the service side.
    password = PasswordField("Password", validators=[
        Optional(), Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                           message=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
                                   "characters."),
    ])

    def __init__(self, *args: object, organizations: list[tuple[int, str]] | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if organizations is None:
            organizations = organization_choices()
        self.organization_id.choices = [SelectChoice(None, "— Internal —")] + [
            SelectChoice(org_id, name) for org_id, name in organizations
        ]

    def values(self) -> dict[str, object]:
        data = {name: getattr(self, name).data for name in self.present_fields()}
        if "role" in data:
            data["role"] = Role(data["role"])
        if not data.get("password"):
            data.pop("password", None)
        if "phone" in data:
            data["phone"] = data["phone"] or None
        return data

    def present_fields(self) -> list[str]:
        return list(getattr(self, "present", None) or self._fields)


class NewUserForm(UserForm):
    """The create row and POST /api/admin/users: no password (the JSON API refuses one
    as an unknown field); the person is emailed an invitation to set their own."""

    password = None  # type: ignore[assignment]


class OrganizationForm(Form):
    name = StringField("Name", filters=[strip],
                       validators=[InputRequired("Enter a name."), Length(max=200)])
    slug = StringField("Slug", filters=[strip], validators=[
        Optional(), Length(max=80),
        Regexp(r"^[a-z0-9-]+$", message="Use lower-case letters, digits and dashes."),
    ])
    email_compliance_alerts = BooleanField("Compliance alert email", default=True)
    email_system_alerts = BooleanField("System alert email", default=True)
    sms_credential_alerts = BooleanField("Credential alert SMS")
    sms_critical_alerts = BooleanField("Critical SMS")

    def values(self) -> dict[str, object]:
        fields = list(getattr(self, "present", None) or self._fields)
        return {name: getattr(self, name).data for name in fields}
