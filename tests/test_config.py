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


def test_production_settings(tmp_path):
    config = load_config(str(tmp_path), {
        "APP_ENV": "production", "SECRET_KEY": "k" * 40,
        "DATABASE_URL": "postgres://u@db/credwright", "REDIS_URL": "redis://cache:6379/0"})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db/credwright"
    assert config["JOBS_INLINE"] is False and config["RQ_ASYNC"] is True
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"


def test_unknown_app_env_is_an_error(tmp_path):
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {"APP_ENV": "staging-ish"})
