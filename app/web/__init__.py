"""Web plumbing shared by the blueprints: htmx rendering, auth, errors, headers."""
