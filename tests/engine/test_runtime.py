"""Driving instances through the runtime API with a frozen clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from app.audit.models import AuditEntry
from app.db import transaction
from app.engine import (
    Actor,
    Conflict,
    FormError,
    claim,
    complete,
    delegate,
    deploy,
    fire_due_timers,
    inbox,
    instance_state,
    on,
    release,
    start,
)
from app.engine.models import HumanTask, ProcessInstance, TaskEvent
from app.engine.registry import off
from app.extensions import db
from tests.engine.conftest import T0
from tests.engine.helpers import count, events, ready_tasks, snapshot, timers

REVIEWER = Actor(user_id=7, department_id=20, roles=frozenset({"reviewer"}), name="reviewer7")
OTHER_REVIEWER = Actor(user_id=8, department_id=20, roles=frozenset({"reviewer"}), name="reviewer8")
REQUESTER = Actor(user_id=3, department_id=10, roles=frozenset({"requester"}), name="requester3")
OUTSIDER = Actor(user_id=9, department_id=30, roles=frozenset({"reviewer"}), name="outsider")

DATA = {"requester_department_id": 10, "reviewer_department_id": 20, "office_department_id": 1,
        "replier_department_id": 20}


@pytest.fixture()
def approval(app, bpmn, frozen):
    deploy(bpmn("approval.bpmn"))
    return start("engine_approval", "APP-1", DATA, REQUESTER)


def test_start_mirrors_ready_task_with_group_from_lane(approval):
    inst = approval
    assert inst.status == "running" and inst.version == 1
    [task] = ready_tasks(inst.id)
    assert (task.task_spec, task.name, task.lane, task.form) == ("review", "审核申请", "审核方", "review_form")
    assert (task.candidate_department_id, task.candidate_role) == (20, "reviewer")
    assert task.assignee_id is None and task.sla_state == "on_time"
    assert events(inst.id) == ["instance_started", "started"]
    assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "engine.instance_started"
    # state is stored without the spec
    assert '"spec"' not in inst.state and "engine_approval" not in inst.state.split('"tasks"')[0]


def test_inbox_queries_follow_claim_release_delegate(approval):
    [task] = ready_tasks(approval.id)
    ids = lambda q: [t.id for t in db.session.scalars(q)]  # noqa: E731
    assert ids(inbox.my_groups(REVIEWER)) == [task.id]
    assert ids(inbox.my_groups(OUTSIDER)) == []      # same role, other department
    assert ids(inbox.my_groups(REQUESTER)) == []     # same process, other lane

    claim(task.id, REVIEWER)
    assert ids(inbox.mine(REVIEWER)) == [task.id]
    assert ids(inbox.my_groups(OTHER_REVIEWER)) == []
    with pytest.raises(Conflict):
        claim(task.id, OTHER_REVIEWER)

    release(task.id, REVIEWER)
    assert ids(inbox.mine(REVIEWER)) == []
    assert ids(inbox.my_groups(OTHER_REVIEWER)) == [task.id]

    delegate(task.id, OTHER_REVIEWER.user_id, REVIEWER, note="请代办")
    assert ids(inbox.mine(OTHER_REVIEWER)) == [task.id]
    assert events(approval.id)[-3:] == ["claimed", "released", "delegated"]
    last = db.session.scalar(select(TaskEvent).order_by(TaskEvent.id.desc()))
    assert last.data == {"from": None, "to": 8, "note": "请代办"} and last.actor_id == 7


def test_form_errors_change_nothing(approval):
    [task] = ready_tasks(approval.id)
    before = snapshot(approval.id)
    with pytest.raises(FormError) as err:
        complete(task.id, {"approved": False}, REVIEWER)
    assert err.value.errors == {"comment": ["不同意时必须填写理由"]}
    with pytest.raises(FormError) as err:
        complete(task.id, {}, REVIEWER)
    assert "approved" in err.value.errors
    assert snapshot(approval.id) == before


def test_approve_runs_service_verb_and_completes(approval):
    [task] = ready_tasks(approval.id)
    done = complete(task.id, {"approved": True, "comment": "同意", "ignored": "x"}, REVIEWER,
                    expected_version=1)
    inst = db.session.get(ProcessInstance, approval.id)
    assert inst.status == "completed" and inst.version == 2 and inst.completed_at is not None
    assert done.state == "completed" and done.completed_by == 7
    assert done.completion_data == {"approved": True, "comment": "同意"}
    view = instance_state(inst.id)
    assert view.open_tasks == []
    assert view.data["noted"] == {"outcome": "approved", "comment": "同意", "business_key": "APP-1"}
    assert "ignored" not in view.data                      # only cleaned form data enters the flow
    assert [e.event_type for e in view.history][-2:] == ["instance_completed", "completed"]
    assert [t.id for t in db.session.scalars(inbox.done(REVIEWER))] == [task.id]


def test_refuse_routes_to_other_lane(approval):
    [task] = ready_tasks(approval.id)
    complete(task.id, {"approved": False, "comment": "材料不全"}, REVIEWER)
    [amend] = ready_tasks(approval.id)
    assert (amend.task_spec, amend.candidate_department_id, amend.candidate_role) == ("amend", 10, "requester")
    assert [t.id for t in db.session.scalars(inbox.my_groups(REQUESTER))] == [amend.id]


def test_complete_twice_or_stale_version_conflicts(approval):
    [task] = ready_tasks(approval.id)
    with pytest.raises(Conflict):
        complete(task.id, {"approved": True}, REVIEWER, expected_version=5)
    complete(task.id, {"approved": True}, REVIEWER)
    before = snapshot(approval.id)
    with pytest.raises(Conflict):
        complete(task.id, {"approved": True}, REVIEWER)
    with pytest.raises(Conflict):
        claim(task.id, REVIEWER)
    assert snapshot(approval.id) == before


def test_business_key_is_unique(approval):
    with pytest.raises(Conflict):
        start("engine_approval", "APP-1", DATA, REQUESTER)
    assert count(ProcessInstance) == 1


# ---------------------------------------------------------------- SLA and timers

@pytest.fixture()
def sla_instance(app, bpmn, frozen):
    deploy(bpmn("sla.bpmn"))
    return start("engine_sla", "SLA-1", DATA, REQUESTER)


def test_task_due_and_reminder_are_mirrored(sla_instance):
    [task] = ready_tasks(sla_instance.id)
    assert task.due_at.replace(tzinfo=None) == (T0 + timedelta(days=3)).replace(tzinfo=None)
    assert task.reminder_at.replace(tzinfo=None) == (T0 + timedelta(days=2)).replace(tzinfo=None)
    kinds = {(t.task_spec, t.kind, t.attached_to, t.state) for t in timers(sla_instance.id)}
    assert kinds == {("reply_reminder", "reminder", "reply", "waiting"),
                     ("reply_escalation", "escalation", "reply", "waiting")}


def test_reminder_fires_at_its_instant_not_before(sla_instance, frozen):
    fired_hook = []
    hook = on("timer_fired", lambda timer, instance, kind, tasks: fired_hook.append((kind, [t.id for t in tasks])))
    try:
        frozen.move_to(T0 + timedelta(days=2) - timedelta(seconds=1))
        assert fire_due_timers(worker_id="w1") == 0
        [task] = ready_tasks(sla_instance.id)
        assert task.sla_state == "on_time"

        frozen.move_to(T0 + timedelta(days=2))  # exactly at its instant
        assert fire_due_timers(worker_id="w1") == 1
        assert fire_due_timers(worker_id="w1") == 0      # never twice
        db.session.expire_all()
        [task] = ready_tasks(sla_instance.id)
        assert task.sla_state == "due_soon"
        assert fired_hook == [("reminder", [task.id])]
        states = {t.task_spec: (t.state, t.claimed_by) for t in timers(sla_instance.id)}
        assert states == {"reply_reminder": ("fired", "w1"), "reply_escalation": ("waiting", None)}
        assert events(sla_instance.id)[-2:] == ["timer_fired", "reminded"]
    finally:
        off("timer_fired", hook)


def test_escalation_marks_overdue_and_opens_supervision(sla_instance, frozen):
    frozen.move_to(T0 + timedelta(days=3, seconds=1))
    assert fire_due_timers() == 2                         # reminder and escalation both due
    db.session.expire_all()
    tasks = {t.task_spec: t for t in ready_tasks(sla_instance.id)}
    assert set(tasks) == {"reply", "supervise"}           # the original task stays open
    assert tasks["reply"].sla_state == "overdue"
    assert (tasks["supervise"].candidate_department_id, tasks["supervise"].candidate_role) == (1, "supervisor")
    assert "escalated" in events(sla_instance.id)
    office = Actor(user_id=1, department_id=1, roles=frozenset({"supervisor"}))
    assert [t.task_spec for t in db.session.scalars(inbox.overdue())] == ["reply"]
    assert [t.task_spec for t in db.session.scalars(inbox.my_groups(office))] == ["supervise"]

    complete(tasks["reply"].id, {"answer": "已答复"}, REVIEWER)
    assert [t.task_spec for t in ready_tasks(sla_instance.id)] == ["supervise"]
    complete(tasks["supervise"].id, {}, office)
    assert db.session.get(ProcessInstance, sla_instance.id).status == "completed"


def test_completing_task_cancels_its_boundary_timers(sla_instance):
    [task] = ready_tasks(sla_instance.id)
    complete(task.id, {}, REVIEWER)
    assert {t.state for t in timers(sla_instance.id)} == {"cancelled"}
    assert fire_due_timers() == 0


def test_refresh_sla_states_from_mirror(sla_instance, frozen):
    from app.engine import refresh_sla_states

    frozen.move_to(T0 + timedelta(days=2, seconds=1))
    assert refresh_sla_states() == 1
    assert ready_tasks(sla_instance.id)[0].sla_state == "due_soon"
    assert refresh_sla_states() == 0
    frozen.move_to(T0 + timedelta(days=3, seconds=1))
    assert refresh_sla_states() == 1
    db.session.expire_all()
    assert ready_tasks(sla_instance.id)[0].sla_state == "overdue"
    assert events(sla_instance.id)[-2:] == ["sla_changed", "sla_changed"]


def test_move_timer_reschedules(sla_instance, frozen):
    from app.engine import move_timer

    reminder = next(t for t in timers(sla_instance.id) if t.kind == "reminder")
    move_timer(reminder.id, T0 + timedelta(days=5), reason="法定节假日顺延")
    frozen.move_to(T0 + timedelta(days=2, hours=1))
    assert fire_due_timers() == 0
    frozen.move_to(T0 + timedelta(days=5, seconds=1))
    fire_due_timers()
    db.session.expire_all()
    assert db.session.get(type(reminder), reminder.id).state == "fired"
    assert "timer_moved" in events(sla_instance.id)


def test_cancel_withdraws_tasks_and_timers(sla_instance):
    from app.engine import cancel

    cancel(sla_instance.id, REQUESTER, reason="申请人撤回")
    inst = db.session.get(ProcessInstance, sla_instance.id)
    assert inst.status == "cancelled"
    assert ready_tasks(inst.id) == []
    assert {t.state for t in timers(inst.id)} == {"cancelled"}
    assert events(inst.id)[-1] == "instance_cancelled"
    with pytest.raises(Conflict):
        cancel(inst.id, REQUESTER)


# ---------------------------------------------------------------- one transaction per step

def test_failing_service_verb_leaves_no_trace(app, bpmn, frozen):
    deploy(bpmn("service_fail.bpmn"))
    inst = start("engine_service_fail", "FAIL-1", DATA, REQUESTER)
    [task] = ready_tasks(inst.id)
    before = snapshot(inst.id)
    with pytest.raises(RuntimeError, match="服务动作失败"):
        complete(task.id, {"note": "x"}, REVIEWER)
    assert snapshot(inst.id) == before
    # the first verb's domain effect (an audit row) was rolled back with everything else
    assert count(AuditEntry, AuditEntry.action == "test.effect") == 0
    assert db.session.get(HumanTask, task.id).state == "ready"


def test_failing_timer_path_is_parked_not_half_applied(app, bpmn, frozen):
    deploy(bpmn("service_fail.bpmn"))
    register = on("timer_fired", lambda **kw: (_ for _ in ()).throw(RuntimeError("hook boom")))
    try:
        inst = start("engine_service_fail", "FAIL-2", DATA, REQUESTER)
        before = snapshot(inst.id)
        frozen.move_to(T0 + timedelta(days=1, seconds=1))
        assert fire_due_timers() == 0
        after = snapshot(inst.id)
        assert (after["state"], after["version"], after["tasks"]) == (before["state"], before["version"], before["tasks"])
        assert [t.state for t in timers(inst.id)] == ["error"]
        assert events(inst.id)[-1] == "timer_error"
    finally:
        off("timer_fired", register)


def test_hook_exception_aborts_step(approval):
    [task] = ready_tasks(approval.id)
    before = snapshot(approval.id)

    def refuse(**_):
        raise PermissionError("通知失败")

    on("task_completed", refuse)
    try:
        with pytest.raises(PermissionError):
            complete(task.id, {"approved": True}, REVIEWER)
    finally:
        off("task_completed", refuse)
    assert snapshot(approval.id) == before


def test_task_created_hook_sees_new_rows(app, bpmn, frozen):
    seen = []
    hook = on("task_created", lambda task, instance: seen.append((task.task_spec, task.id is not None, instance.business_key)))
    try:
        deploy(bpmn("approval.bpmn"))
        start("engine_approval", "APP-H", DATA, REQUESTER)
    finally:
        off("task_created", hook)
    assert seen == [("review", True, "APP-H")]


def test_a_step_writes_its_rows_itself_and_leaves_the_session_clean(approval):
    """Mirror, history and audit rows go through Core (app/engine/rows.py); the session's
    objects match the database and the ORM has nothing left to flush."""
    [task] = ready_tasks(approval.id)
    created = []
    callback = on("task_created", lambda task, instance: created.append(task))
    with transaction():  # the step joins it; what it wrote is read before the commit
        try:
            complete(task.id, {"approved": False, "comment": "补正"}, REVIEWER, commit=False)
        finally:
            off("task_created", callback)
        assert not db.session.new and not db.session.dirty
        [amend] = created
        assert inspect(amend).persistent and amend in db.session and amend.task_spec == "amend"
        assert db.session.get(HumanTask, amend.id) is amend
        stored = db.session.connection().execute(
            select(HumanTask.__table__.c.state, HumanTask.__table__.c.completed_by)
            .where(HumanTask.__table__.c.id == task.id)).one()
        assert tuple(stored) == ("completed", 7)
    db.session.expire_all()
    assert [t.task_spec for t in ready_tasks(approval.id)] == ["amend"]
    assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "engine.task_completed"


def test_instance_moved_between_load_and_write_is_a_conflict_with_nothing_written(approval, monkeypatch):
    import app.engine.runtime as runtime

    [task] = ready_tasks(approval.id)
    before = snapshot(approval.id)
    real_load = runtime.load_for_completion

    def load_then_someone_else_writes(task_id):
        loaded = real_load(task_id)
        db.session.connection().execute(ProcessInstance.__table__.update()
                                        .where(ProcessInstance.__table__.c.id == approval.id)
                                        .values(version=ProcessInstance.__table__.c.version + 1))
        return loaded

    monkeypatch.setattr(runtime, "load_for_completion", load_then_someone_else_writes)
    with pytest.raises(Conflict):
        complete(task.id, {"approved": True}, REVIEWER)
    assert snapshot(approval.id) == before
