"""The row batch: queued writes store what SQLAlchemy would store, are seen by every later
reader in the transaction, go out with the commit that transaction() makes and vanish with a
rollback."""
from __future__ import annotations

from datetime import datetime, timezone
from itertools import pairwise

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from app.audit.log import verify_chain
from app.audit.models import AuditEntry
from app.db.rowbatch import CHECKED_SQLALCHEMY, attach, batch, persistent
from app.engine.models import HumanTask, ProcessDefinition, ProcessInstance
from app.extensions import db
from tests.factories import commit

AT = datetime(2026, 11, 23, 1, 2, 3, 456789, tzinfo=timezone.utc)


def _instance() -> int:
    definition = ProcessDefinition(process_id="p", version=1, bpmn_xml="<x/>", content_hash="h" * 64)
    db.session.add(definition)
    db.session.flush()
    inst = ProcessInstance(definition_id=definition.id, process_id="p", business_key="K-1",
                           state="{}", version=1)
    db.session.add(inst)
    commit()
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
    commit()
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


def test_the_installed_sqlalchemy_is_the_one_the_batch_was_checked_against():
    # attach() and persistent() use SQLAlchemy internals: read them against the new release
    # (orm/loading.py, orm/state.py, orm/identity.py), then update CHECKED_SQLALCHEMY.
    import sqlalchemy

    assert sqlalchemy.__version__ == CHECKED_SQLALCHEMY


def test_a_commit_around_transaction_with_rows_queued_is_refused(app):
    instance_id = _instance()
    batch(db.session).insert(HumanTask.__table__, _task_values(instance_id))
    with pytest.raises(RuntimeError, match="transaction"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0


def test_audit_rows_of_a_rolled_back_transaction_are_never_chained(app):
    from app.audit.log import record

    record("test.rolled_back", "thing", 1)
    with pytest.raises(RuntimeError, match="audit"):
        db.session.commit()  # around transaction(): the rows would be lost, so refused
    db.session.rollback()
    record("test.kept", "thing", 2)
    commit()
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("test.%"))).all()
    assert actions == ["test.kept"]
    assert verify_chain()[1] == []


def test_commit_sends_what_is_still_queued(app):
    instance_id = _instance()
    batch(db.session).insert(HumanTask.__table__, [_task_values(instance_id),
                                                   _task_values(instance_id, spiff_task_id="t-2")])
    commit()
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


def _queue_a_task_then_a_duplicate_key(instance_id: int):
    out = batch(db.session)
    out.insert(HumanTask.__table__, _task_values(instance_id))
    out.insert(ProcessInstance.__table__, {"definition_id": 1, "process_id": "p",
                                           "business_key": "K-1", "state": "{}"})
    return out


def test_a_failing_statement_raises_the_sqlalchemy_error_and_nothing_is_kept(app):
    instance_id = _instance()
    out = _queue_a_task_then_a_duplicate_key(instance_id)
    with pytest.raises(IntegrityError):
        out.send()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0


def test_persistent_reuses_the_session_object_and_builds_loaded_ones(app):
    instance_id = _instance()
    loaded = db.session.get(ProcessInstance, instance_id)
    assert persistent(db.session, ProcessInstance, {"id": instance_id}) is loaded
    commit()  # expires `loaded`: its columns come from the values given
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
    commit()
    db.session.expunge_all()
    assert db.session.get(HumanTask, result.ids[0]).name == "复核"


def test_audit_rows_chain_through_the_batch(app):
    from app.audit.log import record

    for n in range(3):
        record("test.batched", "thing", n)
        commit()
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
    commit()
    log.record("test.quotes_the_mark", "thing", 3, after={"text": log._PREV_MARK})
    commit()
    log.record("test.after_fallback", "thing", 4, after={"ok": True})
    commit()
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [r.action for r in rows[-4:]] == ["test.awkward", "test.second_in_one_commit",
                                             "test.quotes_the_mark", "test.after_fallback"]
    for prev, row in pairwise(rows):
        assert row.prev_hash == prev.hash
        assert row.hash == log._digest(vars(row))
    assert verify_chain() == (len(rows), [])


def test_a_write_failing_at_commit_fails_the_commit_and_keeps_nothing(app):
    instance_id = _instance()
    _queue_a_task_then_a_duplicate_key(instance_id)
    with pytest.raises(IntegrityError):
        commit()  # the queued writes travel with the COMMIT
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 0
    batch(db.session).insert(HumanTask.__table__, _task_values(instance_id))
    commit()  # the session and its connection work on
    assert db.session.scalar(select(func.count()).select_from(HumanTask)) == 1
