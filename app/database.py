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
import os
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
    usual). `params` go to the driver as they are: strings and numbers.

    For the public verification page (issue 5), where the query itself is the cheap
    part: a pool checkout and return (pre-ping, reset, isolation switch) cost several
    times more, and so does SQLAlchemy's per-execution machinery (the statement is
    compiled once here, and its result processors kept). Autocommit spares the
    BEGIN/ROLLBACK round trips, and each statement reads the latest committed data, so
    nothing is stale. Connections are kept per process and engine (taken by one thread
    at a time, so short-lived threads share them too), a dropped one (a server restart)
    is replaced and the query run once more; `engine.dispose()` closes them.
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
            with dbapi_connection.cursor() as cursor:
                cursor.execute(sql, params)
                row = cursor.fetchone()
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
