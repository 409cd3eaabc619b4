"""Notification preference forms (the person's own, and an organization's)."""

from __future__ import annotations

import re

from wtforms import BooleanField, StringField
from wtforms.validators import Length, Optional, ValidationError

from app.services.notifications import ORG_PREFERENCES, USER_PREFERENCES
from app.web.forms import Form

PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,30}")


def _phone(form: Form, field: StringField) -> None:
    value = (field.data or "").strip()
    if value and (not PHONE.fullmatch(value) or not 7 <= sum(c.isdigit() for c in value) <= 15):
        raise ValidationError("Enter a phone number with 7-15 digits, e.g. +64 21 555 0123.")


class UserPreferencesForm(Form):
    phone = StringField("Mobile number for text messages",
                        validators=[Optional(), Length(max=32), _phone],
                        description="Leave empty to get no text messages.")


class OrgPreferencesForm(Form):
    pass


for _name, _label in USER_PREFERENCES.items():
    setattr(UserPreferencesForm, _name, BooleanField(_label))
for _name, _label in ORG_PREFERENCES.items():
    setattr(OrgPreferencesForm, _name, BooleanField(_label))
