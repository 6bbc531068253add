"""Benchmark: our WorkingDayCalendar vs stock workalendar China(), same years (2018–2023), same run.

    .venv/bin/python bench/calendar_bench.py

Measures (per operation, best of several rounds):
  * add 10 working days to a date  — stock `China().add_working_days` walks day by day;
  * count the working days of one year — stock `get_working_days_delta` walks day by day;
ours answer from precomputed running counts (bisect / subtraction). Targets: >= 50x and >= 500x.
"""
from __future__ import annotations

import random
import sys
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workalendar.asia import China

from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.data import load_directory
from app.legaltime.service import REPO_CALENDAR_DIR

YEARS = range(2018, 2024)  # the stock class knows 2018–2023 only
N = 10


def per_op(fn, args, rounds: int = 5) -> float:
    """Best-of-`rounds` seconds per call of fn(*a) over args."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for a in args:
            fn(*a)
        best = min(best, (time.perf_counter() - start) / len(args))
    return best


def main() -> None:
    warnings.simplefilter("ignore")  # the stock class warns on every year it builds
    ours = WorkingDayCalendar(load_directory(REPO_CALENDAR_DIR))
    stock = China()
    rng = random.Random(2026)
    last_start = date(2023, 12, 1)  # +10 working days stays inside 2023 for the stock class
    span = (last_start - date(2018, 1, 1)).days
    starts = [(date(2018, 1, 1) + timedelta(days=rng.randrange(span)), N) for _ in range(2000)]
    years = [(date(y - 1, 12, 31) if y > 2018 else date(2018, 1, 1), date(y, 12, 31)) for y in YEARS]

    # Warm both (holiday tables, our index) so we time the queries, not the set-up.
    for day, n in starts[:50]:
        stock.add_working_days(day, n)
        ours.add_working_days(day, n)

    stock_add = per_op(stock.add_working_days, starts[:300], rounds=3)
    ours_add = per_op(ours.add_working_days, starts, rounds=7)
    stock_count = per_op(stock.get_working_days_delta, years, rounds=3)
    ours_count = per_op(ours.working_days_between, years * 200, rounds=7)

    disagree_add = sum(stock.add_working_days(d, n) != ours.add_working_days(d, n).day for d, n in starts)
    disagree_year = [(b.year, stock.get_working_days_delta(a, b), ours.working_days_between(a, b).count)
                     for a, b in years
                     if stock.get_working_days_delta(a, b) != ours.working_days_between(a, b).count]

    print(f"years {YEARS.start}-{YEARS.stop - 1}, Python {sys.version.split()[0]}")
    print(f"add {N} working days : stock {stock_add * 1e6:10.1f} us/op   ours {ours_add * 1e6:8.3f} us/op"
          f"   ratio {stock_add / ours_add:8.0f}x  (target >= 50x)")
    print(f"one-year count      : stock {stock_count * 1e6:10.1f} us/op   ours {ours_count * 1e6:8.3f} us/op"
          f"   ratio {stock_count / ours_count:8.0f}x  (target >= 500x)")
    print(f"answers differing from stock workalendar (its own, older 2018-2023 tables): "
          f"add {disagree_add}/{len(starts)}; yearly counts {disagree_year or 'none'}")


if __name__ == "__main__":
    main()
