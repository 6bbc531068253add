"""The benchmarks stay runnable (they are how performance claims are checked)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_engine_bench_runs_and_reports_both_baselines():
    # A subprocess: the bench registers its own script functions and forms.
    out = subprocess.run([sys.executable, "bench/engine_bench.py", "-n", "3", "--backend", "sqlite",
                          "--flow", "minimal"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    [row] = [line.split() for line in out.stdout.splitlines() if line.startswith("sqlite minimal")]
    raw_ms, engine_ms, ratio, median = (float(v) for v in row[3:7])
    stock_ms, vs_stock = float(row[9]), float(row[10])
    assert raw_ms > 0 and engine_ms > 0 and stock_ms > 0 and median > 0
    assert abs(ratio - engine_ms / raw_ms) < 0.05 * ratio + 0.02
    assert abs(vs_stock - engine_ms / stock_ms) < 0.05 * vs_stock + 0.02
    met = ratio <= 2.0 and float(row[7]) >= 200
    assert (" ".join(row[12:]) == "met") == met
