"""Dashboards: the figures each role's landing page shows, one function per figure
(admin, manager, org admin, learner), each an aggregate query bounded by status and
date range."""

from app.services.dashboards import admin, learner, manager, org
from app.services.dashboards.periods import Bucket, with_urls

__all__ = ["Bucket", "admin", "learner", "manager", "org", "with_urls"]
