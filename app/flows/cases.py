"""Case flows (SPEC §4.2–4.5): starting one, reading one back. Web pages and the API call these.

    start_case(flow, user, form_data, letter_file=None) -> Case     # 403 Forbidden / 422 FieldErrors
    case_flows() / case_flow(flow) -> Flow                           # labels, prefixes, start forms

Reading one back, and the lists: app/flows/records.py (one model for every record).

Each flow is one BPMN file `bpmn/<flow>.bpmn` whose process id is `flow`, and one module
`app/flows/<flow>.py` (listed in app/flows/registry.py); its business key is
`<prefix>-<year>-<case id>`. A flow's `prepare` checks who may start it and what the database
knows about the start form, and returns the case row's fields and the instance data.
"""
from __future__ import annotations

from app.errors import Forbidden, NotFound
from app.flows.base import LETTER_FIELD, Flow, open_case
from app.flows.models import Case
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
