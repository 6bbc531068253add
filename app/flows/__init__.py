"""The flows: one module per BPMN file (app/flows/<flow>.py: its forms, verbs and labels,
listed in app/flows/registry.py), the records they write (models, applications, cases) and
acting on their tasks (tasks).

`register_flows()` (from create_app) plugs the forms and verbs into the engine; the flows
themselves are the BPMN files in bpmn/ (deploy with `flask bpmn deploy`).
"""
from __future__ import annotations


def register_flows(app=None) -> None:
    """Register forms, verbs and notification hooks with the engine (the deadline functions
    the flows' timers use come from app.sla, registered before)."""
    from app.engine import on, register_form, register_service
    from app.engine.scheduler import register_periodic
    from app.flows.annual_report import start_annual_report
    from app.flows.base import tell_supervisors
    from app.flows.grant_notices import expire_due_grants_and_tell, notify_expiring_grants
    from app.flows.idle_grant_review import propose_idle_grants
    from app.flows.registry import FORMS, VERBS
    from app.notifications.hooks import register_notification_hooks

    for name, fn in VERBS.items():
        register_service(name, fn)
    for name, schema in FORMS.items():
        register_form(name, _validator(schema))
    register_notification_hooks()
    on("task_created", tell_supervisors)
    # 南通 art. 26: the platform proposes idle-grant withdrawals itself, once a day
    register_periodic("propose_idle_grants", propose_idle_grants, 24 * 3600)
    # Grants end by their flow's timer; this sweep also ends those whose instance was cancelled
    # or whose timer was parked after an error, so a grant's status never outlives its period.
    register_periodic("expire_due_grants", expire_due_grants_and_tell, 3600)
    register_periodic("notify_expiring_grants", notify_expiring_grants, 24 * 3600)
    # 宝鸡 art. 24: the year's report period reaches the supervisors' desk in its first hour
    register_periodic("start_annual_report", start_annual_report, 3600)
    if app is not None:
        from app.flows.cli import flows_cli, grants_cli

        app.cli.add_command(grants_cli)  # `flask grants propose-idle` (南通 art. 26)
        app.cli.add_command(flows_cli)   # `flask flows deadlines`: every step's deadline


def _validator(schema_cls):
    def validate_data(data: dict) -> dict:
        return schema_cls().load(data or {})

    validate_data.__name__ = f"validate_{schema_cls.__name__}"
    return validate_data
