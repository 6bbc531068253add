"""The flow list: every BPMN flow's module, and the two verbs every flow calls by name.

Adding a flow = one `bpmn/<process_id>.bpmn`, one module `app/flows/<process_id>.py` with its
`FLOW`, one line below, and its tests. `register_flows()` (app/flows/__init__.py) plugs the forms
and verbs listed here into the engine.
"""
from __future__ import annotations

from collections.abc import Callable

from app.errors import NotFound
from app.flows import (
    annual_report,
    catalogue_review,
    conditional_share,
    data_objection,
    idle_grant_review,
    rectification,
    revocation,
    unpublished_demand,
)
from app.flows.base import Flow, case_body, case_of, mark_case, outcome_result
from app.flows.parties import tell

FLOWS: dict[str, Flow] = {module.FLOW.process_id: module.FLOW for module in (
    conditional_share, revocation, idle_grant_review, unpublished_demand, rectification, data_objection,
    catalogue_review, annual_report)}
# The case flows (every flow but the conditional-share application, whose record is special).
CASE_FLOWS: dict[str, Flow] = {key: flow for key, flow in FLOWS.items() if flow is not conditional_share.FLOW}


def flow(process_id: str) -> Flow:
    found = FLOWS.get(process_id)
    if found is None:
        raise NotFound(f"没有名为 {process_id} 的业务流程")
    return found


def flow_label(process_id: str) -> str:
    found = FLOWS.get(process_id)
    return found.label if found else process_id


# Outcomes any flow's record may have, whatever its diagram: an administrator ended it.
COMMON_OUTCOME_LABELS = {"terminated": "已终止"}


def outcome_label(process_id: str, outcome: str | None) -> str | None:
    found = FLOWS.get(process_id)
    if outcome is None or found is None:
        return outcome
    return found.outcome_labels.get(outcome) or COMMON_OUTCOME_LABELS.get(outcome, outcome)


# ---- the verbs every flow calls ------------------------------------------------------------------

def record_outcome(ctx, outcome: str, reasons: str | None = None, to: list[str] | None = None,
                   close: bool = False) -> dict:
    """Record a step's outcome on the case (closing it if `close`), audit it, tell `to`."""
    case = case_of(ctx)
    mark_case(ctx, case, outcome, reasons, close)
    if to:
        tell(ctx, to, flow(case.flow).notice_title(outcome), case_body(case, reasons))
    return outcome_result(ctx, outcome, reasons)


def notify(ctx, to: str, title: str, body: str) -> dict:
    """Tell one party's candidate group (e.g. push the platform's result to the provider, 南通 art. 23)."""
    tell(ctx, to, title, body)
    return {"to": to, "at": ctx.now.isoformat()}


def _merged(part: Callable[[Flow], dict]) -> dict:
    out: dict = {}
    for one in FLOWS.values():
        out.update(part(one))
    return out


FORMS = _merged(lambda one: one.forms)
VERBS: dict[str, Callable] = {"record_outcome": record_outcome, "notify": notify, **_merged(lambda one: one.verbs)}
PERIOD_FORMS = frozenset(name for one in FLOWS.values() for name in one.period_forms)


def decision_labels(form_name: str | None) -> dict[str, str]:
    """Value → label of the `decision` a task form records (empty for a form without one)."""
    schema = FORMS.get(form_name or "")
    field = schema._declared_fields.get("decision") if schema is not None else None
    return dict(field.metadata.get("choices", {})) if field is not None else {}


def start_choice_labels() -> dict[str, dict[str, str]]:
    """Field name → value → label of the choice fields of the flows' start forms (a start's
    choice shown on the record)."""
    out: dict[str, dict[str, str]] = {}
    for one in FLOWS.values():
        for name, fld in (one.start_form._declared_fields.items() if one.start_form else ()):
            if "choices" in fld.metadata:
                out.setdefault(name, {}).update(fld.metadata["choices"])
    return out
