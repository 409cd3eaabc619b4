"""A small, bounded HTTP load driver: stdlib threads + http.client, loopback only.

    python -m bench.http_load http://127.0.0.1:8000/login -n 1000 -c 8
    python -m bench.http_load http://127.0.0.1:8000/admin/users -n 1000 -c 8 \
        --login admin@demo.test demo-password

`run_load()` sends exactly `requests` requests (fewer only if `max_seconds` runs out)
from `concurrency` client threads, each with its own connection (reopened whenever the
server closes it, as gunicorn's sync workers do after every response), and reports
requests/s, latency percentiles and errors. A response counts as an error when the
request raises, the status differs from `expect_status`, or `expect_text` is missing.

Targets must be loopback addresses (127.0.0.1, ::1, localhost): this is a benchmark
tool, never a way to load somebody else's server.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
USER_AGENT = "credwright-bench/1"
# Hard ceilings, whatever the caller asks for.
MAX_REQUESTS = 100_000
MAX_CONCURRENCY = 64
MAX_SECONDS = 600.0


class LoadError(RuntimeError):
    pass


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise LoadError(f"refusing to load {host!r}: only loopback targets (127.0.0.1) allowed")


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise LoadError(f"only http:// URLs are supported, not {url!r}")
        host = parts.hostname or ""
        _check_loopback(host)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, parts.port or 80, path)


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.4999)))
    return sorted_values[rank - 1]


@dataclass
class LoadResult:
    url: str
    requests: int
    concurrency: int
    completed: int
    errors: int
    duration_s: float
    rps: float
    mean_ms: float
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float
    bytes_per_response: float
    timed_out: bool
    statuses: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.completed}/{self.requests} requests, c={self.concurrency}: "
                f"{self.rps:.1f} req/s, median {self.median_ms:.1f} ms, "
                f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
                f"max {self.max_ms:.1f} ms, errors {self.errors}"
                + (" (stopped at the time limit)" if self.timed_out else ""))


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(target.host, target.port, timeout=timeout)


def request_once(conn: http.client.HTTPConnection, method: str, path: str,
                 headers: dict[str, str], body: str | None = None
                 ) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a (possibly reopened) connection; the body is read whole."""
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
        # The server closed an idle keep-alive connection: one retry on a fresh one.
        conn.close()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
    data = response.read()
    if response.will_close:
        conn.close()
    return response.status, response.headers, data


def _cookies_from(headers: http.client.HTTPMessage, jar: dict[str, str]) -> None:
    for raw in headers.get_all("Set-Cookie") or []:
        cookie = SimpleCookie()
        cookie.load(raw)
        for name, morsel in cookie.items():
            jar[name] = morsel.value


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def login(base_url: str, email: str, password: str, *, timeout: float = 30.0) -> str:
    """Log in through the real form (CSRF token included); returns a Cookie header."""
    target = Target.parse(base_url.rstrip("/") + "/login")
    conn = _connection(target, timeout)
    jar: dict[str, str] = {}
    try:
        headers = {"User-Agent": USER_AGENT, "Host": f"{target.host}:{target.port}"}
        status, resp_headers, body = request_once(conn, "GET", target.path, headers)
        if status != 200:
            raise LoadError(f"GET /login answered {status}")
        _cookies_from(resp_headers, jar)
        match = META_CSRF.search(body.decode("utf-8", "replace"))
        if not match:
            raise LoadError("no csrf-token meta tag on /login")
        form = urlencode({"email": email, "password": password, "csrf_token": match.group(1)})
        post_headers = {**headers, "Content-Type": "application/x-www-form-urlencoded",
                        "Cookie": cookie_header(jar)}
        status, resp_headers, body = request_once(conn, "POST", target.path, post_headers,
                                                  form)
        if status != 302:
            raise LoadError(f"POST /login answered {status}, not a redirect: "
                            "wrong credentials, or the cookie needs HTTPS "
                            "(set SESSION_COOKIE_SECURE=0), or rate limited?")
        _cookies_from(resp_headers, jar)
    finally:
        conn.close()
    return cookie_header(jar)


def run_load(
    url: str,
    *,
    requests: int,
    concurrency: int = 8,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    expect_status: int = 200,
    expect_text: str | None = None,
    max_seconds: float = 120.0,
    timeout: float = 30.0,
    method: str = "GET",
    variants: Sequence[tuple[dict[str, str], str | None]] | None = None,
) -> LoadResult:
    """Send `requests` GETs to `url` from `concurrency` threads; stop at `max_seconds`.

    `method` and `variants` make it a write load: request number k (0-based, in the order
    they are handed out) adds `variants[k % len(variants)]`'s headers (e.g. another
    person's Cookie and X-CSRFToken) to the common ones and sends its body, so many
    users can take turns, one request each."""
    if not 1 <= requests <= MAX_REQUESTS:
        raise LoadError(f"requests must be 1..{MAX_REQUESTS}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise LoadError(f"concurrency must be 1..{MAX_CONCURRENCY}")
    max_seconds = min(max_seconds, MAX_SECONDS)
    target = Target.parse(url)
    base_headers = {"User-Agent": USER_AGENT, "Host": f"{target.host}:{target.port}",
                    "Accept": "text/html", **(headers or {})}
    if cookie:
        base_headers["Cookie"] = cookie
    needle = expect_text.encode("utf-8") if expect_text else None

    if method not in ("GET", "POST"):
        raise LoadError("method must be GET or POST")
    lock = threading.Lock()
    remaining = [requests]
    issued = [0]
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    error_samples: list[str] = []
    sizes = [0]
    errors = [0]
    start = time.perf_counter()
    deadline = start + max_seconds
    stop = threading.Event()

    def take() -> int | None:
        """The number of the next request to send, or None when done."""
        with lock:
            if remaining[0] <= 0 or stop.is_set():
                return None
            remaining[0] -= 1
            issued[0] += 1
            return issued[0] - 1

    def worker() -> None:
        conn = _connection(target, timeout)
        try:
            while (number := take()) is not None:
                if time.perf_counter() > deadline:
                    stop.set()
                    return
                headers, payload = base_headers, None
                if variants:
                    extra, payload = variants[number % len(variants)]
                    headers = {**base_headers, **extra}
                t0 = time.perf_counter()
                problem = None
                try:
                    status, _, body = request_once(conn, method, target.path, headers,
                                                   payload)
                    key = str(status)
                    if status != expect_status:
                        problem = f"status {status}"
                    elif needle is not None and needle not in body:
                        problem = "expected text missing"
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    key, body = type(exc).__name__, b""
                    problem = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    statuses[key] += 1
                    sizes[0] += len(body)
                    if problem:
                        errors[0] += 1
                        if len(error_samples) < 5:
                            error_samples.append(problem)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True)
               for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        # The worker checks the deadline before each request; a hung request is bounded
        # by the socket timeout, so this join always ends.
        t.join(max_seconds + timeout + 5)
    stop.set()
    duration = time.perf_counter() - start

    ordered = sorted(latencies)
    done = len(ordered)
    ms = 1000.0
    return LoadResult(
        url=url, requests=requests, concurrency=concurrency, completed=done,
        errors=errors[0],
        duration_s=round(duration, 3),
        rps=round(done / duration, 1) if duration else 0.0,
        mean_ms=round(sum(ordered) / done * ms, 2) if done else 0.0,
        median_ms=round(percentile(ordered, 50) * ms, 2),
        p95_ms=round(percentile(ordered, 95) * ms, 2),
        p99_ms=round(percentile(ordered, 99) * ms, 2),
        max_ms=round(ordered[-1] * ms, 2) if done else 0.0,
        min_ms=round(ordered[0] * ms, 2) if done else 0.0,
        bytes_per_response=round(sizes[0] / done, 0) if done else 0.0,
        timed_out=done < requests,
        statuses=dict(statuses),
        error_samples=error_samples,
    )


def wait_for(url: str, *, seconds: float = 30.0, expect_status: int = 200) -> None:
    """Poll `url` until it answers `expect_status`; raises LoadError after `seconds`."""
    target = Target.parse(url)
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        conn = _connection(target, 2.0)
        try:
            status, _, body = request_once(conn, "GET", target.path, {"User-Agent": USER_AGENT})
            if status == expect_status:
                return
            last = f"status {status}: {body[:200]!r}"
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        time.sleep(0.25)
    raise LoadError(f"{url} not ready after {seconds:.0f} s ({last})")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load",
                                     description="Bounded GET load against a loopback URL.")
    parser.add_argument("url")
    parser.add_argument("-n", "--requests", type=int, default=500)
    parser.add_argument("-c", "--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=0, help="requests sent first, not counted")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--expect-status", type=int, default=200)
    parser.add_argument("--expect-text", default=None)
    parser.add_argument("--login", nargs=2, metavar=("EMAIL", "PASSWORD"),
                        help="log in through /login first and send the session cookie")
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    cookie = None
    if args.login:
        parts = urlsplit(args.url)
        cookie = login(f"{parts.scheme}://{parts.netloc}", *args.login)
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    common = {"concurrency": args.concurrency, "cookie": cookie, "headers": headers,
              "expect_status": args.expect_status, "expect_text": args.expect_text,
              "max_seconds": args.max_seconds}
    if args.warmup:
        run_load(args.url, requests=args.warmup, **common)
    result = run_load(args.url, requests=args.requests, **common)
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.summary())


if __name__ == "__main__":
    main()
