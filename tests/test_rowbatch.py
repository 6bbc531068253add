"""The row batch: queued writes store what SQLAlchemy would store, are seen by every later
reader in the transaction, go out with the commit and vanish with a rollback."""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import pairwise

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.audit.log import verify_chain
from app.audit.models import AuditEntry
from app.engine.models import HumanTask, ProcessDefinition, ProcessInstance
from app.extensions import db
from app.rowbatch import attach, batch, persistent

AT = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=timezone.utc)


def _instance() -> int:
    definition = ProcessDefinition(process_id="p", version=1, bpmn_xml="<x/>", content_hash="h" * 64)
    db.session.add(definition)
    db.session.flush()
    inst = ProcessInstance(definition_id=definition.id, process_id="p", business_key="K-1",
                           state="{}", version=1)
    db.session.add(inst)
    db.session.commit()
    return inst.id


def _task_values(instance_id: int, **extra) -> dict:
    return {"instance_id": instance_id, "spiff_task_id": "t-1", "task_spec": "review",
            "name": "审核", "created_at": AT, "completion_data": {"意见": "同意", "n": [1, 2]},
            **extra}


def test_batched_rows_read_back_like_orm_rows(app):
    instance_id = _instance()
    out = batch(db.session)
    result = out.insert(HumanTask.__table__, _task_values(instance_id), returning_ids=True)
    # Core insert of the same values, for comparison.
    core_id = db.session.execute(insert(HumanTask.__table__).values(
        **_task_values(instance_id, spiff_task_id="t-2")).returning(HumanTask.id)).scalar()
    db.session.commit()
    db.session.expunge_all()
    ours, theirs = (db.session.get(HumanTask, result.ids[0]), db.session.get(HumanTask, core_id))
    for column in HumanTask.__table__.columns:
        if column.key not in ("id", "spiff_task_id"):
            assert getattr(ours, column.key) == getattr(theirs, column.key), column.key
    assert ours.state == "ready" and ours.sla_state == "on_time"  # Python-side defaults
    assert ours.completion_data == {"意见": "同意", "n": [1, 2]}


def test_a_later_statement_sees_queued_writes_and_rollback_drops_them(app):
    instance_id = _instance()
    batch(db.session).insert(HumanTask.__table__, _task_values(instance_id))
    count = select(func.count()).select_from(HumanTask)
    assert db.session.scalar(count) == 1  # sent before the SELECT ran
    batch(db.session).insert(HumanTask.__table__, _task_values(instance_id, spiff_task_id="t-2"))
    db.session.rollback()
    assert db.session.scalar(count) == 0


def test_commit_sends_what_is_still_queued(app):
    instance_id = _instance()
    batch(db.session).insert(HumanTask.__table__, [_task_values(instance_id),
                                                   _task_values(instance_id, spiff_task_id="t-2")])
    db.session.commit()
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 2


def test_update_check_sees_the_rowcount(app):
    instance_id = _instance()
    out = batch(db.session)
    seen = []
    out.update(ProcessInstance.__table__, {"version": 2}, {"id": instance_id, "version": 1},
               check=seen.append)
    out.update(ProcessInstance.__table__, {"version": 3}, {"id": instance_id, "version": 1},
               check=seen.append)
    out.send()
    assert seen == [1, 0]


def test_a_failing_statement_raises_the_sqlalchemy_error_and_nothing_is_kept(app):
    instance_id = _instance()
    out = batch(db.session)
    out.insert(HumanTask.__table__, _task_values(instance_id))
    out.insert(ProcessInstance.__table__, {"definition_id": 1, "process_id": "p",
                                           "business_key": "K-1", "state": "{}"})  # duplicate key
    with pytest.raises(IntegrityError):
        out.send()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0


def test_persistent_reuses_the_session_object_and_builds_loaded_ones(app):
    instance_id = _instance()
    loaded = db.session.get(ProcessInstance, instance_id)
    assert persistent(db.session, ProcessInstance, {"id": instance_id}) is loaded
    db.session.commit()  # expires `loaded`: its columns come from the values given
    values = {c.key: getattr(loaded, c.key) for c in ProcessInstance.__table__.columns}
    db.session.expire(loaded)
    assert persistent(db.session, ProcessInstance, {**values, "business_key": "K-9"}) is loaded
    assert loaded.business_key == "K-9"
    db.session.expunge_all()
    fresh = persistent(db.session, ProcessInstance, values)
    assert fresh in db.session and fresh.id == instance_id and not db.session.dirty
    assert fresh.definition.content_hash == "h" * 64  # relationships load as usual


def test_attach_makes_a_written_object_persistent_and_tracks_later_changes(app):
    instance_id = _instance()
    task = HumanTask(**_task_values(instance_id))
    result = batch(db.session).insert(HumanTask.__table__, _task_values(instance_id), returning_ids=True)
    batch(db.session).send()
    task.id = result.ids[0]
    attach(db.session, task)
    assert task in db.session and task not in db.session.new and not db.session.dirty
    assert db.session.get(HumanTask, task.id) is task  # in the identity map, no SELECT needed
    with pytest.raises(ValueError):
        attach(db.session, task)
    task.name = "复核"  # an ordinary ORM change afterwards is flushed as an UPDATE
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(HumanTask, result.ids[0]).name == "复核"


def test_audit_rows_chain_through_the_batch(app):
    from app.audit.log import record

    for n in range(3):
        record("test.batched", "thing", n)
        db.session.commit()
    checked, problems = verify_chain()
    assert checked == db.session.scalar(select(func.count()).select_from(AuditEntry)) >= 3
    assert problems == []


def test_audit_rows_chained_by_the_server_hash_like_python(app):
    # On PostgreSQL the INSERT computes prev_hash and hash itself; `verify_chain` recomputes
    # every hash in Python, so awkward content (quotes, backslashes, newlines, CJK, emoji,
    # nesting, nulls) must hash to the same bytes on both sides. A row quoting the
    # placeholder the server path splits on falls back to the Python path, mid-chain.
    from app.audit import log

    awkward = {"意见": '不同意："材料不全"\\补正', "多行": "第一行\n第二行\t", "emoji": "😀",
               "嵌套": {"b": [1, None, 2.5, True], "a": {"空": None}}, "零宽": "a\u200bb"}
    log.record("test.awkward", "thing", "甲", before={"n": 1}, after=awkward, actor_name="测试")
    log.record("test.second_in_one_commit", "thing", 2, after={"list": [awkward]})
    db.session.commit()
    log.record("test.quotes_the_mark", "thing", 3, after={"text": log._PREV_MARK})
    db.session.commit()
    log.record("test.after_fallback", "thing", 4, after={"ok": True})
    db.session.commit()
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [r.action for r in rows[-4:]] == ["test.awkward", "test.second_in_one_commit",
                                             "test.quotes_the_mark", "test.after_fallback"]
    for prev, row in pairwise(rows):
        assert row.prev_hash == prev.hash
        assert row.hash == log._digest(vars(row))
    assert verify_chain() == (len(rows), [])


def _two_statements(instance_id: int, tag: str) -> None:
    out = batch(db.session)  # two statements: one multi-statement query with prepared ones
    out.insert(HumanTask.__table__, _task_values(instance_id, spiff_task_id=f"t-{tag}"))
    out.update(ProcessInstance.__table__, {"summary": {"tag": tag}}, {"id": instance_id})
    out.send()


def test_prepared_statements_survive_the_drivers_deallocate_all_on_rollback(app):
    # psycopg answers the rollback of an open transaction with DEALLOCATE ALL once it has
    # prepared statements of its own; the batch must notice and prepare its own again. The
    # DEALLOCATE is issued here directly, so the test does not hang on psycopg's cache state.
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's")
    from sqlalchemy import text

    db.engine.dispose()  # one pooled connection: prepared statements belong to a connection
    instance_id = _instance()
    ours = text("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'rowbatch%'")
    for n in range(2):
        _two_statements(instance_id, str(n))
        assert db.session.scalar(ours) >= 2
        db.session.connection().connection.dbapi_connection.execute("DEALLOCATE ALL")
        db.session.rollback()
        assert db.session.scalar(ours) == 0
    _two_statements(instance_id, "kept")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 1
    assert db.session.get(ProcessInstance, instance_id).summary == {"tag": "kept"}


def test_a_write_failing_at_commit_fails_the_commit_and_keeps_nothing(app):
    instance_id = _instance()
    out = batch(db.session)
    out.insert(HumanTask.__table__, _task_values(instance_id))
    out.insert(ProcessInstance.__table__, {"definition_id": 1, "process_id": "p",
                                           "business_key": "K-1", "state": "{}"})  # duplicate key
    with pytest.raises(IntegrityError):
        db.session.commit()  # the queued writes travel with the COMMIT
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0
    batch(db.session).insert(HumanTask.__table__, _task_values(instance_id))
    db.session.commit()  # the session and its connection work on
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 1
