"""Screenshots of the main screens for the README: `make screenshots`.

Starts the app on a throwaway SQLite database loaded with the demo data (migrated and
seeded by the same commands `make run` uses), logs in as each role through the login
form with Playwright driving Debian's chromium (or CHROMIUM_PATH), and saves
docs/screenshots/<name>.png at 1280 px wide, a few also at 390 px (a phone). The PNGs
are reduced to a 256-colour palette (Pillow) so the repository stays small.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only admin-users]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "demo-password"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shot:
    name: str
    login: str | None  # None: logged out
    path: str  # may name {certificate}, {track}, {quiz}: looked up in the demo data
    phone: bool = False  # also at 390 px
    caption: str = ""


SHOTS = [
    Shot("login", None, "/login", phone=True, caption="Log in"),
    Shot("verify", None, "/verify/{certificate}", phone=True,
         caption="Public verification of a certificate"),
    Shot("admin-dashboard", "admin@demo.test", "/admin/", phone=True,
         caption="Admin dashboard"),
    Shot("admin-users", "admin@demo.test", "/admin/users", caption="Users (sortable columns)"),
    Shot("admin-organizations", "admin@demo.test", "/admin/organizations",
         caption="Organizations"),
    Shot("admin-micro-credentials", "admin@demo.test", "/admin/micro-credentials",
         caption="Micro-credential catalogue"),
    Shot("admin-certificates", "admin@demo.test", "/admin/certificates?status=issued",
         phone=True, caption="Certificates workspace"),
    Shot("admin-pending", "admin@demo.test", "/admin/certificates?status=pending",
         caption="Certificates awaiting approval"),
    Shot("admin-audit", "admin@demo.test", "/admin/audit", caption="Audit trail"),
    Shot("manager-dashboard", "manager@demo.test", "/admin/", caption="Manager dashboard"),
    Shot("manager-tracks", "manager@demo.test", "/admin/tracks", caption="Certification tracks"),
    Shot("manager-track", "manager@demo.test", "/admin/tracks/{track}",
         caption="A track's courses"),
    Shot("manager-quiz-editor", "manager@demo.test", "/admin/courses/{quiz}/quiz",
         caption="Quiz editor"),
    Shot("org-matrix", "orgadmin@demo.test", "/org", phone=True,
         caption="Org admin: staff x credential matrix"),
    Shot("org-progress", "orgadmin@demo.test", "/org/progress",
         caption="Org admin: training progress"),
    Shot("staff-me", "staff@demo.test", "/me", phone=True, caption="Learner: my page"),
    Shot("staff-learn", "staff@demo.test", "/learn", caption="Learner: tracks"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{workdir / 'screens.db'}",
        "STORAGE_DIR": str(workdir / "storage"),
        "SECRET_KEY": "screenshots-only",
        "AUDIT_KEY": "screenshots-only",
        "REDIS_URL": "",
        "FLASK_DEBUG": "0",
    })
    return env


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,  # noqa: S603
                   env=env, check=True, stdout=subprocess.DEVNULL)


def _lookups(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        certificate = conn.execute(
            "SELECT verification_id FROM certificates WHERE status = 'ISSUED' "
            "ORDER BY id LIMIT 1").fetchone()
        quiz = conn.execute("SELECT id, track_id FROM courses WHERE has_exam = 1 "
                            "ORDER BY id LIMIT 1").fetchone()
    return {"certificate": certificate[0] if certificate else "none",
            "quiz": str(quiz[0]) if quiz else "0", "track": str(quiz[1]) if quiz else "0"}


def _wait_up(url: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit("the app did not start")
        try:
            urllib.request.urlopen(url + "/login", timeout=2)  # noqa: S310 (our own server)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the app did not answer")


def _log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def _save(page: Page, path: Path) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), caret="initial", animations="disabled")
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--only", action="append", help="names of the shots to take")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shots = [s for s in SHOTS if not args.only or s.name in args.only]

    with tempfile.TemporaryDirectory(prefix="credwright-screens-") as tmp:
        workdir = Path(tmp)
        env = _env(workdir)
        _flask(env, "db", "upgrade")
        _flask(env, "seed", "--demo")
        values = _lookups(workdir / "screens.db")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_up(base, server)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
                for login in dict.fromkeys(s.login for s in shots):
                    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-390")):
                        mine = [s for s in shots if s.login == login
                                and (suffix == "" or s.phone)]
                        if not mine:
                            continue
                        context = browser.new_context(viewport=viewport, locale="en-NZ",
                                                      timezone_id="Pacific/Auckland")
                        page = context.new_page()
                        if login:
                            _log_in(page, base, login)
                        for shot in mine:
                            page.goto(base + shot.path.format(**values))
                            target = out / f"{shot.name}{suffix}.png"
                            _save(page, target)
                            print(f"{target.relative_to(ROOT)}  {target.stat().st_size // 1024} KB")
                        context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
