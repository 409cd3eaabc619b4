"""PostgreSQL plan tests' one helper: the EXPLAIN of the statements some code runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text

from app.extensions import db


def _is_select(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT")


def plans_of(run: Callable[[], Any],
             keep: Callable[[str], bool] = _is_select) -> list[str]:
    """EXPLAIN (as the planner chooses with the data's statistics) of every statement
    `run()` issues that `keep` picks (every SELECT by default), with its parameters."""
    statements: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        if keep(statement):
            statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    with db.engine.begin() as conn:
        return ["\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", params).scalars())
                for statement, params in statements]


def insert_plan_people_and_definitions() -> None:
    """2,000 staff ("plan<i>@example.test") and 10 definitions ("Plan credential <i>"),
    the people and catalogue the staff-credential plan tests cross."""
    db.session.execute(text("""
        INSERT INTO users (email, name, role, active, email_compliance, sms_critical,
                           session_token, created_at, updated_at)
        SELECT 'plan' || i || '@example.test', 'Plan Person ' || i, 'staff', true, true,
               false, md5(i::text), now(), now()
        FROM generate_series(1, 2000) AS i"""))
    db.session.execute(text("""
        INSERT INTO micro_credential_definitions (title, level, issuing_body, is_default,
                                                  created_at, updated_at)
        SELECT 'Plan credential ' || i, 4, 'RANZ', false, now(), now()
        FROM generate_series(1, 10) AS i"""))
