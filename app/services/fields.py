"""Field rules on the data: the services clean and check every value they store with
these, so a direct caller (CLI, job, test, another service) meets the same rules as a
form. Each helper returns the cleaned value or raises ValidationFailed naming the field;
`Fields` collects every field's error of one call into one ValidationFailed, so a form
shows them all at once. The forms still validate first, with the same limits."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Any, TypeVar

from app.services.errors import ValidationFailed

# Row ids are INTEGER columns: 32 bits on PostgreSQL ("integer out of range" beyond), so
# an id above 2**31-1 names no row anywhere. (BIGINT would be 2**63-1.)
MAX_ID = 2**31 - 1
MULTILINE_CONTROLS = frozenset("\n\r\t")
# Bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069): in a name
# they reorder what a PDF or the public page shows ("\u202eexe.pdf" reads "fdp.exe").
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit() accepts "²" and "١"
SLUG = re.compile(r"[a-z0-9-]+")
URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s/?#:]+\S*", re.IGNORECASE)

E = TypeVar("E", bound=enum.Enum)


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def has_control(value: str, *, multiline: bool = False) -> bool:
    """NUL, other C0/C1 control characters, DEL and lone surrogates; with `multiline`,
    newline, carriage return and tab are allowed."""
    if value.isascii() and value.isprintable():
        return False  # the usual case, at C speed (ASCII controls are not printable)
    for char in value:
        if multiline and char in MULTILINE_CONTROLS:
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            return True
    return False


def strip_bidi(value: str) -> str:
    """`value` without bidirectional override/embedding/isolate characters."""
    return BIDI_CONTROLS.sub("", value)


def parse_int(value: Any, *, min: int = 0, max: int = MAX_ID) -> int:  # noqa: A002
    """A whole number written in ASCII digits (an optional leading "-" when min < 0),
    within min..max, from a URL, query string or form; ValueError otherwise, which makes
    `request.args.get(name, type=...)` fall back to its default."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        raw = value.strip()
        negative = raw.startswith("-") and min < 0
        if not DIGITS.fullmatch(raw[1:] if negative else raw):
            raise ValueError(f"not a whole number: {value!r}")
        number = -int(raw[1:]) if negative else int(raw)
    else:
        raise ValueError("not a number")
    if not min <= number <= max:
        raise ValueError(f"out of range: {number}")
    return number


def parse_id(value: Any) -> int:
    """A row id (1..MAX_ID) from text; ValueError otherwise (for `type=` in request.args)."""
    return parse_int(value, min=1, max=MAX_ID)


def parse_ids(values: Any) -> list[int]:
    """The row ids among `values` (a form's getlist), skipping anything else."""
    ids = []
    for value in values or ():
        try:
            ids.append(parse_id(value))
        except ValueError:
            continue
    return ids


# Filter dates a query string may ask for: the calendar's edges are clamped inside, so
# "to 9999-12-31" (whose next day does not exist) and "from 0001-01-01" still work.
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)


def parse_date(value: Any) -> date | None:
    """An ISO date (YYYY-MM-DD) from a query string, clamped to FIRST_DAY..LAST_DAY;
    None when there is none or it is not a date."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        return None
    return max(FIRST_DAY, min(day, LAST_DAY))


def text(value: Any, field: str, *, required: bool = True, min_len: int = 1,
         max_len: int, multiline: bool = False, message: str | None = None) -> str | None:
    """Text stripped of surrounding whitespace and of bidi overrides. Refuses a non-string,
    control characters
    (anywhere in the raw value; newline and tab only when `multiline`), and a length
    outside min_len..max_len. Empty (None, "" or only whitespace) is an error when
    `required`, else None."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _fail(field, "Enter text.")
    if has_control(value, multiline=multiline):
        raise _fail(field, "Remove the control characters (such as NUL)."
                    if multiline else "Use one line without control characters (such as NUL).")
    value = strip_bidi(value).strip()
    if not value:
        if required:
            raise _fail(field, message or "This field is required.")
        return None
    if not min_len <= len(value) <= max_len:
        if message:
            raise _fail(field, message)
        if min_len > 1:
            raise _fail(field, f"Use {min_len} to {max_len} characters.")
        raise _fail(field, f"Use at most {max_len} characters.")
    return value


def optional_text(value: Any, field: str, **kwargs: Any) -> str | None:
    return text(value, field, required=False, **kwargs)


def integer(value: Any, field: str, *, min: int, max: int,  # noqa: A002
            required: bool = True, message: str | None = None) -> int | None:
    """A whole number within min..max. Refuses bools, floats, strings; None is an error
    when `required`, else None."""
    if value is None:
        if required:
            raise _fail(field, message or "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, message or "Enter a whole number.")
    if not min <= value <= max:
        raise _fail(field, message or f"Enter a number from {min} to {max}.")
    return int(value)


def optional_integer(value: Any, field: str, **kwargs: Any) -> int | None:
    return integer(value, field, required=False, **kwargs)


def ident(value: Any, field: str, *, required: bool = True) -> int | None:
    """A row id: 0 < id <= MAX_ID (2**31 - 1, the INTEGER columns' range)."""
    return integer(value, field, min=1, max=MAX_ID, required=required,
                   message="Choose an existing item." if value is not None else None)


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, "Choose yes or no.")
    return value


def choice(value: Any, field: str, enum_cls: type[E]) -> E:
    """A member of `enum_cls`, given as the member or its value."""
    try:
        return enum_cls(value)
    except (ValueError, TypeError):
        raise _fail(field, "Choose one of the options.") from None


def optional_date(value: Any, field: str) -> date | None:
    if value is None:
        return None
    if not isinstance(value, date):
        raise _fail(field, "Enter a date.")
    return value


def is_email(value: str) -> bool:
    """A syntactically valid address (deliverability is not checked: no DNS at run time);
    the reserved `.test` domain is allowed so demo and staging logins can use it. The one
    rule for forms, the API and bulk files."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value or "", check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


def slug(value: Any, field: str, *, max_len: int = 80) -> str | None:
    """Lower-case letters, digits and dashes (the organization form's rule), or None."""
    cleaned = optional_text(value, field, max_len=max_len)
    if cleaned is not None and not SLUG.fullmatch(cleaned):
        raise _fail(field, "Use lower-case letters, digits and dashes.")
    return cleaned


def url(value: Any, field: str, *, max_len: int = 500) -> str | None:
    """An absolute URL (scheme://host...), or None."""
    cleaned = optional_text(value, field, max_len=max_len)
    if cleaned is not None and not URL.fullmatch(cleaned):
        raise _fail(field, "Enter a full URL starting with https://")
    return cleaned


Rule = Callable[[Any, str], Any]


def rule(helper: Callable[..., Any], **kwargs: Any) -> Rule:
    """A helper with its limits bound: rule(text, max_len=200)(value, "name")."""
    return partial(helper, **kwargs)


def clean(values: Mapping[str, Any], rules: Mapping[str, Rule], *, creating: bool,
          required: tuple[str, ...] = ()) -> dict[str, Any]:
    """Check each given value with its field's rule and return the cleaned values;
    every failure goes into one ValidationFailed. A field without a rule is a
    programming error (ValueError). When `creating`, the `required` fields are checked
    even when absent (so a missing title is refused, not stored as NULL)."""
    unknown = sorted(set(values) - set(rules))
    if unknown:
        raise ValueError(f"cannot set {', '.join(map(repr, unknown))}")
    names = list(values)
    if creating:
        names += [name for name in required if name not in values]
    collected = Fields()
    cleaned = {name: collected.check(rules[name], values.get(name), name) for name in names}
    collected.done()
    return cleaned


class Fields:
    """Collects the errors of several checks into one ValidationFailed:

        f = Fields()
        title = f.check(fields.text, values["title"], "title", max_len=200)
        ...
        f.done()  # raises when any check failed
    """

    def __init__(self, message: str = "Some fields are not valid.") -> None:
        self.message = message
        self.errors: dict[str, list[str]] = {}

    def check(self, helper: Any, value: Any, field: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return helper(value, field, *args, **kwargs)
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                self.errors.setdefault(name, []).extend(messages)
            return None

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def done(self) -> None:
        if self.errors:
            if len(self.errors) == 1:
                (messages,) = self.errors.values()
                raise ValidationFailed(messages[0], fields=self.errors)
            raise ValidationFailed(self.message, fields=self.errors)
