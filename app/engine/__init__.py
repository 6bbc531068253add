"""Generic BPMN workflow engine (SpiffWorkflow 3.2) — knows nothing about data sharing.

Process logic lives in BPMN; this package deploys, runs and persists it. The product plugs in
script functions, service verbs, forms and hooks, then drives instances through the runtime API.

Registration (call at import time of the product's flow package)
----------------------------------------------------------------
    register_script_function(name, fn)      # callable from every BPMN expression
    register_service(name, fn)              # service-task verb: fn(ctx: ServiceContext, **params)
    register_form(name, validate)           # validate(data) -> cleaned dict | raise FormError
    on(event, callback) / on_task_created(cb) / on_task_completed(cb) /
        on_timer_fired(cb) / on_instance_completed(cb)
    register_engine(app)                    # CLI groups + scheduler (from create_app)

Definitions
-----------
    deploy(xml_bytes | xml_str | path, deployed_by=None, file_name=None, commit=True)
        -> ProcessDefinition        # new version, or the existing row for identical content
    deploy_directory(dir, files=None) -> [(file, "deployed"|"unchanged"|"failed", row, error)]
    ensure_deployed(app)            # deploy new/changed BPMN_DIR/*.bpmn, log failures
    latest_definition(process_id) -> ProcessDefinition | None
    `flask bpmn deploy [FILE…]`, `flask bpmn list`, `flask bpmn verify`

`deploy` raises DeployError (message in Chinese, `.element_id`, `.line`) and stores nothing
when the XML is malformed or invalid BPMN, when it carries code (script tasks, pre/post
scripts, DMN business-rule tasks: BPMN carries no code), when an expression is not in the
expression language (app/engine/expressions.py: constants, data names, comparisons, and/or/not,
`x[k]`, `x.get(k)`, `+`/`-`, calls of registered functions — nothing else) or calls an
unregistered function, when a service task names an unregistered verb, or a user task an
unregistered form. So: register first, deploy after. A stored version is checked again when
first loaded and at start-up (`verify_stored`, `flask bpmn verify`); one that fails raises
DefinitionRefused (HTTP 503) and never runs.

Runtime (each call is ONE transaction: commits on success, rolls the session back on any
exception — workflow state, mirrors, timers, verb effects, hooks and audit rows together;
pass commit=False to compose with the caller's own transaction, which the caller commits)
-----------------------------------------------------------------------------------------
    Actor(user_id, department_id=None, roles=frozenset(), name=None)   # Actor.system()
    start(process_id, business_key, data=None, actor=None, *, summary=None,
          definition=None, commit=True) -> ProcessInstance
    complete(task_id | loaded, data, actor, expected_version=None, *, commit=True) -> HumanTask
        # loaded = load_for_completion(task_id) in the caller's unit: check it, then complete
        # FormError → nothing changed; Conflict (HTTP 409) if the task is no longer ready or
        # the instance version moved (optimistic lock: UPDATE … WHERE version = :seen)
    claim(task_id, actor) / release(task_id, actor) / delegate(task_id, to_user_id, actor, note=None)
    cancel(instance_id, actor, reason=None) -> ProcessInstance    # a suspended one too
    suspend / resume(instance_id, actor, reason) -> ProcessInstance  # held: no task worked, no timer fired
    move_timer(timer_id, due_at, actor=None, reason=None) -> WorkflowTimer   # legal-time recompute
    update_task_due(task_id, due_at, reminder_at=None) -> HumanTask
    instance_state(instance_id) -> InstanceView(instance, open_tasks, timers, history, data)
    instance_by_key(business_key) -> ProcessInstance | None
    fire_due_timers(now=None, worker_id=None, limit=100) -> int    # scheduler job
    refresh_sla_states(now=None) -> int                             # scheduler job
    retry_timer(timer_id)                                           # un-park a failed timer
    inbox.mine(actor) / inbox.my_groups(actor) / inbox.due_soon(actor=None, now=None) /
        inbox.overdue(actor=None, now=None) / inbox.done(actor) / inbox.for_instance(id)
        -> Select[HumanTask]; inbox.visible_condition(actor) for your own queries
    current_instance() / current_instant()   # in a script function: the step's instance / instant
    once_per_step(key, compute)              # a script function's answer, once per step and key
    ctx.at_step_end(fn)                      # in a verb: fn() once the step's run is over
The engine never checks permissions: the caller decides who may claim/complete/delegate.
Errors: NotFound, Conflict, FormError(errors: dict[str, list[str]]), ScriptError, DeployError,
DefinitionRefused, StepLimitExceeded (a step ran more than ENGINE_MAX_TASKS_PER_STEP engine tasks: a BPMN cycle
without a wait; rolled back) — all EngineError; an exception raised by a service verb or hook
propagates unchanged.

BPMN conventions (spiffworkflow:properties on the element unless noted)
-----------------------------------------------------------------------
    userTask  form="name"                     registered form validating the completion data
              candidate_department="expr"     expression over task data → department id (int)
              candidate_role="role"           literal role name
              due="expr" / reminder="expr"    expressions → ISO instant (e.g. deadline('x'));
                                              mirrored as due_at / reminder_at
    lane      candidate_department / candidate_role properties in the lane's
              extensionElements = the lane→(department, role) mapping; a task's own
              property wins. lane name is copied to HumanTask.lane.
    serviceTask  spiffworkflow:serviceTaskOperator id="verb" resultVariable="var" with
              parameters (value = expression); the verb's JSON-able return lands in `var`.
    boundary timer (non-interrupting, timeDate expr e.g. reminder('x') / deadline('x'))
              sla_event="reminder"   → on firing, a 'reminded' event (due soon is the product's
                                       rule, register_due_soon_rule; without one, the reminder
                                       instant marks the task due soon)
              sla_event="escalation" → on firing, attached task stays open, sla_state overdue,
                                       'escalated' event; the boundary's outgoing path (e.g. a
                                       督办 user task) is created as usual.
    userTask  ends_with_escalated_step="true" (on a 督办): cancelled, with its own timers, once
              the step whose escalation led to it has completed or been cancelled.
    Timer expressions must yield aware ISO-8601 instants (naive ones are read in server time).
    One executable process per file; call activities must target processes in the same file.

Hooks (run inside the step's transaction, after its rows are flushed so ids exist; raise to
abort the step — everything rolls back)
------------------------------------------------------------------
    instance_started(instance, actor)         instance_completed(instance)
    instance_cancelled(instance, actor, reason)
    task_created(task, instance)              task_completed(task, instance, actor)
    task_cancelled(task, instance)
    task_claimed / task_released / task_delegated(task, actor, previous_assignee)
    timer_fired(timer, instance, kind, tasks)  # kind: 'reminder'|'escalation'|None
    sla_changed(task, previous, current)

Service verbs see `ctx.instance`, `ctx.business_key`, `ctx.actor`, `ctx.data` (task data),
`ctx.task_spec`, `ctx.now`, `ctx.session` and write through the same session.

Tables: process_definition, process_instance (state = Spiff JSON without spec, `version`
optimistic lock: 1 after start, +1 per step), human_task (inbox mirror), workflow_timer (timer mirror), task_event
(timeline). Scheduler: SCHEDULER_ENABLED starts an in-process poller on the first request;
`flask scheduler run` runs one as a separate process; SCHEDULER_INTERVAL_SECONDS (15). Each job
runs within SCHEDULER_JOB_TIME_LIMIT and each timer step within REQUEST_TIME_LIMIT (app/limits.py):
an overrunning step parks its timers (`retry_timer` un-parks them).
"""
from __future__ import annotations

import logging

from app.engine import inbox
from app.engine.completion import LoadedTask, load_for_completion
from app.engine.definitions import deploy, deploy_directory, ensure_deployed, is_deployed, latest_definition
from app.engine.errors import (
    Conflict,
    DeployError,
    EngineError,
    FormError,
    NotFound,
    ScriptError,
    StepLimitExceeded,
)
from app.engine.registry import (
    on,
    on_instance_completed,
    on_task_completed,
    on_task_created,
    on_timer_fired,
    register_deploy_rule,
    register_due_soon_rule,
    register_form,
    register_response_rule,
    register_script_function,
    register_service,
)
from app.engine.runtime import (
    Actor,
    InstanceView,
    cancel,
    claim,
    complete,
    current_instance,
    current_instant,
    delegate,
    instance_by_key,
    instance_state,
    move_timer,
    once_per_step,
    release,
    resume,
    start,
    suspend,
    update_task_due,
)
from app.engine.scripting import ServiceContext
from app.engine.timers import fire_due_timers, refresh_sla_states, retry_timer

log = logging.getLogger(__name__)

__all__ = [
    "Actor", "Conflict", "LoadedTask", "load_for_completion", "DeployError", "EngineError", "FormError", "InstanceView", "NotFound",
    "ScriptError", "ServiceContext", "StepLimitExceeded", "cancel", "current_instance", "current_instant", "claim", "complete", "delegate", "deploy",
    "deploy_directory", "ensure_deployed", "fire_due_timers", "inbox", "instance_by_key",
    "instance_state", "is_deployed", "latest_definition", "move_timer", "on",
    "on_instance_completed", "once_per_step", "on_task_completed", "on_task_created", "on_timer_fired",
    "refresh_sla_states", "register_deploy_rule", "register_due_soon_rule", "register_engine", "register_form", "register_response_rule",
    "register_script_function",
    "register_service", "release", "resume", "retry_timer", "start", "suspend", "update_task_due",
]


def register_engine(app) -> None:
    """Add `flask bpmn` / `flask scheduler`."""
    from app.engine.cli import bpmn_cli, scheduler_cli

    app.config.setdefault("SCHEDULER_INTERVAL_SECONDS", 15)
    app.cli.add_command(bpmn_cli)
    app.cli.add_command(scheduler_cli)


def boot(app) -> None:
    """What a serving process does once at start (wsgi.py): deploy new or changed BPMN files
    and, when SCHEDULER_ENABLED, run the timer scheduler in-process. Command-line runs of
    `flask …` never call this, so a migration never starts a scheduler."""
    from sqlalchemy import inspect

    from app.engine.models import ProcessDefinition
    from app.extensions import db

    with app.app_context():
        if not inspect(db.engine).has_table(ProcessDefinition.__tablename__):
            log.warning("database not migrated yet: run `flask db upgrade`; BPMN not deployed")
            return
    ensure_deployed(app)
    if app.config.get("SCHEDULER_ENABLED") and not app.config.get("TESTING"):
        from app.engine.scheduler import start_scheduler

        start_scheduler(app)
