"""Flask extensions, created unbound here and bound in `create_app()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from app.models.base import Base
from app.web.compression import BreachSafeCompress
from app.worker import AppRQ

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
rq = AppRQ()  # `flask rq worker` forks its work horses (app/worker.py)
htmx = Htmx()
compress = BreachSafeCompress()  # not pages and JSON of logged-in requests (BREACH)


def _client_address() -> str:
    # ProxyFix (see create_app) has already replaced remote_addr when proxies are trusted.
    # The app's own prefix is part of the key: Flask-Limiter keeps the first app's
    # RATELIMIT_KEY_PREFIX for every later app, and apps sharing one Redis must not share
    # counters (tests build many apps; several deployments may share a Redis).
    return client_key(current_app.config, get_remote_address() or request.remote_addr)


def client_key(config: Mapping[str, Any], address: str | None) -> str:
    """The rate limits' key for a client address (app/blueprints/verify/lean.py too)."""
    return f"{config['RATELIMIT_KEY_PREFIX']}:{address or 'unknown'}"


limiter = Limiter(key_func=_client_address, default_limits=[])


def public_page_limit() -> str:
    """The limit of the public pages anyone may open (verify, earner profiles)."""
    return current_app.config.get("VERIFY_RATE_LIMIT", "60 per minute")
