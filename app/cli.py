"""Command-line tools: `flask --app wsgi seed|users|audit ...`."""

from __future__ import annotations

import sys
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from rq import Retry

from app.extensions import db
from app.services import audit as audit_service
from app.services import auth as auth_service
from app.services.context import Actor
from app.services.dates import today

users_cli = AppGroup("users", help="Manage users and their API tokens.")
audit_cli = AppGroup("audit", help="Check the audit trail.")
credentials_cli = AppGroup("credentials", help="Micro-credential housekeeping.")
keys_cli = AppGroup("keys", help="Signing keys of certificates and verification answers.")
jobs_cli = AppGroup("jobs", help="Scheduled jobs: the daily sweep, the outbox dispatcher.")


def _day(as_of: str | None) -> date:
    """The --date option as a date; today (UTC) when not given."""
    try:
        return date.fromisoformat(as_of) if as_of else today()
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from exc


@click.command("seed")
@with_appcontext
@click.option("--demo", is_flag=True, help="Also load the demo organization, logins and data.")
def seed_command(demo: bool) -> None:
    """Load reference data (and, with --demo, demo data). Safe to run again."""
    from app import seed
    from app.services import signing

    seed.reference_data()
    signing.ensure_key()  # made lazily too; creating it here makes the JWKS ready at once
    if demo:
        created = seed.demo_data()
        db.session.commit()
        click.echo(f"Demo data ready ({created} new records).")
        click.echo(f"Demo logins (password: {seed.DEMO_PASSWORD}):")
        for email, role in seed.DEMO_LOGINS:
            click.echo(f"  {email:<24} {role}")
    else:
        db.session.commit()
        click.echo("Reference data ready.")


@users_cli.command("create-token")
@click.argument("email")
@click.option("--name", default="CLI token", help="A label to tell tokens apart.")
@click.option("--days", default=auth_service.TOKEN_DEFAULT_DAYS, show_default=True,
              type=click.IntRange(1, auth_service.TOKEN_MAX_DAYS),
              help="Days until the token expires.")
def create_token(email: str, name: str, days: int) -> None:
    """Print a new personal API token for EMAIL (shown once; stored hashed)."""
    user = auth_service.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}")
    _, plaintext = auth_service.create_api_token(user, name, Actor.system(), days)
    db.session.commit()
    click.echo(plaintext)


@users_cli.command("revoke-token")
@click.argument("token", required=False)
@click.option("--all-for", "email", default=None, help="Revoke every token of this user.")
def revoke_token(token: str | None, email: str | None) -> None:
    """Revoke a personal API token: TOKEN is its id, its shown prefix (cw_...) or the
    token itself. Anything using it gets 401 at once."""
    if (token is None) == (email is None):
        raise click.UsageError("Give a TOKEN or --all-for EMAIL.")
    if email is not None:
        user = auth_service.find_user_by_email(email)
        if user is None:
            raise click.ClickException(f"No user with email {email}")
        count = auth_service.revoke_api_tokens(user, Actor.system(), reason="cli")
        db.session.commit()
        click.echo(f"Revoked {count} token(s) of {user.email}.")
        return
    found = auth_service.find_api_token(token or "")
    if found is None:
        raise click.ClickException(f"No single token matches {token}")
    if not auth_service.revoke_api_token(found, Actor.system()):
        click.echo(f"Token {found.id} ({found.name}) was revoked already.")
        return
    db.session.commit()
    click.echo(f"Revoked token {found.id} ({found.name}) of {found.user.email}.")


@users_cli.command("set-password")
@click.argument("email")
@click.password_option()
def set_password(email: str, password: str) -> None:
    """Set a user's password (and log out their sessions)."""
    user = auth_service.find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}")
    from app.services.errors import ValidationFailed

    try:
        auth_service.set_password(user, password, Actor.system())
    except ValidationFailed as exc:
        raise click.ClickException(" ".join(sum(exc.fields.values(), [])) or exc.message) \
            from exc
    db.session.commit()
    click.echo("Password set; their sessions are logged out and API tokens revoked.")


@audit_cli.command("verify")
def verify() -> None:
    """Walk the hash chain; report the first broken row and exit 1 if there is one."""
    report = audit_service.verify_chain()
    if report.ok:
        click.echo(f"Audit chain intact: {report.checked} rows verified.")
        return
    click.echo(
        f"Audit chain BROKEN at row id={report.broken_id} seq={report.broken_seq}: "
        f"{report.reason} ({report.checked} rows verified before it).",
        err=True,
    )
    sys.exit(1)


@credentials_cli.command("expire")
@click.option("--date", "as_of", default=None, help="Expire as of this date (YYYY-MM-DD).")
def expire_credentials(as_of: str | None) -> None:
    """Move awarded credentials past their expiry date to EXPIRED (safe to re-run): the
    daily sweep's expiry phase on its own (the same audit rows and notices)."""
    from app.services import sweep

    day = _day(as_of)
    result = sweep.expire(day)
    db.session.commit()
    click.echo(f"Expired {result.items} credential(s) as of {day.isoformat()}; "
               f"{result.sent} notification(s).")


@keys_cli.command("rotate")
@click.option("--alg", type=click.Choice(["EdDSA", "RS256", "all"]), default="all",
              show_default=True, help="Which kind: Ed25519 (verify answers, Data Integrity "
              "proofs), RSA 3072 (Open Badges VC-JWT), or both.")
def rotate_keys(alg: str) -> None:
    """Make a new signing key; the old one is retired but stays published (JWKS). With
    "all", the RSA key is rotated once there is one (it is made on the first VC-JWT)."""
    from app.services import signing

    kinds = (alg,) if alg != "all" else (signing.ALGORITHM,) + (
        (signing.RSA_ALGORITHM,) if signing.current_key(signing.RSA_ALGORITHM) else ())
    for kind in kinds:
        key = signing.rotate_key(kind)
        click.echo(f"New {kind} signing key {key.kid}; earlier keys retired, still published.")
    db.session.commit()


@keys_cli.command("list")
def list_keys() -> None:
    """Every signing key, oldest first: kid, created, retired (or CURRENT)."""
    from app.services import signing

    current = {k.id for k in (signing.current_key(), signing.current_key(signing.RSA_ALGORITHM))
               if k is not None}
    for key in signing.all_keys():
        state = ("CURRENT" if key.id in current
                 else f"retired {key.retired_at:%Y-%m-%d %H:%M} UTC" if key.retired_at
                 else "unretired")
        click.echo(f"{key.kid}  {key.alg}  created {key.created_at:%Y-%m-%d %H:%M} UTC  {state}")


SWEEP_SAMPLE = 20  # notification lines printed per phase without --list-all


@jobs_cli.command("sweep")
@click.option("--date", "as_of", default=None, help="Sweep as of this date (YYYY-MM-DD); "
              "default today (UTC).")
@click.option("--dry-run", is_flag=True, help="List what would be sent; change nothing.")
@click.option("--enqueue", is_flag=True, help="Put the sweep on the RQ queue instead of "
              "running it here (needs REDIS_URL).")
@click.option("--list-all", is_flag=True, help="Print every notification, not a sample "
              "of each phase's first ones.")
@click.option("--full", is_flag=True, help="Read every certificate and credential within "
              "90 days of expiry, not only what changed since the last finished sweep "
              "(after editing expiry dates in SQL without setting updated_at).")
def sweep_command(as_of: str | None, dry_run: bool, enqueue: bool, list_all: bool,
                  full: bool) -> None:
    """The daily sweep: expiries, 90/60/30-day expiry reminders, training due/overdue.

    Safe to run again or at the same time as another: each reminder goes out once."""
    from app.jobs import sweep

    day = _day(as_of)
    if enqueue:
        if current_app.config["JOBS_INLINE"]:
            raise click.UsageError("--enqueue needs REDIS_URL (a queue and a worker).")
        job = sweep.daily_sweep.enqueue(day.isoformat(), full, job_timeout=3600,
                                        retry=Retry(**sweep.SWEEP_RETRY))
        click.echo(f"queued sweep as of {day}: job {job.id}")
        return
    from app.services.sweep import report

    results = sweep.run(day, dry_run=dry_run, full=full)
    for line in report(results, sample=None if list_all else SWEEP_SAMPLE):
        click.echo(line)
    total = sum(r.sent for r in results)
    click.echo(f"{'would send' if dry_run else 'sent'}: {total}")


@jobs_cli.command("dispatch")
def dispatch_command() -> None:
    """Queue the committed jobs still in the outbox (Redis was away at their commit, or
    the process died before queueing them). Each row is queued once, however many
    dispatchers run at the same time; without REDIS_URL they run here. Exits 1 if Redis
    could not be reached (the rows stay pending)."""
    from app.jobs import dispatch_pending

    result = dispatch_pending()
    click.echo(f"outbox: {result.queued} queued, {result.ran} ran inline, "
               f"{result.failed} failed, {result.left} left pending")
    if result.left:
        sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(jobs_cli)
    app.cli.add_command(seed_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(credentials_cli)
    app.cli.add_command(keys_cli)
