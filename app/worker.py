"""`flask rq worker`'s worker: a work horse forked from the loaded app for each job.

Flask-RQ 1.0's own worker starts a new `flask` process for every job (Python, imports,
`create_app()`): about 1.5 s a job on this project, whatever the job does, so a bulk
import's 10,000 certificate PDFs (about 25 ms of rendering each) took hours on two
workers. RQ's standard worker forks its horse instead; the child already has the app,
its templates and the PDF fonts loaded (`pdf.warm_up()` before the first fork). What a
fork must not share with its parent is handled here: the pooled database connections
(dropped in the child, not closed, so the parent's stay usable) and the app context
(pushed in the child for the job).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app
from flask_rq import RQ
from rq import Worker
from rq.job import Job
from rq.queue import Queue


class AppForkWorker(Worker):
    """RQ's forking worker, each job in an app context of the worker's app."""

    def __init__(self, queues: Sequence[Queue], *args: Any, app: Flask, **kwargs: Any) -> None:
        self.app = app
        super().__init__(queues, *args, **kwargs)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        from app.services import pdf

        with self.app.app_context():
            pdf.warm_up()  # fonts and template once here, not in every horse
        return super().work(*args, **kwargs)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        from app.extensions import db

        with self.app.app_context():
            # The parent's pooled connections are its own sockets: the horse opens its own.
            db.engine.dispose(close=False)
            super().main_work_horse(job, queue)  # ends the process (os._exit)


class AppRQ(RQ):
    """Flask-RQ with `make_worker` (and so `flask rq worker`) giving an AppForkWorker."""

    def make_worker(self, queues: list[str] | tuple[str, ...] | None = None,
                    **kwargs: Any) -> Worker:
        known = self.queues
        chosen = tuple(known.values()) if not queues else tuple(known[name] for name in queues)
        return AppForkWorker(chosen, job_class=chosen[0].job_class,
                             app=current_app._get_current_object(), **kwargs)
