"""Real RQ jobs on a shared Redis without touching anyone else's keys.

Tests that queue real jobs use the database REDIS_URL names, and a queue of their own:
`isolate(app, name)` points the app's "default" queue (the one every job is enqueued
on) at a queue called `name`, and `delete_queue_keys` removes afterwards only the keys
of that queue, of its jobs and of the workers that served it. Nothing is flushed, so
another test, developer or CI run on the same Redis database is left alone.

A worker in a subprocess builds its app with `worker_app_arg(name)` as `flask --app`.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask
from rq import Queue


def queue_name() -> str:
    """A queue name no other process (pytest, xdist worker or run) uses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"credwright-test-{worker}-{os.getpid()}-{secrets.token_hex(4)}"


class _OneQueue(dict[str, Queue]):
    """Flask-RQ's queue mapping with one queue, found under "default" (where the jobs
    enqueue) and under its own name (where a work horse looks its job's queue up)."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(default=queue)
        self._queue = queue

    def __missing__(self, key: str) -> Queue:
        if key == self._queue.name:
            return self._queue
        raise KeyError(key)


def isolate(app: Flask, name: str) -> Flask:
    extension: Any = app.extensions["rq"]
    default = extension._queues[app]["default"]
    queue = Queue(name, connection=default.connection, is_async=default._is_async,
                  job_class=default.job_class, serializer=default.serializer)
    extension._queues[app] = _OneQueue(queue)
    return app


def worker_app(name: str) -> Flask:
    """The app of `flask rq worker` in a subprocess: wsgi's, on the queue `name`."""
    from app import create_app

    return isolate(create_app(), name)


def worker_app_arg(name: str) -> str:
    """`flask --app` value (and FLASK_APP) for a worker on the queue `name`."""
    return f"tests.rq_isolation:worker_app({name!r})"


def delete_queue_keys(connection: Any, name: str) -> None:
    """Delete what RQ kept in Redis for the queue `name` and nothing else."""
    keys = [k.decode() for k in connection.scan_iter(match="rq:*", count=1000)]
    jobs = {key.split(":")[2] for key in keys
            if key.startswith("rq:job:") and key.count(":") == 2
            and connection.type(key) == b"hash"
            and connection.hget(key, "origin") == name.encode()}
    workers = {key for key in keys
               if key.startswith("rq:worker:") and connection.type(key) == b"hash"
               and connection.hget(key, "queues") == name.encode()}
    doomed = [key for key in keys
              if name in key or key in workers or any(job in key for job in jobs)]
    if doomed:
        connection.delete(*doomed)
    connection.srem("rq:queues", f"rq:queue:{name}")
    if workers:
        connection.srem("rq:workers", *workers)
