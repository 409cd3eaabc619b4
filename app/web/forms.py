"""Form plumbing: one WTForms class validates both the htmx pages and the JSON API."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Field, FieldList, IntegerField, SelectMultipleField

from app.services.errors import ServiceError, ValidationFailed
from app.services.fields import MAX_ID, is_email, strip_bidi


def strip(value: Any) -> Any:
    """A WTForms filter: text without surrounding whitespace (nor bidi overrides), so
    "   " fails InputRequired and lengths are counted as the services count them."""
    return strip_bidi(value).strip() if isinstance(value, str) else value


class Form(FlaskForm):
    """Base form. CSRF is checked once per request by CSRFProtect (form field or the
    X-CSRFToken header htmx sends), so the form itself does not check it again."""

    class Meta:
        csrf = False

    def validate(self, extra_validators: Any = None) -> bool:
        # InputRequired looks at the raw input: let it see the stripped text, so "   "
        # fails it like an empty field.
        for field in self:
            if strip in (getattr(field, "filters", None) or ()) and field.raw_data \
                    and isinstance(field.data, str):
                field.raw_data = [field.data, *field.raw_data[1:]]
        valid = super().validate(extra_validators)
        for field in self:
            # No whole number (id or count) the database stores is beyond MAX_ID (INTEGER
            # columns): refuse it here rather than let a query overflow (IntegerField
            # accepts any size).
            if isinstance(field, IntegerField) and isinstance(field.data, int) \
                    and not -MAX_ID <= field.data <= MAX_ID:
                field.errors = [*field.errors, "Enter a smaller number."]  # type: ignore[list-item]
                field.data = None  # nor is it shown back or looked up (a re-rendered form)
                valid = False
        return valid

    def add_service_error(self, error: ServiceError) -> None:
        """Show a service's refusal on the fields it names, or on the form as a whole."""
        placed = False
        for name, messages in error.fields.items():
            field: Field | None = getattr(self, name, None)
            if field is not None:
                field.errors = [*field.errors, *messages]  # type: ignore[list-item]
                placed = True
        if not placed:
            self.form_errors.append(error.message)

    @property
    def all_errors(self) -> dict[str, list[str]]:
        return {name: list(errs) for name, errs in self.errors.items() if errs}


def _as_form_value(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        return ["y"] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def validate_json(form_class: type[Form], payload: Any, *, partial: bool = False,
                  aliases: dict[str, str] | None = None, **form_kwargs: Any) -> Form:
    """Validate a JSON object with a page's form class; raise ValidationFailed (422).

    `aliases` maps the API's field names to the form's (and errors back again). With
    `partial` (PATCH), only the keys present are validated and listed in
    `form.present`. Unknown keys are refused rather than silently dropped.
    """
    if not isinstance(payload, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    aliases = aliases or {}
    to_api = {field: name for name, field in aliases.items()}
    renamed = {aliases.get(key, key): value for key, value in payload.items()}
    formdata = MultiDict()
    for key, value in renamed.items():
        for item in _as_form_value(value):
            formdata.add(key, item)
    form = form_class(formdata=formdata, **form_kwargs)
    unknown = sorted(to_api.get(k, k) for k in set(renamed) - set(form._fields))
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={k: ["Unknown field."] for k in unknown})
    # Strict shapes: one value per field (a list only where the field holds several), and
    # never an object.
    misshapen = sorted(to_api.get(k, k) for k, v in renamed.items() if isinstance(v, dict)
                       or (isinstance(v, list | tuple)
                           and not isinstance(form._fields[k], FieldList | SelectMultipleField)))
    if misshapen:
        raise ValidationFailed("Some fields are not valid.",
                               fields={k: ["Send a single value."] for k in misshapen})
    if partial:
        for name in list(form._fields):
            if name not in renamed:
                delattr(form, name)
    form.present = [name for name in form._fields if name in renamed or not partial]
    if not form.validate():
        raise ValidationFailed("Some fields are not valid.", fields={
            to_api.get(name, name): errors for name, errors in form.all_errors.items()})
    return form


class EmailAddress:
    """A syntactically valid address; deliverability is not checked (no DNS at run time).
    The reserved `.test` domain is allowed so demo and staging logins can use it."""

    def __init__(self, message: str = "Enter a valid email address.") -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        from wtforms.validators import ValidationError

        if not is_email(field.data or ""):
            raise ValidationError(self.message)
