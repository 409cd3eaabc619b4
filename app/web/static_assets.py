"""Static files under content-hashed URLs, precompressed, cached for a year.

`url_for('static', filename='css/app.css')` gives `/static/css/app.<hash>.css`, where
the hash is the first 12 hex digits of the file's SHA-256. The hashed copy, and its
gzip and brotli renderings (WhiteNoise's compressor, text types only), are written
once into `STATIC_BUILD_DIR` (default `instance/static-build/`); WhiteNoise serves
them with `Cache-Control: public, max-age=31536000, immutable` and the encoding the
client accepts (`Vary: Accept-Encoding`).

Nothing to run by hand: files are built when the app starts and again when a source
file changes (its size or mtime, checked on each `url_for` or `static_url`; in
production at most every STATIC_RECHECK_SECONDS), so `make run` and an edited
stylesheet both just work. Built files are named by their content and never
rewritten, so processes sharing the folder agree, and a page rendered before a
deploy still finds its old files.

A plain URL (`/static/css/app.css`) and a hashed URL this process has not built (the
file changed under another worker) are served by Flask from the source folder with a
short cache (`STATIC_PLAIN_MAX_AGE`, 5 minutes). So is every file when the build folder
cannot be written (a read-only instance/): the app starts, with a warning in the log.

Static responses carry the same security headers as pages (CSP, nosniff, ...), and no
`Access-Control-Allow-Origin`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from time import monotonic
from typing import Any
from urllib.parse import quote

from flask import (
    Flask,
    current_app,
    has_request_context,
    request,
    send_from_directory,
    url_for,
)
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from app.web.security import default_headers

log = logging.getLogger(__name__)

ONE_YEAR = 31_536_000
#: Files worth compressing; fonts under static/ are for PDFs and stay as they are.
COMPRESSIBLE = {".css", ".js", ".mjs", ".svg", ".json", ".map", ".txt", ".html", ".xml",
                ".ico", ".webmanifest"}
HASHED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")
_CHUNK = 1 << 20
# What Werkzeug's path converter leaves unquoted in a URL (its BaseConverter.to_url).
PATH_SAFE = "!$&'()*+,/:;=@"


def hashed_name(filename: str, digest: str) -> str:
    """`css/app.css` + digest -> `css/app.<digest>.css` (a name without a dot gets it
    appended)."""
    head, dot, ext = filename.rpartition(".")
    if not dot or "/" in ext:
        return f"{filename}.{digest}"
    return f"{head}.{digest}.{ext}"


def plain_name(filename: str) -> str:
    """The source file a (possibly hashed) static filename names."""
    match = HASHED.match(filename)
    return f"{match['stem']}{match['ext']}" if match else filename


class StaticAssets:
    """One per app: the hashed names of its static files and the WhiteNoise that
    serves them."""

    def __init__(self, app: Flask) -> None:
        self.source = Path(app.static_folder or "").resolve()
        self.build = Path(app.config.get("STATIC_BUILD_DIR")
                          or Path(app.instance_path) / "static-build").resolve()
        self.prefix = (app.static_url_path or "/static").rstrip("/") + "/"
        # WhiteNoise answers before Flask's after_request hooks run: the same security
        # headers as every page (security.default_headers, one list), and not its
        # default Access-Control-Allow-Origin: * (nothing here is for other origins).
        self._security_headers = default_headers(app)
        self.whitenoise = WhiteNoise(app.wsgi_app, max_age=app.config.get(
            "STATIC_PLAIN_MAX_AGE", 300), immutable_file_test=self._immutable,
            add_headers_function=self._headers, allow_all_origins=False)
        # filename -> (mtime_ns, size, hashed name, when its stat was last looked at)
        self._names: dict[str, tuple[int, int, str, float]] = {}
        self.recheck = float(app.config.get("STATIC_RECHECK_SECONDS", 0.0))
        self._lock = threading.Lock()
        self._compressor = Compressor(quiet=True)
        self.enabled = _writable(self.build)
        if not self.enabled:
            log.warning("Static build folder %s is not writable: static files are served "
                        "under their plain URLs, uncompressed, with a short cache "
                        "(set STATIC_BUILD_DIR to a writable folder)", self.build)
            return
        for path in sorted(self.source.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                self.url_name(path.relative_to(self.source).as_posix())

    def _immutable(self, path: str, url: str) -> bool:
        return HASHED.match(url.rpartition("/")[2]) is not None

    def _headers(self, headers: Any, path: str, url: str) -> None:
        for key, value in self._security_headers:
            headers.setdefault(key, value)
        if self._immutable(path, url):  # a year, as browsers and RFC 8246 expect
            headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"

    def url_name(self, filename: str) -> str:
        """The hashed name of `filename`, building it if the source changed; the
        filename itself when it names no file (url_for then 404s like Flask's)."""
        known = self._names.get(filename)
        now = monotonic()
        if known is not None and now - known[3] < self.recheck:
            return known[2]
        source = self.source / filename
        try:
            stat = source.stat()
        except OSError:
            return filename
        if known and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
            self._names[filename] = (*known[:3], now)
            return known[2]
        with self._lock:
            name = hashed_name(filename, _digest(source))
            self._build(source, name)
            self._names[filename] = (stat.st_mtime_ns, stat.st_size, name, now)
        return name

    def static_url(self, filename: str) -> str:
        """`url_for('static', filename=filename)`, without the URL map: the page layout
        links seven assets, and building each through Werkzeug's router cost more than
        the rest of its line (issue 16). Templates call it as `static_url('css/app.css')`;
        the same URL, under the request's script root (an app mounted below /)."""
        if not self.enabled:
            return url_for("static", filename=filename)
        root = request.script_root if has_request_context() else ""
        return f"{root}{self.prefix}{quote(self.url_name(filename), safe=PATH_SAFE)}"

    def _build(self, source: Path, name: str) -> None:
        target = self.build / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write(source, target)
        self.whitenoise.add_file_to_dictionary(self.prefix + name, str(target))

    def _write(self, source: Path, target: Path) -> None:
        # Another process may be building the same file: write aside, rename the
        # compressed renderings first and the file itself last (its presence means done).
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        tmp = Path(tmp_name)
        written: list[str] = []
        try:
            shutil.copyfile(source, tmp)
            if target.suffix.lower() in COMPRESSIBLE:
                written = self._compressor.compress(str(tmp))
            for path in written:
                os.replace(path, str(target) + path[-3:])
            os.replace(tmp, target)
        finally:
            for path in [tmp_name, *written]:
                Path(path).unlink(missing_ok=True)


def _writable(folder: Path) -> bool:
    """Whether `folder` exists or can be made, and takes a file (a read-only instance/,
    a container's read-only root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()[:12]


def static_url(filename: str) -> str:
    """StaticAssets.static_url of the current app (Python callers; templates have it as
    a global)."""
    assets: StaticAssets = current_app.extensions["static_assets"]
    return assets.static_url(filename)


def _serve_static(filename: str) -> Any:
    """Flask's fallback for what WhiteNoise did not answer: a plain URL, or a hashed
    one this process has not built yet, from the source folder with a short cache."""
    app = current_app
    return send_from_directory(app.static_folder or "", plain_name(filename),
                               max_age=app.config.get("STATIC_PLAIN_MAX_AGE", 300))


def init_app(app: Flask) -> None:
    assets = StaticAssets(app)
    app.extensions["static_assets"] = assets
    app.view_functions["static"] = _serve_static
    app.jinja_env.globals["static_url"] = assets.static_url
    if not assets.enabled:  # plain URLs, served by Flask (_serve_static)
        return
    app.wsgi_app = assets.whitenoise  # type: ignore[method-assign]

    @app.url_defaults
    def _hash_static(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = assets.url_name(values["filename"])
