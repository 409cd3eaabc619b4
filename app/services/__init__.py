"""The rules of the portal, as verbs. No request, no HTML: services flush, never commit."""
