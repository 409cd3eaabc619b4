"""Certificate PDF rendering speed, in-process: PDFs per second per worker.

    python -m bench.pdf_render --count 50
    python -m bench.pdf_render --count 200 --processes 2   # two workers side by side
    python -m bench.pdf_render --count 50 --branded        # with a certificate template

Renders `--count` certificates with `app.services.pdf.render_certificate` from synthetic
snapshots (no database: a certificate is only its snapshot, number, code and
verification id to the renderer), after `--warmup` renders that are not counted. The
names cycle through Māori, accented, Pacific, Greek, long and CJK names, so the font
fallback and line fitting are part of what is measured.

One process is one worker: xhtml2pdf renders one document at a time per process (a
process-wide lock around ReportLab's global font state), so threads add nothing and
throughput scales with processes (RQ workers). With --processes P, P processes render
--count PDFs each at the same time, and the total rate is reported next to the
per-worker one.

Each worker first parses the fonts (pdf.prepare_fonts, DejaVu Sans and the CJK face: what
a worker pays once, on its first certificate, reported as `fonts_prepare_ms`), then the
warm-up renders. With --branded every certificate carries a certificate template version
(a 600x200 logo, a signature image, colours, wording with placeholders, a signer), as
issued certificates of a branded track do: the template is created through the service in
an in-memory database and its images are stored in a temporary STORAGE_DIR.

Prints a summary and writes bench/results/pdf-render-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bench import RESULTS_DIR

NAMES = ["Aroha Te Whāriki o Ngāti Pōneke", "Zoë Brontë", "Tāmati Pōmare-Wēti",
         "Sione Fifita-Taufa", "Ελένη Παπαδοπούλου", "李伟", "Mereana Ngāi Tahu",
         "Dmitri Ivanov", "Siobhán Ní Bhriain", "Wikitōria Rangi Whakaari Papatūānuku "
         "Tangaroa Tūmatauenga Rongomātāne"]
SUBJECTS = ["Roofing Fundamentals", "Membranes and Flashings: Weathertightness under E2",
            "Safety at Height", "屋顶安全 Roofing Safety"]


def synthetic_certificate(i: int, template_version_id: int | None = None) -> SimpleNamespace:
    subject = SUBJECTS[i % len(SUBJECTS)]
    return SimpleNamespace(
        id=i, number=f"CERT-2026-{i:05d}",
        verification_id=f"bench{i:05d}-Xr3kP9qLmN2vB7wT1yZ8aC4d",
        verification_code="7K3QM-9PX2D",
        snapshot={
            "number": f"CERT-2026-{i:05d}", "recipient_name": NAMES[i % len(NAMES)],
            "type": ("COMPLETION", "MASTERY", "TEACHING")[i % 3],
            "type_label": ("Completion", "Mastery", "Teaching")[i % 3],
            "subject": subject, "subject_kind": "track", "track": subject,
            "version": "2.1", "issued_on": "2026-11-23",
            "expires_on": "2028-11-23" if i % 2 else None,
            "issuer": "Credwright", "issued_by": "Mereana Tūhoe",
            "template_version_id": template_version_id,
        })


def _branded_version() -> int:
    """A template version with a logo and a signature, made through the service."""
    import io

    from PIL import Image, ImageDraw

    from app.extensions import db
    from app.services.certificates import templates
    from app.services.context import Actor

    def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
        image = Image.new("RGB", (width, height), (255, 255, 255))
        ImageDraw.Draw(image).ellipse((10, 10, width - 10, height - 10), fill=color)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    from app.models import (
        AuditChainHead,
        AuditLog,
        CertificateTemplate,
        CertificateTemplateVersion,
        Organization,
        User,
    )

    # Only what a template save writes (the full schema has PostgreSQL-only indexes).
    db.metadata.create_all(db.engine, tables=[
        model.__table__ for model in (Organization, User, AuditLog, AuditChainHead,
                                      CertificateTemplate, CertificateTemplateVersion)])
    template = templates.create_template(Actor.system(), "Bench brand", {
        "primary_color": "#0b5394", "accent_color": "#e69138", "border_style": "double",
        "title_text": "Certificate of {type}",
        "body_text": "Awarded to {recipient} on {date} for {subject}.",
        "signer_name": "Hēmi Walker", "signer_title": "Head of Training"},
        {"logo": png(600, 200, (11, 83, 148)), "signature": png(400, 120, (20, 20, 120))})
    db.session.commit()
    return templates.current_version(template).id


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))]


def run_worker(count: int, warmup: int, offset: int = 0,
               branded: bool = False) -> dict[str, Any]:
    """Render warmup + count PDFs in this process; times of the counted ones."""
    import tempfile

    from app import create_app
    from app.services import pdf

    storage = tempfile.mkdtemp(prefix="bench-pdf-")
    app = create_app({"TESTING": False, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "SECRET_KEY": "bench-pdf-render", "STORAGE_DIR": storage,
                      "PUBLIC_BASE_URL": "https://credwright.example.nz"})
    times: list[float] = []
    sizes: list[int] = []
    with app.app_context():
        version = _branded_version() if branded else None
        t0 = time.perf_counter()
        pdf.prepare_fonts(cjk=True)
        fonts_ms = (time.perf_counter() - t0) * 1000
        for i in range(warmup):
            pdf.render_certificate(synthetic_certificate(offset + i, version))
        started = time.perf_counter()
        cpu_started = time.process_time()
        for i in range(count):
            t0 = time.perf_counter()
            data = pdf.render_certificate(synthetic_certificate(offset + warmup + i, version))
            times.append(time.perf_counter() - t0)
            sizes.append(len(data))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    return {"count": count, "wall_seconds": wall, "cpu_seconds": cpu, "times": times,
            "sizes": sizes, "fonts_prepare_ms": fonts_ms}


def _worker_entry(args: tuple[int, int, int, bool]) -> dict[str, Any]:
    return run_worker(*args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50, help="PDFs per worker (counted)")
    parser.add_argument("--warmup", type=int, default=3, help="renders first, not counted")
    parser.add_argument("--processes", type=int, default=1, help="workers side by side")
    parser.add_argument("--branded", action="store_true",
                        help="certificates with a template version (logo, signature, wording)")
    parser.add_argument("--no-json", action="store_true", help="do not write the JSON file")
    args = parser.parse_args(argv)
    count = max(1, min(args.count, 10_000))
    processes = max(1, min(args.processes, os.cpu_count() or 1, 16))

    started = time.perf_counter()
    if processes == 1:
        workers = [run_worker(count, args.warmup, branded=args.branded)]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            workers = pool.map(_worker_entry, [(count, args.warmup, n * 100_000,
                                                args.branded) for n in range(processes)])
    total_wall = time.perf_counter() - started

    times_ms = [t * 1000 for w in workers for t in w["times"]]
    sizes = [s for w in workers for s in w["sizes"]]
    per_worker = [w["count"] / w["wall_seconds"] for w in workers]
    slowest_wall = max(w["wall_seconds"] for w in workers)
    result = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "count_per_worker": count, "warmup": args.warmup, "processes": processes,
        "branded": args.branded,
        "fonts_prepare_ms": round(max(w["fonts_prepare_ms"] for w in workers), 1),
        "pdfs_per_second_per_worker": round(statistics.mean(per_worker), 2),
        "pdfs_per_second_total": round(count * processes / slowest_wall, 2),
        "median_ms": round(statistics.median(times_ms), 1),
        "mean_ms": round(statistics.mean(times_ms), 1),
        "p95_ms": round(_percentile(times_ms, 0.95), 1),
        "min_ms": round(min(times_ms), 1), "max_ms": round(max(times_ms), 1),
        # CPU time is what the render costs whatever else the machine is doing; on an
        # idle core, 1000 / cpu_ms_per_pdf is the PDFs/s a worker can reach.
        "cpu_ms_per_pdf": round(1000 * sum(w["cpu_seconds"] for w in workers)
                                / (count * processes), 1),
        "mean_pdf_bytes": round(statistics.mean(sizes)),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "run_seconds": round(total_wall, 1),
    }
    print(f"{count} PDFs x {processes} worker(s), {args.warmup} warm-up each")
    print(f"  PDFs/s per worker : {result['pdfs_per_second_per_worker']}")
    if processes > 1:
        print(f"  PDFs/s in total   : {result['pdfs_per_second_total']}")
    print(f"  median ms         : {result['median_ms']}  (mean {result['mean_ms']}, "
          f"p95 {result['p95_ms']}, min {result['min_ms']}, max {result['max_ms']})")
    print(f"  CPU ms per PDF    : {result['cpu_ms_per_pdf']}  (an idle core: "
          f"{1000 / result['cpu_ms_per_pdf']:.1f} PDFs/s)")
    print(f"  mean PDF size     : {result['mean_pdf_bytes']:,} bytes")
    print(f"  fonts, once       : {result['fonts_prepare_ms']} ms per worker (before warm-up)")
    print(f"  load average (1m) : {result['load_average_1m']}")
    if not args.no_json:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = RESULTS_DIR / f"pdf-render-{stamp}.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"  results           : {path.relative_to(RESULTS_DIR.parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
