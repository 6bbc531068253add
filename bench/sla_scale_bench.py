"""Does the supervisor's desk stay fast as history grows? (issue 15)

    .venv/bin/python bench/sla_scale_bench.py [--large 1000000] [--small 10000] [-n 30]

On a throw-away PostgreSQL database (TEST_PG_URL or postgres@127.0.0.1:5432), through the real
schema (`flask db upgrade`-equivalent `create_all`, the demo city, the real BPMN deployed), it
seeds history with SQL `generate_series` straight into the product's tables — finished steps
spread over the last year across 10 departments and every flow, plus 5 % open steps, about one
instance and record per 3.3 steps — and then asks, over HTTP through the app as `dsj.supervisor`:

- `GET /api/sla/summary?from=<a year ago>&to=<today>` (the dashboard's figures for a year);
- `GET /sla/records?from=<a year ago>` (the oversight list's first page, the whole page rendered).

It prints p50/p95 (ms) of `-n` requests per query for the small and the large history and the
ratio large/small (the cost must not grow with history: issue 15 asks for p95 ≤ 300 ms at 1M and
a ratio ≤ 3).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

SEED_SQL = """
WITH flows AS (SELECT array_agg(process_id ORDER BY process_id) AS ids FROM
               (SELECT DISTINCT process_id FROM process_definition) d),
     depts AS (SELECT array_agg(id ORDER BY id) AS ids FROM department WHERE NOT is_office)
INSERT INTO process_instance (definition_id, process_id, business_key, status, state, started_at, updated_at, version)
SELECT (SELECT min(id) FROM process_definition p WHERE p.process_id = flows.ids[1 + g % array_length(flows.ids, 1)]),
       flows.ids[1 + g % array_length(flows.ids, 1)], :prefix || g, 'completed', '{}',
       now() - (g % 365) * interval '1 day', now(), 1
FROM generate_series(1, :instances) g, flows
"""
CASE_SQL = """
INSERT INTO workflow_case (business_key, flow, instance_id, status, title, applicant_department_id,
                           department_id, details, policy_key, created_at, updated_at)
SELECT i.business_key, i.process_id, i.id, CASE WHEN i.id % 20 = 0 THEN 'in_progress' ELSE 'closed' END,
       '历史记录 ' || i.id, d.ids[1 + i.id % array_length(d.ids, 1)], d.ids[1 + (i.id + 3) % array_length(d.ids, 1)],
       '{}', 'nantong', i.started_at, i.started_at
FROM process_instance i, (SELECT array_agg(id ORDER BY id) AS ids FROM department WHERE NOT is_office) d
WHERE i.business_key LIKE :prefix || '%'
"""
TASK_SQL = """
INSERT INTO human_task (instance_id, process_id, spiff_task_id, task_spec, name, candidate_department_id,
                        candidate_role, state, created_at, due_at, sla_state, completed_at, on_time, response_workdays)
SELECT pi.id, pi.process_id, md5(g::text)::uuid::text, 'provider_review', '提供部门审核',
       d.ids[1 + g % array_length(d.ids, 1)], 'provider_approver',
       CASE WHEN g % 20 = 0 THEN 'ready' ELSE 'completed' END,
       now() - (g % 365) * interval '1 day' - interval '3 days',
       now() - (g % 365) * interval '1 day' + CASE WHEN g % 20 = 0 THEN interval '10 days' ELSE interval '7 days' END
         - CASE WHEN g % 40 = 0 THEN interval '20 days' ELSE interval '0' END,
       'on_time',
       CASE WHEN g % 20 = 0 THEN NULL ELSE now() - (g % 365) * interval '1 day' END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE g % 9 <> 0 END,
       CASE WHEN g % 20 = 0 THEN NULL ELSE g % 12 END
FROM generate_series(0, :tasks - 1) g
     CROSS JOIN (SELECT min(id) AS id FROM process_instance WHERE business_key LIKE :prefix || '%') i
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM department WHERE NOT is_office) d
     JOIN process_instance pi ON pi.id = i.id + (g % :instances)
"""


def _seed(app, steps: int) -> None:
    from app.extensions import db

    prefix = f"H{steps}-"
    instances = max(steps * 10 // 33, 1)
    with app.app_context():
        started = time.perf_counter()
        db.session.execute(text("SET statement_timeout = 0"))  # the product's limit is for requests
        db.session.execute(text(SEED_SQL), {"prefix": prefix, "instances": instances})
        db.session.execute(text(CASE_SQL), {"prefix": prefix})
        # each step belongs to one of the instances (ids are consecutive from the first one)
        db.session.execute(text(TASK_SQL), {"prefix": prefix, "tasks": steps, "instances": instances})
        db.session.commit()
        # as autovacuum leaves a live database: statistics, and the visibility map index-only scans use
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        print(f"seeded {steps:,} steps, {instances:,} instances and records in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)


def _measure(app, n: int) -> dict[str, tuple[float, float]]:
    from app.clock import to_local, utcnow
    from app.extensions import db
    from app.org.models import User
    from app.org.services import issue_api_token

    with app.app_context():
        today = to_local(utcnow()).date()
        year_ago = (today - timedelta(days=364)).isoformat()
        supervisor = db.session.scalar(db.select(User).where(User.username == "dsj.supervisor"))
        token = issue_api_token(supervisor, supervisor)
    client = app.test_client()
    client.post("/sign-in", data={"username": "dsj.supervisor", "password": "Demo@2026pass",
                                  "csrf_token": _csrf(client)})
    queries = {
        "summary, a year (API)": lambda: client.get("/api/sla/summary", query_string={"from": year_ago, "to": today.isoformat()},
                                                     headers={"Authorization": f"Bearer {token}"}),
        "records, first page": lambda: client.get("/sla/records", query_string={"from": year_ago}),
    }
    out = {}
    for name, call in queries.items():
        started = time.perf_counter()
        assert call().status_code == 200, name  # the first request also sums the year's finished days
        print(f"  first {name}: {(time.perf_counter() - started) * 1000:.0f} ms", file=sys.stderr)
        times = []
        for _ in range(n):
            started = time.perf_counter()
            response = call()
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        times.sort()
        out[name] = (statistics.median(times), times[max(int(0.95 * n) - 1, 0)])
    return out


def _csrf(client) -> str:
    import re
    page = client.get("/sign-in").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _app(url: str, tmp: str):
    from app import create_app
    from app.demo.seed import seed
    from app.engine import deploy
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER_ENABLED": False,
                      "ATTACHMENT_DIR": tmp, "WTF_CSRF_ENABLED": True})
    with app.app_context():
        db.create_all()
        for bpmn in sorted((ROOT / "bpmn").glob("*.bpmn")):
            deploy(bpmn)
        seed()
    return app


def _size(steps: int, n: int) -> dict[str, tuple[float, float]]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sla_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = _app(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, tmp)
            _seed(app, steps)
            result = _measure(app, n)
            with app.app_context():
                from app.extensions import db
                db.session.remove()
                db.engine.dispose()
            return result
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("-n", type=int, default=30)
    args = parser.parse_args()
    small, large = _size(args.small, args.n), _size(args.large, args.n)
    print(f"{'query':<24}{'small p50':>10}{'p95':>8}{'large p50':>11}{'p95':>8}{'p95 large/small':>17}")
    for name in small:
        (sp50, sp95), (lp50, lp95) = small[name], large[name]
        print(f"{name:<24}{sp50:>10.1f}{sp95:>8.1f}{lp50:>11.1f}{lp95:>8.1f}{lp95 / sp95:>17.2f}")
    print(f"(ms; {args.small:,} and {args.large:,} steps, {args.n} requests each; target: large p95 ≤ 300, ratio ≤ 3)")


if __name__ == "__main__":
    main()
