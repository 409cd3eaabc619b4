"""One label per enum value: templates compare with the enums (template globals) and
print their `.label`, never a value spelled as a string literal."""

from __future__ import annotations

import re
from pathlib import Path

from app.models import (
    CertificateStatus,
    CertificateType,
    ContentType,
    CredentialStatus,
    ProgressStatus,
    Role,
)

APP = Path(__file__).resolve().parents[1] / "app"
ENUMS = (CertificateStatus, CertificateType, ContentType, CredentialStatus, ProgressStatus, Role)
VALUES = {member.value for enum in ENUMS for member in enum}
LITERAL = r"""["']([A-Za-z_]+)["']"""
COMPARISONS = (
    re.compile(rf"\.value\s*(?:==|!=)\s*{LITERAL}"),  # x.value == "ISSUED"
    re.compile(rf"\.value\s+(?:not\s+)?in\s+[(\[]\s*{LITERAL}"),  # x.value in ("A", ...)
    re.compile(rf"\b(?:status|type|content_type|role)\s*(?:==|!=)\s*{LITERAL}"),
    re.compile(rf"\b(?:status|type|content_type|role)\s+(?:not\s+)?in\s+[(\[]\s*{LITERAL}"),
)


def test_templates_compare_with_enums_not_string_literals() -> None:
    offenders = []
    for path in sorted([*APP.glob("templates/**/*.html"), *APP.glob("partials/**/*.html")]):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for pattern in COMPARISONS:
                for match in pattern.finditer(line):
                    if match.group(0).startswith(".value") or match.group(1) in VALUES:
                        offenders.append(f"{path.relative_to(APP)}:{number}: {match.group(0)}")
    assert offenders == [], offenders


def test_the_status_enums_are_template_globals(app) -> None:
    for enum in ENUMS:
        assert app.jinja_env.globals[enum.__name__] is enum
