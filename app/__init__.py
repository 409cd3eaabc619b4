"""Credwright: a training, certification and micro-credential portal."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import load_config

APP_DIR = Path(__file__).resolve().parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from app.web.boundary import BoundaryFlask

    app = BoundaryFlask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    if app.config["TRUSTED_PROXY_COUNT"]:
        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    # Full pages live in templates/, fragments in partials/ ("partials/..." in includes).
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(APP_DIR / "templates"),
        PrefixLoader({"partials": FileSystemLoader(APP_DIR / "partials")}),
    ])

    from app.web.sessions import CookieSessionInterface

    app.session_interface = CookieSessionInterface()
    from app.web import input as web_input

    web_input.init_app(app)  # the bounded <int:> converter, before any route is added
    _init_extensions(app)
    _register_blueprints(app)
    from app.web import openapi

    app.register_blueprint(openapi.bp)  # /api/openapi.json, outside the API's login guard

    from app import cli
    from app.web import boundary, errors, security, static_assets, templating

    boundary.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    static_assets.init_app(app)  # hashed, precompressed /static/ URLs (WhiteNoise)
    cli.init_app(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app import jobs, models  # noqa: F401  (models: every table registered)
    from app.database import configure_engine
    from app.extensions import compress, csrf, db, htmx, limiter, login_manager, migrate, rq
    from app.jobs import outbox, sweep  # noqa: F401  (register their cron schedules)
    from app.services import verification_log
    from app.web import auth

    db.init_app(app)
    with app.app_context():
        configure_engine(app, db.engine)
    verification_log.init_app(app)
    migrate.init_app(app, db, directory=str(APP_DIR.parent / "migrations"),
                     render_as_batch=True, compare_type=True)
    compress.init_app(app)  # first after_request registered: it runs last
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    rq.init_app(app)
    jobs.init_app(app)
    login_manager.init_app(app)
    auth.init_login_manager(login_manager)


def _register_blueprints(app: Flask) -> None:
    from app.blueprints.admin.routes import bp as admin_bp
    from app.blueprints.api.routes import bp as api_bp
    from app.blueprints.api.training import bp as api_training_bp
    from app.blueprints.auth.routes import bp as auth_bp
    from app.blueprints.badges.routes import bp as badges_bp
    from app.blueprints.bulk.routes import bp as bulk_bp
    from app.blueprints.certificates.routes import bp as certificates_bp
    from app.blueprints.credentials.routes import bp as credentials_bp
    from app.blueprints.credentials.routes import evidence_bp
    from app.blueprints.learn.routes import bp as learn_bp
    from app.blueprints.main.routes import bp as main_bp
    from app.blueprints.notifications.routes import bp as notifications_bp
    from app.blueprints.org.routes import bp as org_bp
    from app.blueprints.people.routes import bp as people_bp
    from app.blueprints.teach.routes import bp as teach_bp
    from app.blueprints.training.routes import bp as training_bp
    from app.blueprints.verify.routes import bp as verify_bp

    for bp in (main_bp, auth_bp, admin_bp, credentials_bp, evidence_bp, org_bp, training_bp,
               learn_bp, certificates_bp, teach_bp, api_bp, api_training_bp, verify_bp,
               notifications_bp, badges_bp, people_bp):
        app.register_blueprint(bp)
    app.register_blueprint(bulk_bp)  # bulk issue from a CSV (/admin/certificates/bulk)
    from app.blueprints.bulk.routes import awards_bp as bulk_awards_bp
    app.register_blueprint(bulk_awards_bp)  # bulk award (/admin/micro-credentials/bulk)
    from app.blueprints.profiles.routes import bp as profiles_bp
    app.register_blueprint(profiles_bp)  # earner profiles (/p/<slug>, /me/profile/...)
    from app.blueprints.renewals.routes import admin_bp as renewals_admin_bp
    from app.blueprints.renewals.routes import bp as renewals_bp
    app.register_blueprint(renewals_admin_bp)  # renewal campaigns (a track's page)
    app.register_blueprint(renewals_bp)  # the invitee's /renewals/<id>
    from app.blueprints.certificate_templates.routes import bp as certificate_templates_bp
    app.register_blueprint(certificate_templates_bp)  # /admin/certificate-templates
    from app.blueprints.search.routes import bp as search_bp
    app.register_blueprint(search_bp)  # the header's global search (/search)
    from app.blueprints.api.profiles import public_bp as api_public_bp
    app.register_blueprint(api_public_bp)  # /api/public/profiles/<slug>: no login
