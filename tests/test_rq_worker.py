"""`flask rq worker` runs each job in a work horse forked from the worker's loaded app."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, current_app
from sqlalchemy import text

from app.extensions import db, rq
from app.worker import AppForkWorker
from tests import rq_isolation

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                                reason="needs REDIS_URL (CI's second run)")

QUEUE = rq_isolation.queue_name()


def where_am_i() -> dict[str, Any]:
    """The job: which process, which app, and a query on the app's database."""
    return {"pid": os.getpid(), "mark": current_app.config.get("WORKER_TEST_MARK"),
            "one": db.session.execute(text("SELECT 1")).scalar()}


@pytest.fixture
def worker_app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    from redis import Redis

    url = os.environ["REDIS_URL"]
    connection = Redis.from_url(url)
    try:
        yield rq_isolation.isolate(make_app(
            JOBS_INLINE=False, RQ_ASYNC=True, RQ_CONNECTION=url, REDIS_URL=url,
            RQ_QUEUES=["default"], WORKER_TEST_MARK="this test's app"), QUEUE)
    finally:
        rq_isolation.delete_queue_keys(connection, QUEUE)
        connection.close()


def test_jobs_run_in_a_fork_of_the_workers_app(worker_app: Flask) -> None:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with worker_app.app_context():
            queue = next(iter(rq.queues.values()))
            jobs = [queue.enqueue(where_am_i) for _ in range(3)]
            worker = rq.make_worker()
        assert isinstance(worker, AppForkWorker)
        worker.work(burst=True)  # outside any app context: the horse pushes its own
        with worker_app.app_context():
            results = [job.return_value(refresh=True) for job in jobs]
    finally:
        for sig, handler in handlers.items():  # the worker installs its own
            signal.signal(sig, handler)
    # Each job in its own forked horse, with this app's config (a new `flask` process
    # per job would have built another app from the environment) and a working session.
    assert all(result is not None for result in results), results
    assert {result["mark"] for result in results} == {"this test's app"}
    assert {result["one"] for result in results} == {1}
    pids = {result["pid"] for result in results}
    assert os.getpid() not in pids and len(pids) == 3


def test_the_worker_parses_the_pdf_fonts_before_it_forks(worker_app: Flask,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from app.services import pdf

    monkeypatch.setattr(pdf, "_registered", {})  # as a new worker process starts
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with worker_app.app_context():
            worker = rq.make_worker()
        worker.work(burst=True)  # nothing queued: it warms up and stops
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    # Parsed here, in the worker, so every forked horse starts with them.
    assert "CredwrightSans" in pdf._registered
    assert "CredwrightSans-Bold" in pdf._registered
