"""Settings come from the environment, with safe defaults."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load_config


def test_development_defaults(tmp_path):
    config = load_config(str(tmp_path), {})
    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'credwright.db'}"
    assert config["JOBS_INLINE"] is True and config["REDIS_URL"] is None
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["SESSION_COOKIE_SECURE"] is False
    # The generated development key is kept, so a restart keeps people logged in.
    assert load_config(str(tmp_path), {})["SECRET_KEY"] == config["SECRET_KEY"]
    assert len(config["SECRET_KEY"]) >= 32


def test_production_requires_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_config(str(tmp_path), {"APP_ENV": "production"})


PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "k" * 40, "AUDIT_KEY": "a" * 40,
              "PUBLIC_BASE_URL": "https://credwright.example.nz"}


def test_production_requires_an_audit_key_and_development_keeps_one(tmp_path):
    environ = {k: v for k, v in PRODUCTION.items() if k != "AUDIT_KEY"}
    with pytest.raises(ConfigError, match="AUDIT_KEY must be set"):
        load_config(str(tmp_path), environ)
    assert load_config(str(tmp_path), PRODUCTION)["AUDIT_KEY"] == "a" * 40
    assert not (tmp_path / "audit_key").exists()  # production never writes one
    config = load_config(str(tmp_path), {})
    assert (tmp_path / "audit_key").read_text() == config["AUDIT_KEY"]
    assert config["AUDIT_KEY"] != config["SECRET_KEY"] and len(config["AUDIT_KEY"]) >= 32
    assert load_config(str(tmp_path), {})["AUDIT_KEY"] == config["AUDIT_KEY"]


def test_rate_limits_fall_back_to_memory_when_redis_is_away(tmp_path):
    config = load_config(str(tmp_path), {**PRODUCTION, "REDIS_URL": "redis://cache:6379/0"})
    assert config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is True
    assert config["RATELIMIT_STORAGE_OPTIONS"]["socket_timeout"] <= 1


def test_production_requires_a_public_base_url(tmp_path):
    """Without it every credential, PDF and email link would say http://127.0.0.1:5000."""
    for missing in ({}, {"PUBLIC_BASE_URL": ""}, {"PUBLIC_BASE_URL": "  "}):
        environ = {**PRODUCTION, **missing}
        if not missing:
            del environ["PUBLIC_BASE_URL"]
        with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be set when "
                                              "APP_ENV=production"):
            load_config(str(tmp_path), environ)
    config = load_config(str(tmp_path), PRODUCTION)
    assert config["PUBLIC_BASE_URL"] == "https://credwright.example.nz"


def test_production_refuses_to_start_without_a_public_base_url(monkeypatch, tmp_path):
    from app import create_app

    for key, value in {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PUBLIC_BASE_URL")
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        create_app()


@pytest.mark.parametrize("value", ["credwright.example.nz", "ftp://credwright.example.nz",
                                   "https://", "https://x.nz/?a=1", "https://x.nz/#top"])
def test_a_public_base_url_that_is_not_an_absolute_http_url_is_refused(tmp_path, value):
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an absolute"):
        load_config(str(tmp_path), {**PRODUCTION, "PUBLIC_BASE_URL": value})
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL must be an absolute"):
        load_config(str(tmp_path), {"PUBLIC_BASE_URL": value})


def test_development_and_tests_default_the_public_base_url(tmp_path):
    for environ in ({}, {"APP_ENV": "test"}, {"PUBLIC_BASE_URL": ""}):
        assert load_config(str(tmp_path), environ)["PUBLIC_BASE_URL"] == \
            "http://127.0.0.1:5000"


def test_production_settings(tmp_path):
    config = load_config(str(tmp_path), {
        **PRODUCTION,
        "DATABASE_URL": "postgres://u@db/credwright", "REDIS_URL": "redis://cache:6379/0"})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/credwright"
    assert config["JOBS_INLINE"] is False and config["RQ_ASYNC"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"


def test_unknown_app_env_is_an_error(tmp_path):
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {"APP_ENV": "staging-ish"})


STRONG_ARGON2 = {"ARGON2_TIME_COST": 3, "ARGON2_MEMORY_COST": 65536, "ARGON2_PARALLELISM": 4}


@pytest.mark.parametrize("environ", [
    {}, {"APP_ENV": "development"}, PRODUCTION])
def test_password_hashes_keep_the_strong_argon2_cost_outside_tests(tmp_path, environ):
    from flask import Flask

    from app.services import auth

    config = load_config(str(tmp_path), environ)
    assert {key: config[key] for key in STRONG_ARGON2} == STRONG_ARGON2
    app = Flask(__name__)
    app.config.from_mapping(config)
    with app.app_context():
        assert auth.hash_password("long-enough-pw").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # No app context (a script): the strong cost too.
    assert auth.hash_password("long-enough-pw").startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_tests_hash_passwords_cheaply(tmp_path, app):
    from app.services import auth

    config = load_config(str(tmp_path), {"APP_ENV": "test"})
    assert (config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_COST"],
            config["ARGON2_PARALLELISM"]) == (1, 8, 1)
    with app.app_context():  # the suite's app (tests/conftest.py)
        password_hash = auth.hash_password("long-enough-pw")
        assert password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
        assert auth._verify(password_hash, "long-enough-pw")
        assert not auth._verify(password_hash, "not-the-password")
