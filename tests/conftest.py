"""Fixtures: an app on a freshly migrated database, clients per role, factories.

The database is migrated once per test session with Alembic (the real migrations, not
`create_all`), and emptied after every test. With DATABASE_URL pointing at PostgreSQL,
each xdist worker gets a database of its own; with REDIS_URL, rate-limit counters live
in Redis under a key prefix per test.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.routing.rules import Rule

from app import create_app, seed
from app.config import ARGON2_TEST
from app.extensions import db
from app.models import Organization, Role, User
from app.services import auth as auth_service
from app.services import verification_log

PASSWORD = "correct-horse-battery"


# --- A new app for every test, without compiling the same code again -----------------
# The suite builds an app per test (2,300 of them), and building one compiled each of its
# 250 URL rules' builders from Python ASTs (55 of create_app's 92 ms) and, on the first
# page it drew, each template it used. Both are the same for every app of this code:
# compiled once per test process here. Neither changes what an app does.

def _memoized_builders() -> None:
    """Werkzeug's Rule._compile_builder returns an unbound function that depends only on
    the rule's parsed trace, its defaults and `append_unknown` (werkzeug 3.1, pinned);
    where that method is missing the suite just runs slower."""
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "memoized", False):
        return
    builders: dict[Any, Any] = {}

    def memoized(self: Rule, append_unknown: bool = True) -> Any:
        key = (self.rule, append_unknown, tuple(self._trace),
               tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items())))
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    memoized.memoized = True  # type: ignore[attr-defined]
    Rule._compile_builder = memoized  # type: ignore[method-assign]


_memoized_builders()


class _TemplatesInMemory(BytecodeCache):
    """Jinja's bytecode cache, in this process's memory: an app's templates load from the
    code the first app compiled (Jinja checks each template's source checksum)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _TemplatesInMemory()
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def scratch_database(suffix: str, sqlite_path: Path) -> Iterator[str]:
    """A database of its own for the block: a fresh PostgreSQL database (named from
    DATABASE_URL's and `suffix`, dropped afterwards) when DATABASE_URL names PostgreSQL,
    else a SQLite file at `sqlite_path`."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith("postgres"):
        yield f"sqlite:///{sqlite_path}"
        return
    base = make_url(configured.replace("postgresql://", "postgresql+psycopg://", 1)
                    if configured.startswith("postgresql://") else configured)
    name = f"{base.database}_{suffix}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # One database per pytest process (and xdist worker), so concurrent runs never meet.
    with scratch_database(f"{_worker_id()}_{os.getpid()}",
                          tmp_path_factory.mktemp("db") / "test.db") as url:
        yield url


@pytest.fixture(scope="session")
def storage_dir() -> Iterator[Path]:
    """Uploaded files and PDFs of the whole test session (one directory per pytest
    process, so per xdist worker), never the developer's instance/; removed at the end."""
    path = Path(tempfile.mkdtemp(prefix=f"credwright-test-storage-{_worker_id()}-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _test_config(database_url: str, storage_dir: Path, **overrides: Any) -> dict[str, Any]:
    config = {
        "APP_ENV": "test",
        "TESTING": True,
        # One key for the session: signing keys in the database are encrypted with it.
        "SECRET_KEY": "credwright-test-secret-key",
        "AUDIT_KEY": "credwright-test-audit-key",  # keys the audit chain (never instance/)
        "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_KEY_PREFIX": "credwright-test-" + secrets.token_hex(6),
        "SQLITE_IMMEDIATE_OUTSIDE_REQUESTS": False,
        "JOBS_INLINE": True,
        "SERVER_NAME": None,
        "STORAGE_DIR": str(storage_dir),
        # Hashed static files beside the storage, never into the repository's instance/.
        "STATIC_BUILD_DIR": str(storage_dir / "static-build"),
        **ARGON2_TEST,  # what APP_ENV=test in the environment gives: cheap hashes
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def migrated_database(database_url: str, storage_dir: Path) -> str:
    app = create_app(_test_config(database_url, storage_dir))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def _empty_database() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    seed.reference_data()
    db.session.commit()


@pytest.fixture
def make_app(migrated_database: str, storage_dir: Path) -> Iterator[Callable[..., Flask]]:
    """Build an app on the migrated test database; extra config overrides the defaults."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(_test_config(migrated_database, storage_dir, **overrides))
        app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
        apps.append(app)
        return app

    yield factory
    for app in apps:
        verification_log.of(app).close()  # buffered checks, before the tables are emptied
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if apps:
        with apps[0].app_context():
            _empty_database()
            db.engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


class Client(FlaskClient):
    """A test client that sends the CSRF token like the pages do (X-CSRFToken header).

    `auto_csrf = False` sends requests exactly as given, for CSRF tests.
    """

    auto_csrf = True

    def csrf_token(self) -> str:
        for path in ("/me", "/login"):
            response = super().open(path, method="GET")
            match = META_CSRF.search(response.get_data(as_text=True))
            if match:
                return match.group(1)
        raise AssertionError("no page offered a CSRF token")

    def open(self, *args: Any, **kwargs: Any) -> Any:
        method = (kwargs.get("method") or "GET").upper()
        headers = dict(kwargs.pop("headers", None) or {})
        if (self.auto_csrf and method not in {"GET", "HEAD", "OPTIONS"}
                and "X-CSRFToken" not in headers and "Authorization" not in headers):
            headers["X-CSRFToken"] = self.csrf_token()
        return super().open(*args, headers=headers, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> Any:
        response = self.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, f"login as {email} failed: {response.status_code}"
        return response


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = Client
    return app.test_client()


@pytest.fixture
def new_client(app: Flask) -> Callable[[], Client]:
    app.test_client_class = Client

    def factory() -> Client:
        return app.test_client()  # type: ignore[return-value]

    return factory


# --- factories ------------------------------------------------------------------------

def _detached(obj: Any) -> Any:
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


@pytest.fixture
def make_org(app: Flask) -> Callable[..., Organization]:
    counter = iter(range(1, 10_000))

    def factory(name: str | None = None, **fields: Any) -> Organization:
        n = next(counter)
        with app.app_context():
            org = Organization(name=name or f"Organization {n}",
                               slug=fields.pop("slug", None) or f"org-{n}-{secrets.token_hex(3)}",
                               **fields)
            db.session.add(org)
            db.session.commit()
            return _detached(org)

    return factory


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    counter = iter(range(1, 10_000))
    with app.app_context():  # the app's (cheap, test) argon2 cost; hashed once all the same
        password_hash = auth_service.hash_password(PASSWORD)

    def factory(role: Role = Role.STAFF, organization: Organization | None = None,
                email: str | None = None, **fields: Any) -> User:
        n = next(counter)
        with app.app_context():
            user = User(
                # Digits only: a random suffix of letters could hold a name a test searches
                # for ("bea" in hex failed a search for Bea once).
                email=email or f"{role.value}{n}-{secrets.randbelow(10**8):08d}@example.test",
                name=fields.pop("name", f"{role.label} {n}"), role=role,
                organization_id=organization.id if organization else None,
                password_hash=password_hash, **fields,
            )
            db.session.add(user)
            db.session.commit()
            return _detached(user)

    return factory


@pytest.fixture
def org(make_org: Callable[..., Organization]) -> Organization:
    return make_org("Acme Roofing")


@pytest.fixture
def admin_user(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="Ada Admin")


@pytest.fixture
def staff_user(make_user: Callable[..., User], org: Organization) -> User:
    return make_user(Role.STAFF, org, name="Sam Staff")


def _logged_in(new_client: Callable[[], Client], user: User) -> Client:
    client = new_client()
    client.login(user.email)
    return client


@pytest.fixture
def admin_client(new_client: Callable[[], Client], admin_user: User) -> Client:
    return _logged_in(new_client, admin_user)


@pytest.fixture
def manager_client(new_client: Callable[[], Client], make_user: Callable[..., User]) -> Client:
    return _logged_in(new_client, make_user(Role.MANAGER))


@pytest.fixture
def org_admin_client(new_client: Callable[[], Client], make_user: Callable[..., User],
                     org: Organization) -> Client:
    return _logged_in(new_client, make_user(Role.ORG_ADMIN, org))


@pytest.fixture
def staff_client(new_client: Callable[[], Client], staff_user: User) -> Client:
    return _logged_in(new_client, staff_user)


HX = {"HX-Request": "true"}


@pytest.fixture
def make_definition(app: Flask) -> Callable[..., Any]:
    from app.models import MicroCredentialDefinition

    counter = iter(range(1, 10_000))

    def factory(title: str | None = None, **fields: Any) -> MicroCredentialDefinition:
        n = next(counter)
        values = {"level": 4, "issuing_body": "RANZ", **fields}
        with app.app_context():
            definition = MicroCredentialDefinition(title=title or f"Credential {n}", **values)
            db.session.add(definition)
            db.session.commit()
            return _detached(definition)

    return factory


@pytest.fixture
def make_credential(app: Flask) -> Callable[..., Any]:
    """A staff credential, moved through the real service to the status asked for."""
    from datetime import date

    from app.models import CredentialStatus, MicroCredentialDefinition
    from app.services import credentials as mc
    from app.services.context import Actor

    def factory(definition: Any, user: User, status: CredentialStatus = CredentialStatus.NOT_STARTED,
                expiry_date: date | None = None) -> Any:
        with app.app_context():
            (credential,) = mc.assign(db.session.get(MicroCredentialDefinition, definition.id),
                                      [user.id], Actor.system())
            for step in mc.ORDER[1:mc.ORDER.index(status) + 1]:
                mc.change_status(credential, step, Actor.system(),
                                 expiry_date=expiry_date if step == CredentialStatus.AWARDED
                                 else None)
            db.session.commit()
            return _detached(credential)

    return factory


QUIZ = [
    {"type": "single", "prompt": "Q1", "options": ["right", "wrong"], "correct": [0],
     "explanation": "Because one."},
    {"type": "multiple", "prompt": "Q2", "options": ["a", "b", "c"], "correct": [0, 2],
     "explanation": "a and c."},
    {"type": "true_false", "prompt": "Q3", "options": ["True", "False"], "correct": [1],
     "explanation": "It is false."},
    {"type": "single", "prompt": "Q4", "options": ["x", "y"], "correct": [1], "explanation": ""},
    {"type": "single", "prompt": "Q5", "options": ["m", "n"], "correct": [0], "explanation": ""},
]


@pytest.fixture
def make_track(app: Flask) -> Callable[..., Any]:
    """A track with a text course and, unless exam=False, a 5-question quiz course."""
    from app.models import CertificationTrack, ContentType, TrackAudience
    from app.services import training
    from app.services.context import Actor

    def factory(name: str = "Fundamentals", *, exam: bool = True, attempt_limit: int | None = 3,
                **fields: Any) -> CertificationTrack:
        with app.app_context():
            actor = Actor.system()
            track = training.create_track(actor, name=name, audience=fields.pop(
                "audience", TrackAudience.CLIENT_EMPLOYEE), **fields)
            training.create_course(track, actor, title="Reading", content_type=ContentType.TEXT,
                                   content_body="Read me.", required=True)
            if exam:
                quiz = training.create_course(track, actor, title="Exam",
                                              content_type=ContentType.TEXT,
                                              content_body="Answer.", required=True,
                                              has_exam=True, attempt_limit=attempt_limit)
                training.save_quiz(quiz, QUIZ, actor)
            db.session.commit()
            track = db.session.get(CertificationTrack, track.id)
            _ = track.courses  # load them before detaching
            for course in track.courses:
                db.session.expunge(course)
            db.session.expunge(track)
            return track

    return factory


def pending_certificate(app: Flask, user: Any, track: Any) -> int:
    """A PENDING track completion certificate of `user` (as a completion makes it), by
    id: what the approval and bulk tests act on."""
    from app.models import Certificate, CertificateStatus, CertificateType

    with app.app_context():
        certificate = Certificate(type=CertificateType.COMPLETION,
                                  status=CertificateStatus.PENDING, recipient_id=user.id,
                                  track_id=track.id, live_key=Certificate.make_live_key(
                                      user.id, None, track.id, CertificateType.COMPLETION))
        db.session.add(certificate)
        db.session.commit()
        return certificate.id


def answers_scoring(course: Any, correct_count: int) -> dict[str, list[int]]:
    """Answers to a quiz course with exactly `correct_count` questions right."""
    answers = {}
    for i, q in enumerate(course.questions):
        right = q["correct"]
        answers[q["id"]] = right if i < correct_count else [
            j for j in range(len(q["options"])) if j not in right][:1]
    return answers


@pytest.fixture
def issue(app: Flask) -> Callable[..., Any]:
    """Issue a certificate through the service (the PDF job runs inline on commit)."""
    from app.models import CertificateType, CertificationTrack, Course
    from app.services import certificates
    from app.services.context import Actor

    def factory(recipient: User, *, track: Any = None, course: Any = None,
                type_: CertificateType = CertificateType.COMPLETION, actor: Any = None) -> Any:
        with app.app_context():
            certificate = certificates.issue_certificate(
                actor or Actor.system(), recipient=db.session.get(User, recipient.id),
                type_=type_,
                track=db.session.get(CertificationTrack, track.id) if track else None,
                course=db.session.get(Course, course.id) if course else None)
            db.session.commit()
            return _detached(certificate)

    return factory


@pytest.fixture
def bearer(app: Flask) -> Callable[[User], dict[str, str]]:
    """Authorization headers with a fresh personal API token for the user."""
    from app.services.context import Actor

    def make(user: User) -> dict[str, str]:
        with app.app_context():
            _, token = auth_service.create_api_token(db.session.get(User, user.id), "test",
                                                     Actor.system())
            db.session.commit()
        return {"Authorization": f"Bearer {token}"}

    return make


# --- concurrency ------------------------------------------------------------------------

@pytest.fixture
def race(new_client: Callable[[], Client]) -> Callable[..., list[Any]]:
    """`race(user, "POST", path, n=10, **request_kwargs)`: n identical requests at the same
    moment, each from its own logged-in session (n double-clicks, n admins), released
    together by a barrier; returns the n responses in order. `race(user, calls=[(method,
    path, kwargs), ...])` races different requests (approve against reject). With a Bearer
    token in `headers` the requests skip the logins (the API). On PostgreSQL they really
    run at once; on SQLite their write transactions queue (BEGIN IMMEDIATE), which must
    give the same outcome."""
    import threading

    def run(user: User | None, method: str = "POST", path: str = "", n: int = 10,
            headers: dict[str, str] | None = None,
            calls: list[tuple[str, str, dict[str, Any]]] | None = None,
            **kwargs: Any) -> list[Any]:
        planned = calls or [(method, path, {"headers": headers, **kwargs})] * n
        clients: list[Client] = []
        prepared: list[dict[str, str]] = []
        for _method, _path, options in planned:
            client = new_client()
            extra = dict(options.get("headers") or {})
            if "Authorization" not in extra:
                assert user is not None, "a user to log in, or a Bearer header"
                client.login(user.email)
                extra["X-CSRFToken"] = client.csrf_token()
            clients.append(client)
            prepared.append(extra)
        barrier = threading.Barrier(len(planned))
        responses: list[Any] = [None] * len(planned)
        errors: list[BaseException] = []

        def go(i: int) -> None:
            call_method, call_path, options = planned[i]
            rest = {k: v for k, v in options.items() if k != "headers"}
            try:
                barrier.wait(timeout=30)
                responses[i] = clients[i].open(call_path, method=call_method,
                                               headers=prepared[i], **rest)
            except BaseException as exc:  # noqa: BLE001 - reported below, in the test
                errors.append(exc)

        threads = [threading.Thread(target=go, args=(i,)) for i in range(len(planned))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        return responses

    return run
