"""GET /verify/<id> for an anonymous visitor, answered in front of Flask's request handling
(issue 16: the public check at most 2x a bare Flask page's CPU).

The answer is the route's own (routes.public_answer: the same read, page cache, JSON and
signature; routes.record_check: the same log), with the same headers added by the same
functions as the after_request hooks (the blueprint's, security.add_headers,
Flask-Limiter's X-RateLimit-*/Retry-After, Flask-Compress's Vary and compression) and
the same rate limit counted in the limiter's own storage, under the key and scope the
route's decorator uses. What it skips is Flask's per-request machinery around them: the
request context (only pushed to compress; a page not cached is drawn by
app/web/verify_page.py, which needs none),
the before_request hooks (none of which can act on such a request: no form, no session,
no control character in the path or query), signals, ensure_sync, the session save.

Only the plainest requests come here; everything else goes to the Flask route unchanged:
a method other than GET/HEAD, a path that is not /verify/ and a well-formed id, a query
string other than none or `format=json`, any Cookie, Authorization or HX-Request header,
a rate limit that is breached or whose storage fails (Flask answers the 429, or falls
back to memory, itself: a request over the limit is then counted twice, refused either
way), and any error. tests/blueprints/test_verify_lean.py sends the same requests both
ways and compares status, headers and body.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response
from flask_compress.flask_compress import _choose_algorithm
from flask_limiter import RequestLimit
from flask_limiter.constants import HeaderNames
from flask_limiter.util import get_qualified_name
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import http_date, parse_accept_header
from werkzeug.middleware.proxy_fix import ProxyFix

from app.blueprints.verify import routes
from app.extensions import client_key, compress, limiter
from app.web import security, verify_page

log = logging.getLogger(__name__)

ENDPOINT = "verify.certificate"
PATH = re.compile(r"/verify/([A-Za-z0-9_-]{32})")
QUERIES = {"": "", "format=json": "json"}
# Requests carrying any of these are someone's, or an htmx swap: the Flask route's.
THEIRS = ("HTTP_COOKIE", "HTTP_AUTHORIZATION", "HTTP_HX_REQUEST")
# Tests send a request to the Flask route with this environ key set to False.
SWITCH = "credwright.verify.lean"
# The before_request hooks skipped here, each a no-op for the requests let in (a hook
# added later must be looked at before it is skipped: test_the_skipped_hooks_are_known).
SKIPPED_HOOKS = frozenset({"refuse_control_characters", "csrf_protect",
                           "_check_request_limit"})

# The after_request hooks whose work _answer does (Flask-Login's only refreshes a
# remember-me cookie, which these requests do not carry).
APPLIED_AFTER_HOOKS = frozenset({"set_security_headers", "_update_remember_cookie",
                                 "__inject_headers", "after_request"})

StartResponse = Callable[..., Any]


class LeanVerify:
    """WSGI middleware answering the anonymous public check; `answered` counts them."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.answered = 0
        self._limits: list[Any] | None = None
        self._shapes: dict[tuple[Any, ...], tuple[tuple[str, str | None], ...]] = {}
        self._encodings: dict[tuple[tuple[str, ...], str], bool] = {}
        self._security_headers = security.default_headers(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse
                 ) -> Iterable[bytes]:
        match = None
        if (environ.get("REQUEST_METHOD") in ("GET", "HEAD")
                and environ.get("QUERY_STRING", "") in QUERIES
                and environ.get(SWITCH, True)
                and not any(name in environ for name in THEIRS)):
            match = PATH.fullmatch(environ.get("PATH_INFO", ""))
        response = self._answer(environ, match[1]) if match else None
        if response is None:
            return self.wsgi_app(environ, start_response)
        self.answered += 1
        body = response.response
        if response.status_code in (200, 404) and isinstance(body, list) \
                and "Content-Length" in response.headers:
            # What Response.__call__ sends for such an answer (no Location to make
            # absolute, no 1xx/204/304 header removal, the length already set; HEAD:
            # no body), without its copy and re-check of every header: a tenth of a
            # cached page's CPU. Anything else still goes through it.
            start_response(response.status, response.headers.to_wsgi_list())
            return [] if environ["REQUEST_METHOD"] == "HEAD" else body
        return response(environ, start_response)

    def _answer(self, environ: dict[str, Any], verification_id: str) -> Response | None:
        app = self.app
        method = environ["REQUEST_METHOD"]
        try:
            with app.app_context():
                limit = self._hit(environ, method)
                if limit is False:
                    return None  # breached: the route answers the 429
                accept = environ.get("HTTP_ACCEPT", "")
                as_json = routes.wants_json(QUERIES[environ.get("QUERY_STRING", "")], accept,
                                            lambda: parse_accept_header(accept, MIMEAccept))
                response, found, channel = routes.public_answer(
                    verification_id, as_json,
                    lambda found, answer, status: routes.anonymous_page(
                        found, answer, status, self._renderer(environ)))
                # The after_request hooks' work, in Flask's order (the blueprint's first).
                compressing = self._may_compress(environ.get("HTTP_ACCEPT_ENCODING", ""))
                if compressing:
                    self._hook_headers(response, method)
                else:
                    self._hook_headers_of_shape(response, method)
                if limit is not None:
                    self._limit_headers(response, limit)
                if compressing:
                    with app.request_context(environ):  # Flask-Compress reads the request
                        response = compress.after_request(response)
                routes.record_check(found, channel, method)
                return response
        except Exception:  # the route answers it (its error handlers, its log)
            log.debug("lean /verify answer failed; the Flask route answers", exc_info=True)
            return None

    @staticmethod
    def _renderer(environ: dict[str, Any]) -> Callable[..., str]:
        def rendered(found: Any, answer: dict[str, Any]) -> str:
            # The kept layout around the certificate's parts: no request context.
            return verify_page.anonymous_html(found, answer, environ.get("SCRIPT_NAME", ""))
        return rendered

    def _may_compress(self, accept_encoding: str) -> bool:
        """Whether Flask-Compress would pick an algorithm for this Accept-Encoding (its
        own choice, remembered per header value). When it picks none ("identity", what
        Python's http.client and many scripts send, or only algorithms it lacks) its hook
        only adds Vary, so the answer takes the per-shape headers as with no header."""
        if not accept_encoding:
            return False
        key = (compress.enabled_algorithms, accept_encoding)
        known = self._encodings.get(key)
        if known is None:
            known = _choose_algorithm(compress.enabled_algorithms, accept_encoding) is not None
            if len(self._encodings) < 256:  # header values are the client's: bounded
                self._encodings[key] = known
        return known

    # --- Flask-Limiter's work for the route's @limiter.limit -------------------------

    def _route_limits(self) -> list[Any]:
        if self._limits is None:
            name = get_qualified_name(self.app.view_functions[ENDPOINT])
            defaults, decorated = limiter.limit_manager.resolve_limits(
                self.app, ENDPOINT, "verify", name, False, True)
            if defaults or any(lim.key_func is not limiter._key_func or lim.deduct_when
                               or lim.is_exempt for lim in decorated):
                raise RuntimeError("limits the lean /verify path does not apply")
            self._limits = list(decorated)
        return self._limits

    def _hit(self, environ: dict[str, Any], method: str) -> RequestLimit | bool | None:
        """Count the request as the route's decorator does: its RequestLimit for the
        headers, False when breached, None when limiting is off."""
        if not (limiter.enabled and limiter.initialized):
            return None
        if (limiter._storage_dead or limiter.limit_manager.application_limits
                or limiter._request_filters or limiter._meta_limits):
            raise RuntimeError("the route handles a dead storage and app-wide limits")
        # As get_remote_address() reads it.
        key = client_key(self.app.config, environ.get("REMOTE_ADDR") or "127.0.0.1")
        chosen: RequestLimit | None = None
        for lim in sorted(self._route_limits(), key=lambda each: each.limit):
            if lim.method_exempt:
                continue
            args = [key, lim.scope_for(ENDPOINT, method)]
            if limiter._key_prefix:
                args = [limiter._key_prefix, *args]
            if not limiter.limiter.hit(lim.limit, *args, cost=lim.deduction_amount):
                return False
            if chosen is None or (chosen.shared and not lim.shared):
                chosen = RequestLimit(limiter, lim.limit, args, False, lim.shared)
        return chosen

    def _limit_headers(self, response: Response, limit: RequestLimit) -> None:
        if not (limiter._headers_enabled and limiter._header_mapping):
            return
        names = limiter._header_mapping
        reset_at = limit.reset_at
        response.headers.add(names[HeaderNames.LIMIT], str(limit.limit.amount))
        response.headers.add(names[HeaderNames.REMAINING], str(limit.remaining))
        response.headers.add(names[HeaderNames.RESET], str(reset_at))
        response.headers.set(names[HeaderNames.RETRY_AFTER],
                             str(http_date(reset_at) if limiter._retry_after == "http-date"
                                 else int(reset_at - time.time())))

    # --- The hooks' headers -----------------------------------------------------

    def _hook_headers(self, response: Response, method: str) -> None:
        routes.add_private_headers(response, ENDPOINT, method)
        security.add_headers(response, self._security_headers)

    def _hook_headers_of_shape(self, response: Response, method: str) -> None:
        """_hook_headers plus Flask-Compress's Vary (nothing to compress), copied from the
        first answer of the same shape (method, headers but Content-Length): they depend
        on nothing else, and werkzeug's checks per header set or added were a third of
        this path's CPU. The first of each shape runs the functions themselves."""
        headers = response.headers
        items = headers.items()
        key = (method, tuple(item for item in items if item[0] != "Content-Length"))
        shape = self._shapes.get(key)
        if shape is None:
            self._hook_headers(response, method)
            # What Compress.after_request does when nothing is to be compressed: Vary.
            vary = headers.get("Vary")
            if not vary:
                headers["Vary"] = "Accept-Encoding"
            elif "accept-encoding" not in vary.lower():
                headers["Vary"] = f"{vary}, Accept-Encoding"
            if len(self._shapes) < 64:
                self._shapes[key] = tuple((name, None if name == "Content-Length" else value)
                                          for name, value in headers.items())
            return
        length = headers.get("Content-Length")
        # Headers keeps a list of (name, value) tuples; these were checked when first made.
        headers._list = [(name, length if value is None else value)  # noqa: SLF001
                         for name, value in shape]


def init_app(app: Flask) -> None:
    """In front of the Flask app, behind ProxyFix when proxies are trusted (the client's
    address, as the route's rate limit sees it)."""
    outer = app.wsgi_app
    if isinstance(outer, ProxyFix):
        outer.app = LeanVerify(app, outer.app)
    else:
        app.wsgi_app = LeanVerify(app, outer)  # type: ignore[method-assign]
    app.extensions["credwright.lean_verify"] = lean_of  # tests find it


def lean_of(app: Flask) -> LeanVerify:
    wsgi: Any = app.wsgi_app
    while not isinstance(wsgi, LeanVerify):
        wsgi = getattr(wsgi, "app", None) or getattr(wsgi, "application", None)
        if wsgi is None:
            raise LookupError("no LeanVerify in this app's WSGI chain")
    return wsgi
