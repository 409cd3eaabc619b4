"""Engine set-up that differs by database.

SQLite: foreign keys on, WAL so readers never block the writer, a busy timeout so
writers queue instead of failing, and explicit BEGINs. pysqlite's own transaction
handling would let a SAVEPOINT's RELEASE commit the whole transaction; and a
transaction that reads before it writes could lose the race for the write lock, so
anything that may write (every non-GET request, jobs, commands) begins IMMEDIATE.
(Tests turn that off for their own out-of-request sessions, which only read or
commit at once, so a test never holds the write lock while it calls the app.)
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import weakref
from functools import lru_cache
from typing import Any

from flask import Flask, has_request_context, request
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result
from psycopg.pq import DiagnosticField, ExecStatus
from sqlalchemy import Connection, Dialect, Engine, Select, event

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _begin_mode(app: Flask) -> str:
    if has_request_context():
        return "BEGIN" if request.method in SAFE_METHODS else "BEGIN IMMEDIATE"
    return "BEGIN IMMEDIATE" if app.config["SQLITE_IMMEDIATE_OUTSIDE_REQUESTS"] else "BEGIN"


def configure_engine(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # The app weakly: Flask-SQLAlchemy keeps each app's engines in a WeakKeyDictionary
    # keyed by the app, and a listener holding the app would keep both alive for good
    # (every app a test process built, and all it refers to).
    app_ref = weakref.ref(app)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        owner = app_ref()
        connection.exec_driver_sql(_begin_mode(owner) if owner is not None else "BEGIN")


# --- Kept connections for hot, read-only queries ------------------------------------

class _ReadConnections:
    """Autocommit connections kept out of the engine's pool for `read_first`, shared by
    the process's threads (one at a time each), at most KEEP idle."""

    KEEP = 4

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self.idle: list[Connection] = []

    def take(self, engine: Engine) -> Connection:
        with self.lock:
            if self.pid != os.getpid():  # forked: the parent's sockets are not ours
                self.pid, self.idle = os.getpid(), []
            if self.idle:
                return self.idle.pop()
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def give_back(self, connection: Connection) -> None:
        with self.lock:
            if len(self.idle) < self.KEEP and not connection.invalidated:
                self.idle.append(connection)
                return
        connection.close()

    def close_all(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for connection in idle:
            try:
                connection.invalidate()
            except Exception:  # noqa: BLE001 - closing anyway; the server may be gone
                log.debug("could not close a kept read connection", exc_info=True)


_kept: weakref.WeakKeyDictionary[Engine, _ReadConnections] = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()


def _kept_for(engine: Engine) -> _ReadConnections:
    kept = _kept.get(engine)
    if kept is None:
        with _kept_lock:
            kept = _kept.get(engine)
            if kept is None:
                kept = _kept[engine] = _ReadConnections()
                event.listen(engine, "engine_disposed", lambda _engine: kept.close_all())
    return kept


@lru_cache(maxsize=64)
def _compiled(statement: Select[Any],
              dialect: Dialect) -> tuple[str, dict[str, Any], tuple[Any, ...]]:
    """The SQL of a statement, its own parameters (a LIMIT's, say) and its columns'
    result processors, for this dialect."""
    compiled = statement.compile(dialect=dialect)
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                       for column in statement.selected_columns)
    return str(compiled), dict(compiled.params), processors


def read_first(engine: Engine, statement: Select[Any], params: dict[str, Any]) -> Any:
    """The first row of a read-only SELECT (a tuple, its columns' types applied, or None),
    run on a kept autocommit connection (PostgreSQL; SQLite uses a pooled connection as
    usual). `params` go to the server as text: strings and numbers (None is NULL).

    For the public verification page (issue 5), where the query itself is the cheap
    part: a pool checkout and return (pre-ping, reset, isolation switch) cost several
    times more, and so does SQLAlchemy's per-execution machinery (the statement is
    compiled once here, and its result processors kept). Autocommit spares the
    BEGIN/ROLLBACK round trips, and each statement reads the latest committed data, so
    nothing is stale. Connections are kept per process and engine (taken by one thread
    at a time, so short-lived threads share them too), a dropped one (a server restart)
    is replaced and the query run once more; `engine.dispose()` closes them. On
    PostgreSQL the statement is a named server-side prepared statement run through
    libpq itself (_pg_first).
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            row = connection.execute(statement, params).first()
            return tuple(row) if row is not None else None
    sql, defaults, processors = _compiled(statement, engine.dialect)
    params = {**defaults, **params}
    kept = _kept_for(engine)
    for attempt in (1, 2):
        connection = kept.take(engine)
        dbapi_connection = connection.connection.dbapi_connection
        try:
            row = _pg_first(connection, dbapi_connection, sql, params)
        except engine.dialect.loaded_dbapi.Error as exc:
            disconnected = engine.dialect.is_disconnect(exc, dbapi_connection, None)
            if disconnected:  # the server went away: so did the other kept connections
                connection.invalidate()
                kept.close_all()
            kept.give_back(connection)
            if attempt == 2 or not disconnected:
                raise
            continue
        kept.give_back(connection)
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for process, value in zip(processors, row, strict=True))
    raise AssertionError("unreachable")  # pragma: no cover


# --- read_first on PostgreSQL: one libpq call ------------------------------------------

_PYFORMAT = re.compile(r"%\((\w+)\)s|%%")
# Where a connection notes the statements it has prepared (Connection.info lives as long
# as the DBAPI connection: a replaced connection starts with none).
_PREPARED_KEY = "credwright.read_first.prepared"
# The server forgot a prepared statement (DISCARD ALL, a pooler) or its plan no longer
# fits (a column's type changed under a running process): prepare it again, once.
_PREPARE_AGAIN = frozenset({"26000", "0A000"})


@lru_cache(maxsize=64)
def _pg_statement(sql: str) -> tuple[bytes, bytes, tuple[str, ...]]:
    """A prepared statement's name, its SQL with $n placeholders, and the names of the
    parameters in $n order, for SQL in the psycopg dialect's %(name)s style."""
    order: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        if match[1] is None:
            return "%"
        if match[1] not in order:
            order.append(match[1])
        return f"${order.index(match[1]) + 1}"

    text = _PYFORMAT.sub(placeholder, sql)
    name = "credwright_read_first_" + hashlib.sha256(sql.encode()).hexdigest()[:16]
    return name.encode(), text.encode(), tuple(order)


def _pg_first(connection: Connection, dbapi_connection: Any, sql: str,
              params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row of `sql`, by PQexecPrepared on the connection's libpq handle, its
    values loaded by psycopg's own loaders (the cursor's): a third less client CPU than
    psycopg's cursor for the same prepared statement (issue 16: the public check at most
    2x a bare Flask page), the GIL released while the server answers. Errors are
    psycopg's, as the cursor raises them."""
    name, text, order = _pg_statement(sql)
    pgconn = dbapi_connection.pgconn
    values = [None if params[key] is None else str(params[key]).encode("utf-8")
              for key in order]
    prepared: set[bytes] = connection.info.setdefault(_PREPARED_KEY, set())
    for attempt in (1, 2):
        if name not in prepared:
            made = pgconn.prepare(name, text)
            if made.status != ExecStatus.COMMAND_OK:
                raise error_from_result(made)
            prepared.add(name)
        result = pgconn.exec_prepared(name, values)
        if result.status == ExecStatus.TUPLES_OK:
            break
        state = (result.error_field(DiagnosticField.SQLSTATE) or b"").decode()
        if attempt == 1 and state in _PREPARE_AGAIN:
            prepared.discard(name)
            if state == "0A000":  # the stale plan is still there under its name
                pgconn.exec_(b"DEALLOCATE " + name)
            continue
        raise error_from_result(result)
    if not result.ntuples:
        return None
    loader = Transformer(dbapi_connection)
    loader.set_pgresult(result)
    row: tuple[Any, ...] = loader.load_row(0, tuple)
    return row

