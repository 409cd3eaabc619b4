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

import logging
import threading
import weakref
from functools import lru_cache
from typing import Any

from flask import Flask, has_request_context, request
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

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(_begin_mode(app))


# --- A thread's own connection for hot, read-only queries ----------------------------

class _HeldConnections(threading.local):
    def __init__(self) -> None:
        self.by_engine: weakref.WeakKeyDictionary[Engine, Connection] = (
            weakref.WeakKeyDictionary())


_held = _HeldConnections()
_held_lock = threading.Lock()
_held_all: weakref.WeakKeyDictionary[Engine, list[Connection]] = weakref.WeakKeyDictionary()


def _close_held(engine: Engine) -> None:
    with _held_lock:
        connections = _held_all.pop(engine, [])
    for connection in connections:
        try:
            connection.invalidate()
        except Exception:  # noqa: BLE001 - closing anyway; the server may be gone
            log.debug("could not close a held read connection", exc_info=True)


@lru_cache(maxsize=64)
def _compiled(statement: Select[Any],
              dialect: Dialect) -> tuple[str, dict[str, Any], tuple[Any, ...]]:
    """The SQL of a statement, its own parameters (a LIMIT's, say) and its columns'
    result processors, for this dialect."""
    compiled = statement.compile(dialect=dialect)
    processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                       for column in statement.selected_columns)
    return str(compiled), dict(compiled.params), processors


def _held_connection(engine: Engine) -> Connection:
    connection = _held.by_engine.get(engine)
    if connection is None or connection.invalidated or connection.closed:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        _held.by_engine[engine] = connection
        with _held_lock:
            if engine not in _held_all:
                event.listen(engine, "engine_disposed", _close_held)
            _held_all.setdefault(engine, []).append(connection)
    return connection


def read_first(engine: Engine, statement: Select[Any], params: dict[str, Any]) -> Any:
    """The first row of a read-only SELECT (a tuple, its columns' types applied, or None),
    run on this thread's own autocommit connection (PostgreSQL; SQLite uses a pooled
    connection as usual). `params` go to the driver as they are: strings and numbers.

    For the public verification page (issue 5), where the query itself is the cheap
    part: a pool checkout and return (pre-ping, reset, isolation switch) cost several
    times more, and so does SQLAlchemy's per-execution machinery (the statement is
    compiled once here, and its result processors kept). Autocommit spares the
    BEGIN/ROLLBACK round trips, and each statement reads the latest committed data, so
    nothing is stale. The connection is kept (one per thread and engine) and replaced
    once if the server dropped it (a restart); `engine.dispose()` closes them all.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            row = connection.execute(statement, params).first()
            return tuple(row) if row is not None else None
    sql, defaults, processors = _compiled(statement, engine.dialect)
    params = {**defaults, **params}
    for attempt in (1, 2):
        connection = _held_connection(engine)
        dbapi_connection = connection.connection.dbapi_connection
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
        except engine.dialect.loaded_dbapi.Error as exc:
            if not engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            _held.by_engine.pop(engine, None)
            connection.invalidate()
            if attempt == 2:
                raise
            continue
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for process, value in zip(processors, row, strict=True))
    raise AssertionError("unreachable")  # pragma: no cover
