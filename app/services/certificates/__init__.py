"""Certificates: request, issue, approve, reject, revoke, reinstate, re-issue.

Rules: one live (pending or issued) certificate per recipient, course/track and type
(the `live_key` unique constraint decides races); numbers CERT-YYYY-NNNNN are given at
issue from a per-year counter row, so they are unique and gapless; what a certificate
says is frozen in `snapshot` at issue. Every action is audited and may notify.

The package: lifecycle.py (the status changes), numbering.py (numbers, verification
codes, the snapshot), queries.py (finding and counting), status.py (expiry and the public
status), renderings.py (every PDF rendering's hash), serializers.py (the JSON). The
teaching domain (instructors, sessions, attendance, ratings, recommendations) is
app/services/teaching/, which depends on this package (never the other way round):
import its names from there.
"""

from __future__ import annotations

from app.services.certificates.lifecycle import (
    RENDER_PDF_JOB,
    REVOCATION_CATEGORIES,
    approve,
    issue_certificate,
    reinstate,
    reissue,
    reject,
    request_completion,
    revoke,
)
from app.services.certificates.numbering import (
    new_verification_code,
    next_number,
    normalise_code,
    snapshot,
    subject_name,
    track_of,
)
from app.services.certificates.queries import (
    ALREADY,
    COUNT_LIMIT,
    NUMBER_QUERY,
    CertificateFilters,
    already_live,
    certificates_of,
    find,
    get_certificate,
    live_certificate,
    pending_count,
    search,
    verifications_of,
)
from app.services.certificates.renderings import holder_pdf, record_rendering, renderings_of
from app.services.certificates.serializers import pending_to_api, to_api
from app.services.certificates.status import (
    Checkable,
    is_expired,
    record_verification,
    verification_status,
)

__all__ = [
    "ALREADY", "COUNT_LIMIT", "NUMBER_QUERY", "RENDER_PDF_JOB", "REVOCATION_CATEGORIES",
    "CertificateFilters", "Checkable", "already_live", "approve", "certificates_of", "find",
    "get_certificate", "holder_pdf", "is_expired", "issue_certificate", "live_certificate",
    "new_verification_code", "next_number", "normalise_code", "pending_count",
    "pending_to_api", "record_rendering", "record_verification", "reinstate",
    "renderings_of", "reissue", "reject",
    "request_completion", "revoke", "search", "snapshot", "subject_name", "to_api",
    "track_of", "verification_status", "verifications_of",
]
