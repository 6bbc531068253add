"""`flask audit prune`: entries older than the retention period may go — never younger ones
(宝鸡 art. 21: logs kept at least 3 years; the profile's `log_retention_years`) — and the chain
stays verifiable from the first entry left. On a frozen clock."""
from datetime import datetime

import time_machine
from sqlalchemy import func, select, text

from app.audit.log import record
from app.audit.models import AuditAnchor, AuditEntry
from app.clock import LOCAL_TZ
from app.db import transaction
from app.extensions import db
from tests.factories import commit

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=LOCAL_TZ)


def entry_at(when: datetime, action: str) -> None:
    with time_machine.travel(when, tick=False), transaction():
        record(action, "test", action)


def count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(AuditEntry))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def history(app):
    """Entries from 2022 and 2023, then today's: the log's oldest run is the old ones."""
    db.session.execute(text("DELETE FROM audit_entry"))  # a log that starts in 2022
    commit()
    entry_at(datetime(2022, 3, 1, 9, 0, tzinfo=LOCAL_TZ), "old.2022")
    entry_at(datetime(2023, 6, 1, 9, 0, tzinfo=LOCAL_TZ), "old.2023")
    entry_at(datetime(2023, 12, 5, 9, 0, tzinfo=LOCAL_TZ), "kept.2023")
    entry_at(NOW, "today")


def test_nothing_inside_the_retention_period_is_deleted(app, city, runner, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "baoji")  # 3 years (art. 21): keep from 2023-12-04
    history(app)
    with time_machine.travel(NOW, tick=False):
        refused = runner.invoke(args=["audit", "prune", "--before", "2024-01-01", "--yes"])
    assert refused.exit_code == 1
    assert "至少保存 3 年" in refused.output and "2023-12-04 之前" in refused.output
    assert count() == 4
    bad = runner.invoke(args=["audit", "prune", "--before", "2023-02-30"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output


def test_older_entries_go_after_confirmation_and_the_chain_still_verifies(app, city, runner, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "baoji")
    history(app)
    with time_machine.travel(NOW, tick=False):
        asked = runner.invoke(args=["audit", "prune", "--before", "2023-12-01"], input="n\n")
        assert asked.exit_code == 1 and "将永久删除 2 条" in asked.output
        assert count() == 4  # declined: nothing changed
        done = runner.invoke(args=["audit", "prune", "--before", "2023-12-01"], input="y\n")
    assert done.exit_code == 0, done.output
    assert "已删除 2 条" in done.output
    assert actions() == ["kept.2023", "today", "audit.pruned"]
    anchor = db.session.scalars(select(AuditAnchor)).one()
    assert anchor.pruned_rows == 2
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "共 3 条记录" in verified.output, verified.output
    # the anchor does not hide tampering with what is left
    first = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
    db.session.execute(text("UPDATE audit_entry SET actor_name = 'mallory' WHERE id = :i"), {"i": first.id})
    commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 1


def test_a_city_keeping_five_years_keeps_what_baoji_could_prune(app, city, runner, monkeypatch):
    from dataclasses import replace

    from app.policy import cli as policy_cli

    history(app)
    policy = policy_cli.active_policy()
    monkeypatch.setattr(policy_cli, "active_policy", lambda: replace(policy, log_retention_years=5))
    with time_machine.travel(NOW, tick=False):
        refused = runner.invoke(args=["audit", "prune", "--before", "2023-01-01", "--yes"])
    assert refused.exit_code == 1 and "2021-12-04 之前" in refused.output
    assert count() == 4


def test_pruning_everything_old_keeps_the_newest_entry_and_the_chain(app, city, runner, monkeypatch):
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "baoji")
    db.session.execute(text("DELETE FROM audit_entry"))
    commit()
    entry_at(datetime(2022, 3, 1, 9, 0, tzinfo=LOCAL_TZ), "old.1")
    entry_at(datetime(2022, 4, 1, 9, 0, tzinfo=LOCAL_TZ), "old.2")
    with time_machine.travel(NOW, tick=False):
        done = runner.invoke(args=["audit", "prune", "--before", "2023-01-01", "--yes"])
    assert done.exit_code == 0 and "已删除 1 条" in done.output, done.output
    assert actions() == ["old.2", "audit.pruned"]
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_an_anchor_nobody_audited_does_not_hide_a_deleted_stretch(app, city, runner):
    history(app)
    ids = list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))
    kept = db.session.get(AuditEntry, ids[1])
    # someone with database access deletes the first entry and plants an anchor to cover it
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[0]})
    db.session.add(AuditAnchor(pruned_at=NOW, before=NOW, pruned_rows=1, last_id=ids[0],
                               last_hash=kept.prev_hash, actor_name="mallory"))
    commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and "清理锚点没有对应的审计记录" in bad.output
