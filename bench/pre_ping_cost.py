"""What does SQLAlchemy's pool_pre_ping cost the engine step on PostgreSQL, against the
platform's own ping of idle connections (app/db/pool.py)? Same tree, taking turns.

    .venv/bin/python bench/pre_ping_cost.py [--rounds 3] [-n 300]

Runs bench/engine_bench.py on PostgreSQL with pool_pre_ping (a ping at every checkout) and with
the default (a ping only after 1 s idle), alternately, and prints per flow the median
engine/raw ratio of each and pre_ping/idle (above 1.00: pinging every checkout costs that much).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^postgresql (minimal|product)\s+\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", re.M)


def _ratios(options: dict, n: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "engine_bench.py"), "--backend", "postgresql",
                          "-n", str(n), "--engine-options", json.dumps(options)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {flow: float(ratio) for flow, ratio in ROW.findall(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    runs: dict[str, dict[str, list[float]]] = {"with": {}, "without": {}}
    for i in range(args.rounds):
        for name, options in (("with", {"pool_pre_ping": True}), ("without", {})):
            for flow, ratio in _ratios(options, args.n).items():
                runs[name].setdefault(flow, []).append(ratio)
            print(f"round {i + 1}/{args.rounds} {name}: done", file=sys.stderr)
    print(f"{'flow':<10}{'pre_ping':>11}{'idle ping':>10}{'pre/idle':>14}")
    for flow in sorted(runs["with"]):
        a, b = statistics.median(runs["with"][flow]), statistics.median(runs["without"][flow])
        print(f"{flow:<10}{a:>11.2f}{b:>10.2f}{a / b:>14.2f}")


if __name__ == "__main__":
    main()
