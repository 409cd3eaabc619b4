"""Benchmarks: bulk data generation, a small HTTP load driver and benchmark runners.

    python -m bench.generate --users 20000 --orgs 200 --audit 100000 --database-url URL
    python -m bench.http_load http://127.0.0.1:8000/login -n 500 -c 8
    python -m bench.run_foundation --database sqlite|postgres

See bench/README.md. Results are written to bench/results/ (gitignored).
"""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
