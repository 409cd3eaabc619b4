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

from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import Engine, event

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
