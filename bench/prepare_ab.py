"""Is server-side PREPARE of the row batch's writes worth it on PostgreSQL? A same-process A/B.

    .venv/bin/python bench/prepare_ab.py [-n 1200] [--block 20] [--flow minimal|product]

One application, one database, one pooled connection: the minimal two-task step of
bench/engine_bench.py (or, with --flow product, the product's formal review) is completed in blocks that take turns between the row batch as shipped
(every INSERT / UPDATE sent as text in one multi-statement query) and the same batch with each
INSERT / UPDATE PREPAREd once per connection and sent as EXECUTE name(values) in the same one
query. Taking turns block by block puts a noisy spell of the machine on both sides; the
median of the paired block ratios is the figure (above 1.00: unprepared is that much slower).
The product keeps PREPARE only if it is worth >= 10 % (issue 13).
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from weakref import WeakKeyDictionary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine_bench as eb
from sqlalchemy import create_engine, text

from app.db import rowbatch

SHIPPED = rowbatch._send_as_one_query
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_PREPARED: WeakKeyDictionary = WeakKeyDictionary()  # dbapi connection -> {sql: (name, order)}


def _prepared_name(raw, cursor, sql: str) -> tuple[str, list[str]]:
    """PREPARE `sql` on this connection once; its name and the parameters' order."""
    known = _PREPARED.setdefault(raw, {})
    if sql not in known:
        order: list[str] = []

        def number(match: re.Match) -> str:
            order.append(match.group(1))
            return f"${len(order)}"
        name = f"ab_{len(known)}"
        cursor.execute(f"PREPARE {name} AS {_PLACEHOLDER.sub(number, sql)}")
        known[sql] = (name, order)
    return known[sql]


def send_prepared(raw, ops, commit: bool) -> None:
    """The shipped one-query send, with INSERT / UPDATE as EXECUTE of prepared statements."""
    from psycopg import ClientCursor

    cursor = ClientCursor(raw)
    try:
        texts, owners = [], []
        for op in ops:
            sql = rowbatch._sql(op)
            prepare = isinstance(op.statement, rowbatch._Statement)
            for params in (op.params if op.fetch == "many" else [op.params]):
                if prepare:
                    name, order = _prepared_name(raw, cursor, sql)
                    marks = ", ".join(["%s"] * len(order))
                    texts.append(cursor.mogrify(f"EXECUTE {name}({marks})",
                                                [params[key] for key in order]))
                else:
                    texts.append(cursor.mogrify(sql, params or None))
                owners.append(op)
        if commit:
            texts.append("COMMIT")
        cursor.execute(";\n".join(texts))
        for index, op in enumerate(owners):
            if index:
                cursor.nextset()
            rowbatch._collect(op, cursor)
    finally:
        cursor.close()


def _timed(ids: list[int], sender, reviewer: int | None) -> float:
    rowbatch._send_as_one_query = sender
    try:
        return eb.engine_cost(ids) if reviewer is None else eb.product_engine_cost(ids, reviewer)
    finally:
        rowbatch._send_as_one_query = SHIPPED


def run(url: str, n: int, block: int, product: bool) -> tuple[list[float], float, float]:
    config = {"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench",
              "SCHEDULER_ENABLED": False, "POLICY_PROFILE": "nantong",
              "ATTACHMENT_DIR": tempfile.mkdtemp(prefix="prepare-ab-"),
              "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0}}
    app = eb.create_app(config)
    with app.app_context():
        eb.db.create_all()
        reviewer = None
        if product:
            pairs, reviewer = eb.prepare_product(n)
        else:
            eb.register()
            pairs = eb.prepare(n)
        ids = [task_id for task_id, _ in pairs]
        eb.db.session.commit()
        eb.db.session.expunge_all()
        warm = min(2 * block, n // 10)
        _timed(ids[:warm // 2], SHIPPED, reviewer)
        _timed(ids[warm // 2:warm], send_prepared, reviewer)
        ratios, plain_total, prepared_total = [], 0.0, 0.0
        rest = ids[warm:]
        for i, lo in enumerate(range(0, len(rest) - 2 * block + 1, 2 * block)):
            first, second = rest[lo:lo + block], rest[lo + block:lo + 2 * block]
            if i % 2:  # alternate which side goes first
                p, u = _timed(first, send_prepared, reviewer), _timed(second, SHIPPED, reviewer)
            else:
                u, p = _timed(first, SHIPPED, reviewer), _timed(second, send_prepared, reviewer)
            ratios.append(u / p)
            plain_total, prepared_total = plain_total + u, prepared_total + p
        eb.db.session.remove()
        eb.db.drop_all()
        eb.db.engine.dispose()
    per = len(ratios) * block
    return ratios, plain_total / per * 1000, prepared_total / per * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1200)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--flow", choices=["minimal", "product"], default="minimal",
                        help="product: the office's formal review of a conditional-share "
                             "application, as in bench/engine_bench.py")
    args = parser.parse_args()
    admin = create_engine(eb.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"prepare_ab_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        t0 = time.perf_counter()
        ratios, plain, prepared = run(eb.PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name,
                                      args.n, args.block, args.flow == "product")
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    q = statistics.quantiles(ratios, n=4)
    print(f"{args.flow} step, PostgreSQL, {len(ratios)} block pairs of {args.block} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"  unprepared (shipped) {plain:.3f} ms / completion   prepared {prepared:.3f} ms")
    print(f"  unprepared / prepared: median {statistics.median(ratios):.3f} "
          f"(quartiles {q[0]:.3f} – {q[2]:.3f}), totals {plain / prepared:.3f}")
    print("  keep PREPARE only if the median is >= 1.10")


if __name__ == "__main__":
    main()
