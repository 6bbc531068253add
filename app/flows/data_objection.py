"""数据疑义校核 (宝鸡 art. 19; 南通 art. 29; 西城 art. 28): a department holding a grant
disputes the provider's data; the provider corrects it or confirms it with an explanation, and
the other grantees are told of a correction. bpmn/data_objection.bpmn."""
from __future__ import annotations

from marshmallow import fields, post_load
from sqlalchemy import select

from app.catalog.models import Grant, GrantStatus
from app.extensions import db
from app.flows.base import COMMON_FORMS, CaseDraft, Flow, check_items, visible_entry
from app.org.models import Role, User
from app.policy import Policy
from app.validation import N_, FieldErrors, Schema, choice, meta, required_text

OBJECTION_RESULTS = {"correct": N_("数据确有错误，已更正"), "confirm": N_("经核实数据无误")}
OUTCOME_LABELS = {"corrected": "数据已更正", "confirmed": "经核实数据无误"}


class ObjectionStartForm(Schema):
    """疑义校核 (宝鸡 art. 19; 南通 art. 29; 西城 art. 28): which entry, which data, what is wrong."""

    entry_id = fields.Integer(required=True, metadata=meta(N_("有疑义的资源"), description="有疑义的目录条目"))
    items = fields.List(fields.String(), load_default=list,
                        metadata=meta(N_("有疑义的信息项"), description="有疑义的信息项"))
    description = required_text(2000, metadata=meta(N_("疑义说明（哪些数据、发现的问题）"),
                                                    description="疑义说明（哪些数据、发现的问题）"))


class ObjectionVerificationForm(Schema):
    """The provider verifies disputed data: corrected, or confirmed with an explanation."""

    decision = choice(list(OBJECTION_RESULTS), OBJECTION_RESULTS, required=True,
                                 metadata=meta(N_("核实结论")))
    verification_note = required_text(2000, metadata=meta(N_("更正内容或核实说明"), description="更正内容或核实说明"))

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"],
                "verification_note": data["verification_note"].strip()}


def prepare(user: User, data: dict, policy: Policy) -> CaseDraft:
    entry = visible_entry(user, data["entry_id"])
    grant = db.session.scalar(select(Grant).where(
        Grant.entry_id == entry.id, Grant.grantee_department_id == user.department_id,
        Grant.status == GrantStatus.ACTIVE.value).order_by(Grant.id.desc()))
    if grant is None:
        raise FieldErrors({"entry_id": ["只有获得该资源授权的使用部门可以提出数据疑义"]})
    check_items(entry, data["items"])
    details = {"items": list(data["items"]), "description": data["description"].strip()}
    return CaseDraft(
        title=f"数据疑义：{entry.name}", department_id=entry.provider_department_id, entry_id=entry.id,
        grant_id=grant.id, details=details,
        data={**details, "entry_id": entry.id, "entry_name": entry.name,
              "applicant_department_id": user.department_id, "applicant_user_id": user.id,
              "provider_department_id": entry.provider_department_id})


FLOW = Flow("data_objection", "YY", "数据疑义校核",
            forms={"objection_verification_form": ObjectionVerificationForm, **COMMON_FORMS},
            verbs={}, outcome_labels=OUTCOME_LABELS, start_form=ObjectionStartForm, prepare=prepare,
            starter_role=Role.APPLICANT)
