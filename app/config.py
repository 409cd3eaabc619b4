"""Settings from environment variables, with safe defaults.

Every variable is listed in README.md ("Configuration"). `load_config()` is the one
place that reads the environment; `create_app(test_config)` overlays a mapping on top.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """The environment does not describe a safe configuration."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _normalise_database_url(url: str) -> str:
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _development_secret_key(instance_path: Path, name: str = "secret_key") -> str:
    """A random key kept in instance/ so a restart does not log everyone out (or, for
    the audit key, break the audit chain)."""
    key_file = instance_path / name
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"


def _public_base_url(value: str, production: bool) -> str:
    """PUBLIC_BASE_URL: signed into every credential, PDF, QR code and email link, so
    production refuses to guess it (the development default would publish
    http://127.0.0.1:5000 to the world)."""
    if not value:
        if production:
            raise ConfigError(
                "PUBLIC_BASE_URL must be set when APP_ENV=production: the address people "
                "reach the portal at (e.g. https://credentials.example.org), used in every "
                "link, PDF and signed credential")
        return DEVELOPMENT_BASE_URL
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query \
            or parts.fragment:
        raise ConfigError(f"PUBLIC_BASE_URL must be an absolute http(s) URL such as "
                          f"https://credentials.example.org, not {value!r}")
    return value


# argon2id cost of password hashes: argon2-cffi's RFC 9106 "low memory" profile
# (memory in KiB). APP_ENV=test takes the cheapest the algorithm allows: its hashes
# guard nothing, and hashing was the largest share of the test suite's CPU time.
ARGON2_STRONG = {"ARGON2_TIME_COST": 3, "ARGON2_MEMORY_COST": 64 * 1024, "ARGON2_PARALLELISM": 4}
ARGON2_TEST = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def load_config(instance_path: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = dict(os.environ if environ is None else environ)
    instance = Path(instance_path)
    app_env = env.get("APP_ENV", "development").strip().lower()
    if app_env not in {"development", "production", "test"}:
        raise ConfigError(f"APP_ENV must be development, production or test, not {app_env!r}")
    production = app_env == "production"

    secret_key = env.get("SECRET_KEY", "")
    if not secret_key:
        if production:
            raise ConfigError("SECRET_KEY must be set when APP_ENV=production")
        secret_key = _development_secret_key(instance)

    # The audit chain's HMAC key is derived from its own secret, never stored in the
    # database (app/services/audit.py): whoever can write the tables cannot re-chain.
    audit_key = env.get("AUDIT_KEY", "")
    if not audit_key:
        if production:
            raise ConfigError("AUDIT_KEY must be set when APP_ENV=production (the secret "
                              "that keys the audit trail's hash chain)")
        audit_key = _development_secret_key(instance, "audit_key")

    public_base_url = _public_base_url(env.get("PUBLIC_BASE_URL", "").strip(), production)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'credwright.db'}"
    redis_url = env.get("REDIS_URL") or None

    return {
        "APP_ENV": app_env,
        "SECRET_KEY": secret_key,
        "AUDIT_KEY": audit_key,
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        # Jobs run inline in the request's process when there is no Redis to queue on.
        "JOBS_INLINE": redis_url is None,
        "RQ_CONNECTION": redis_url or "redis://127.0.0.1:6379/0",
        "RQ_QUEUES": ["default"],
        "RQ_ASYNC": redis_url is not None,
        # Sessions: HttpOnly and SameSite=Lax always; Secure everywhere but plain-HTTP dev.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_NAME": "credwright_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "PERMANENT_SESSION_LIFETIME": int(env.get("SESSION_LIFETIME_SECONDS", 8 * 3600)),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis away: count in this process instead of failing every limited request
        # (login, verify); Flask-Limiter goes back to Redis once it answers again.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": ({"socket_connect_timeout": 1, "socket_timeout": 1}
                                      if redis_url else {}),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "credwright"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # Per client address, generous: a whole office may share one proxy. Guessing at
        # one account is slowed per account instead (LOGIN_FREE_FAILURES failures, then
        # 2, 4, 8, ... seconds between attempts, up to LOGIN_MAX_BACKOFF_SECONDS).
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "100 per minute"),
        "LOGIN_FREE_FAILURES": int(env.get("LOGIN_FREE_FAILURES", 5)),
        "LOGIN_MAX_BACKOFF_SECONDS": int(env.get("LOGIN_MAX_BACKOFF_SECONDS", 900)),
        "PASSWORD_RESET_RATE_LIMIT": env.get("PASSWORD_RESET_RATE_LIMIT", "10 per minute"),
        # Emailed links: an invitation works for 7 days, a password reset for 1 hour.
        "INVITATION_TTL_HOURS": int(env.get("INVITATION_TTL_HOURS", 168)),
        "PASSWORD_RESET_TTL_MINUTES": int(env.get("PASSWORD_RESET_TTL_MINUTES", 60)),
        "VERIFY_RATE_LIMIT": env.get("VERIFY_RATE_LIMIT", "60 per minute"),
        "VERIFY_LOOKUP_RATE_LIMIT": env.get("VERIFY_LOOKUP_RATE_LIMIT", "10 per minute"),
        # A signed /verify answer's life (its JWS `exp`): a check, not a lasting proof.
        "VERIFY_ANSWER_TTL_MINUTES": int(env.get("VERIFY_ANSWER_TTL_MINUTES", 10)),
        # Checks of certificates are logged in batches (app/services/verification_log.py).
        "VERIFICATION_LOG_FLUSH_SECONDS": float(env.get("VERIFICATION_LOG_FLUSH_SECONDS", 1.0)),
        "VERIFICATION_LOG_FLUSH_ROWS": int(env.get("VERIFICATION_LOG_FLUSH_ROWS", 500)),
        # Set when the app runs behind a proxy that sets X-Forwarded-For (count of proxies).
        "TRUSTED_PROXY_COUNT": int(env.get("TRUSTED_PROXY_COUNT", 0)),
        "PAGE_SIZE": int(env.get("PAGE_SIZE", 25)),
        "PUBLIC_BASE_URL": public_base_url,
        # The organization named as issuer on certificates and in Open Badges.
        "ISSUER_NAME": env.get("ISSUER_NAME", "Credwright"),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)),
        # Static files: hashed copies and their gzip/brotli renderings are built here
        # (app/web/static_assets.py); a plain /static/ URL is cached this many seconds.
        "STATIC_BUILD_DIR": env.get("STATIC_BUILD_DIR") or str(instance / "static-build"),
        "STATIC_PLAIN_MAX_AGE": int(env.get("STATIC_PLAIN_MAX_AGE", 300)),
        # How long a static file's hashed name is trusted before its size and mtime are
        # looked at again: on every url_for in development (an edited stylesheet just
        # works), every 2 s in production (files change by a deploy; a stat per asset
        # link was a tenth of the public check's page, issue 16).
        "STATIC_RECHECK_SECONDS": float(env.get("STATIC_RECHECK_SECONDS",
                                                2.0 if production else 0.0)),
        # Pages and JSON compressed (Flask-Compress) when the client accepts it, except
        # for requests with credentials (BREACH, app/web/compression.py); streamed
        # responses (exports) are left alone.
        "COMPRESS_MIMETYPES": ["text/html", "application/json", "text/plain", "text/csv"],
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_STREAMS": False,
        "COMPRESS_BR_LEVEL": 4,
        "COMPRESS_LEVEL": 6,
        # Uploaded files (evidence, PDFs): private, never under static/.
        "STORAGE_DIR": env.get("STORAGE_DIR") or str(instance / "storage"),
        "EVIDENCE_MAX_BYTES": int(env.get("EVIDENCE_MAX_BYTES", 10 * 1024 * 1024)),
        # Bulk issue from a CSV: the most data rows and bytes one upload may hold.
        "BULK_MAX_ROWS": _positive_int(env, "BULK_MAX_ROWS", 10_000),
        "BULK_MAX_BYTES": _positive_int(env, "BULK_MAX_BYTES", 5 * 1024 * 1024),
        # Jobs that carry out one confirmed import side by side (one per RQ worker).
        "BULK_RUNS": _positive_int(env, "BULK_RUNS", 2),
        "TESTING": app_env == "test",
        "SQLITE_IMMEDIATE_OUTSIDE_REQUESTS": True,
        # Email over SMTP; with no MAIL_SERVER, emails are written to the log instead.
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT", 587 if _bool(env.get("MAIL_USE_TLS"), False)
                                 else 25)),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), False),  # STARTTLS
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL"), False),  # SMTPS (port 465)
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER", "Credwright <no-reply@localhost>"),
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT", 15)),
        # SMS: an HTTP POST of {"to", "from", "message"} (JSON) to the gateway; with no
        # SMS_GATEWAY_URL, SMS are written to the log instead.
        "SMS_GATEWAY_URL": env.get("SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": env.get("SMS_GATEWAY_TOKEN") or None,  # sent as a Bearer token
        "SMS_SENDER": env.get("SMS_SENDER", "Credwright"),
        "SMS_TIMEOUT": float(env.get("SMS_TIMEOUT", 10)),
        # A failed delivery job is retried after these many seconds, then given up.
        "DELIVERY_RETRY_INTERVALS": [int(x) for x in env.get(
            "DELIVERY_RETRY_INTERVALS", "30,300,1800").split(",") if x.strip()],
        # An email's one-click unsubscribe link (signed with SECRET_KEY) works this long.
        "UNSUBSCRIBE_LINK_DAYS": int(env.get("UNSUBSCRIBE_LINK_DAYS", 60)),
        "NOTIFICATION_POLL_SECONDS": int(env.get("NOTIFICATION_POLL_SECONDS", 30)),
        **(ARGON2_TEST if app_env == "test" else ARGON2_STRONG),
    }
