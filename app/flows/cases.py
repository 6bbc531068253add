"""Case flows (SPEC §4.2–4.5): starting one, reading one back. Web pages and the API call these.

    start_case(flow, user, form_data, letter_file=None) -> Case     # 403 Forbidden / 422 FieldErrors
    case_flows() / case_flow(flow) -> Flow                           # labels, prefixes, start forms
    by_key(business_key) -> Case | None;  view(case) -> dict         # state, tasks, history, grant

Each flow is one BPMN file `bpmn/<flow>.bpmn` whose process id is `flow`, and one module
`app/flows/<flow>.py` (listed in app/flows/registry.py); its business key is
`<prefix>-<year>-<case id>`. A flow's `prepare` checks who may start it and what the database
knows about the start form, and returns the case row's fields and the instance data.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from app.engine.models import ProcessInstance
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.flows.applications import open_tasks, timeline
from app.flows.base import LETTER_FIELD, Flow, open_case
from app.flows.models import Case
from app.flows.permissions import visible_cases
from app.flows.registry import CASE_FLOWS
from app.org.models import Role, User
from app.org.permissions import is_office_member
from app.policy import active_policy
from app.validation import FieldErrors, load


def case_flows() -> list[Flow]:
    return list(CASE_FLOWS.values())


def case_flow(flow: str) -> Flow:
    spec = CASE_FLOWS.get(flow)
    if spec is None:
        raise NotFound(f"没有名为 {flow} 的业务流程")
    return spec


def may_start(user: User, flow: str) -> bool:
    spec = CASE_FLOWS.get(flow)
    if spec is None or spec.prepare is None or not user.has_role(spec.starter_role):
        return False
    return spec.starter_role != Role.OFFICE_REVIEWER or is_office_member(user)


# ---- starting ------------------------------------------------------------------------------------

def start_case(flow: str, user: User, form_data: dict, letter_file=None) -> Case:
    """Validate the start form and start the flow — one transaction.

    Raises NotFound (unknown flow), Forbidden (not allowed to start it, department suspended)
    or FieldErrors (422, Chinese messages per field).
    """
    spec = case_flow(flow)
    if spec.prepare is None:
        raise Forbidden(f"「{spec.label}」由平台定期自动发起，不能手工提出")
    if not may_start(user, flow):
        raise Forbidden(f"您没有提出「{spec.label}」的权限")
    data = load(spec.start_form(), form_data or {})
    policy = active_policy()
    draft = spec.prepare(user, data, policy)
    if spec.letter and letter_file is None and policy.switch("sealed_application_letter"):
        raise FieldErrors({LETTER_FIELD: ["请上传加盖公章的申请材料扫描件（南通细则第二十四条）"]})
    return open_case(spec, draft, policy, user, letter_file)


# ---- reading -------------------------------------------------------------------------------------

def by_key(business_key: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.business_key == business_key))


def by_instance(instance_id: int) -> Case | None:
    return db.session.scalar(select(Case).where(Case.instance_id == instance_id))


# A list view narrows what the user may see to one party of the case; `all` (or none) keeps it all.
_VIEWS = {
    "mine": lambda user: Case.applicant_user_id == user.id,
    "department": lambda user: Case.applicant_department_id == user.department_id,
    "assigned": lambda user: Case.department_id == user.department_id,
}


def listed(user: User, view: str | None = None, flow: str | None = None, status: str | None = None) -> Select:
    """The cases `user` may see in a list view, optionally of one flow and status (unordered)."""
    stmt = visible_cases(user, select(Case))
    if view in _VIEWS:
        stmt = stmt.where(_VIEWS[view](user))
    if flow:
        stmt = stmt.where(Case.flow == flow)
    if status:
        stmt = stmt.where(Case.status == status)
    return stmt


def view(case: Case) -> dict[str, Any]:
    """State, current tasks, timeline and grant of one case (for the API and pages)."""
    instance = db.session.get(ProcessInstance, case.instance_id) if case.instance_id else None
    return {"case": case, "instance_status": instance.status if instance else None,
            "open_tasks": open_tasks(case), "timeline": timeline(case.instance_id), "grant": case.grant}
