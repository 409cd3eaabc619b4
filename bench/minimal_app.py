"""The smallest Flask app worth serving: the baseline for bench.run_certificates.

    gunicorn -w 2 -b 127.0.0.1:8001 bench.minimal_app:app

GET /ping answers a short HTML page (no database, templates, sessions, extensions or
after-request hooks): what gunicorn's sync workers and Flask's routing alone cost per
request on this machine, so an app page's requests/s can be read as a share of it.
"""

from __future__ import annotations

from flask import Flask

PONG = "<!doctype html><html><head><title>ping</title></head><body><p>pong</p></body></html>"

app = Flask(__name__)


@app.get("/ping")
def ping() -> tuple[str, int, dict[str, str]]:
    return PONG, 200, {"Content-Type": "text/html; charset=utf-8"}
