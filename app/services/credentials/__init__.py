"""Micro-credentials: the catalogue of definitions, and staff credentials through their
lifecycle NOT_STARTED -> IN_TRAINING -> ASSESSMENT_PENDING -> AWARDED -> EXPIRED.

The package: definitions.py (the catalogue), assignments.py (who holds what), status.py
(the lifecycle and expiry), awards.py (an admin's direct award with its date),
evidence.py (uploaded evidence, who may see it), matrix.py
(the organization view and its export), serializers.py (the JSON).
"""

from __future__ import annotations

from app.services import storage
from app.services.credentials.assignments import (
    ASSIGNABLE_ROLES,
    assign,
    assignable_staff,
    credentials_of,
    get_credential,
    holders,
)
from app.services.credentials.awards import award_directly
from app.services.credentials.definitions import (
    DEFINITION_FIELDS,
    RANZ_DEFAULTS,
    assigned_count,
    create_definition,
    definition_choices,
    definitions_page,
    delete_definition,
    ensure_default_definitions,
    get_definition,
    list_definitions,
    status_counts,
    update_definition,
)
from app.services.credentials.evidence import (
    EVIDENCE_SIGNATURES,
    attach_evidence,
    can_see,
    can_upload,
    sniff_evidence_type,
    submit_evidence,
)
from app.services.credentials.matrix import (
    ExpirySummary,
    Matrix,
    org_credentials_for_export,
    org_matrix,
)
from app.services.credentials.serializers import definition_to_api
from app.services.credentials.status import (
    EXPIRY_BANDS,
    NEXT_STEP,
    ORDER,
    Move,
    allowed_moves,
    change_status,
    expiry_band,
)
from app.services.dates import add_months

__all__ = [
    "ASSIGNABLE_ROLES", "DEFINITION_FIELDS", "EVIDENCE_SIGNATURES", "EXPIRY_BANDS",
    "ExpirySummary", "NEXT_STEP", "ORDER", "RANZ_DEFAULTS", "Matrix", "Move", "add_months",
    "allowed_moves",
    "assign", "award_directly", "assignable_staff", "assigned_count", "attach_evidence", "can_see",
    "can_upload", "change_status", "create_definition", "credentials_of", "definition_choices",
    "definition_to_api", "definitions_page", "delete_definition", "ensure_default_definitions",
    "expiry_band", "get_credential", "get_definition", "holders",
    "list_definitions", "org_credentials_for_export", "org_matrix", "sniff_evidence_type",
    "status_counts", "storage", "submit_evidence", "update_definition",
]
