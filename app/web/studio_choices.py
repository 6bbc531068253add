"""What the modeler's properties panel offers as choices instead of XML: roles, forms, verbs
with their parameters, the active profile's deadlines, the department expressions the flows use
and the functions expressions may call — all read from the registries the server checks against."""
from __future__ import annotations

import inspect

from flask_babel import gettext as _

from app.engine.registry import FORMS, SCRIPT_FUNCTIONS, SERVICES
from app.org.models import ROLE_LABELS, Role
from app.policy import active_policy

# The data names the shipped lanes offer their steps to (ids the instance data carries).
DEPARTMENT_EXPRESSIONS = {
    "applicant_department_id": "使用部门（申请方）", "provider_department_id": "提供部门",
    "office_department_id": "主管部门（大数据管理局）", "rectified_department_id": "被整改部门",
}
UNIT_LABELS = {"workday": "个工作日", "month": "个月"}


def _verb_parameters(fn) -> list[str]:
    params = list(inspect.signature(fn).parameters.values())[1:]  # the first is the step's context
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _deadlines() -> list[dict]:
    policy = active_policy()
    return [{"value": name, "label": f"{name}：{rule.amount} {_(UNIT_LABELS[rule.unit])}"
             f"（{rule.article or _('默认值')}）"} for name, rule in policy.deadlines.items()]


def panel_choices() -> dict:
    return {
        "roles": [{"value": r.value, "label": _(ROLE_LABELS[r])} for r in Role],
        "forms": [{"value": name, "label": name} for name in sorted(FORMS)],
        "verbs": [{"value": name, "label": name, "params": _verb_parameters(fn)}
                  for name, fn in sorted(SERVICES.items())],
        "deadlines": _deadlines(),
        "departments": [{"value": k, "label": f"{_(v)}（{k}）"} for k, v in DEPARTMENT_EXPRESSIONS.items()],
        "functions": sorted(SCRIPT_FUNCTIONS),
        "profile": active_policy().key,
    }
