"""Is a commit's engine step slower than an earlier one's? Same run, taking turns.

    .venv/bin/python bench/compare_commits.py BASE [--head REV] [--rounds 3] [engine_bench options …]

Checks BASE and HEAD (or --head) out into temporary git worktrees — so editing the working tree
meanwhile changes nothing measured — and runs bench/engine_bench.py in each in turn (base,
head, base, head …), so a noisy spell of the machine hits both. Each run's figure is its
engine/raw ratio (the engine's step against SpiffWorkflow alone in the same process); the
table shows, per backend and flow, the median ratio of each over the rounds and head/base
(below 1.00: head is faster).
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^(sqlite|postgresql) (minimal|product)\s+\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)", re.M)


def _ratios(tree: Path, options: list[str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(tree / "bench" / "engine_bench.py"), *options],
                         cwd=tree, capture_output=True, text=True, check=True).stdout
    return {f"{backend} {flow}": float(ratio) for backend, flow, ratio in ROW.findall(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the commit to compare against, e.g. HEAD~3")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--rounds", type=int, default=3)
    args, options = parser.parse_known_args()
    runs: dict[str, dict[str, list[float]]] = {"base": {}, "head": {}}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {name: Path(tmp) / name for name in runs}
        for name, rev in (("base", args.base), ("head", args.head)):
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(trees[name]), rev],
                           cwd=ROOT, check=True)
        try:
            for round_ in range(args.rounds):
                for name, tree in trees.items():
                    for row, ratio in _ratios(tree, options).items():
                        runs[name].setdefault(row, []).append(ratio)
                    print(f"round {round_ + 1}/{args.rounds} {name}: done", file=sys.stderr)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)
    print(f"{'backend':<22}{'base ratio':>12}{'head ratio':>12}{'head/base':>11}")
    for row in sorted(runs["head"]):
        b, h = (statistics.median(runs[name].get(row, [float("nan")])) for name in ("base", "head"))
        print(f"{row:<22}{b:>12.2f}{h:>12.2f}{h / b:>11.2f}")
    print(f"medians over {args.rounds} rounds; ratio = engine step / raw SpiffWorkflow step, same process")


if __name__ == "__main__":
    main()
