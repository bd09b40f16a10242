"""bench/run.py keeps working as the code changes (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def test_bench_runs_and_prints_every_figure():
    done = subprocess.run([sys.executable, str(BENCH), "--db", "sqlite", "--n", "3"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("raw SQL transition (baseline)", "audited transition (service)",
                 "audited transition (HTTP)", "scan to card (HTTP)", "label PNG cryovial",
                 "96-label PDF sheet"):
        assert name in done.stdout, done.stdout
