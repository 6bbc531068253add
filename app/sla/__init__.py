"""Service levels: the legal deadlines flows ask for (`deadline()` / `reminder()` in timer
expressions, app/sla/deadlines.py), their recomputation when a holiday notice arrives
(app/sla/recompute.py) and the working days a task has left (app/sla/remaining.py)."""
from __future__ import annotations


def register_sla() -> None:
    """Plug the deadline functions into the engine's expression language and follow deadline
    changes of a newly loaded calendar year (create_app, before the flows)."""
    from app.engine import (
        register_deploy_rule,
        register_due_soon_rule,
        register_response_rule,
        register_script_function,
    )
    from app.engine.scheduler import register_periodic
    from app.legaltime import on_deadline_changed, on_year_loaded
    from app.sla.deadlines import SCRIPT_FUNCTIONS
    from app.sla.diagram_rules import deadlines_are_urged_and_escalated
    from app.sla.measures import remeasure_year, response_workdays
    from app.sla.recompute import apply_deadline_change
    from app.sla.remaining import due_soon_horizon
    from app.sla.rollup import sum_finished_days

    for name, fn in SCRIPT_FUNCTIONS.items():
        register_script_function(name, fn)
    register_deploy_rule(deadlines_are_urged_and_escalated)
    register_due_soon_rule(due_soon_horizon)
    register_response_rule(response_workdays)
    on_deadline_changed(apply_deadline_change)
    on_year_loaded(remeasure_year)
    # finished days' figures are summed in the background, so the desk's first reader never waits
    register_periodic("sum_sla_days", sum_finished_days, 3600)
