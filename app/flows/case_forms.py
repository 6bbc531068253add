"""Forms of the case flows (SPEC §4.2–4.5): each flow's start form and its user-task forms.

Marshmallow, Chinese field errors. Start forms are validated by `app.flows.cases.start_case`;
task forms are registered with the engine under the names in `CASE_FORMS` (merged into
`app.flows.forms.FORMS`) and land in the instance data under the names the BPMN gateways read.
Facts only the database knows (does the department exist, is the entry the provider's own …)
are checked by the start function or the verb that uses them, with the same field names.
"""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validates_schema

from app.clock import to_local, utcnow
from app.validation import Schema, choice, is_blank, optional_text, required_text

DECISIONS = {"approve": "同意", "refuse": "不同意"}
IDLE_ACTIONS = {"withdraw": "收回授权", "keep": "保留授权"}
DEMAND_ANSWERS = {"not_in_remit": "不属于本部门履职范围", "will_publish": "属于本部门职责，将发布资源",
                  "cannot_publish": "因客观原因暂时无法发布"}
REROUTE_ACTIONS = {"reroute": "转送其他部门", "close": "办结"}
VERIFICATIONS = {"accept": "整改合格", "send_back": "退回重新整改"}
OBJECTION_RESULTS = {"corrected": "数据确有错误，已更正", "confirmed": "经核实数据无误"}
REVIEW_RESULTS = {"approve": "审核通过", "return": "退回修改"}
REVISE_ACTIONS = {"resubmit": "修改后重新提交", "withdraw": "撤回"}
REVIEW_KINDS = {"submission": "新增或变更目录条目", "mandate_change": "法律法规修订或职能变化"}
# 宝鸡 art. 29; 南通 art. 33; 乌海 art. 20
VIOLATION_CATEGORIES = {
    "catalogue_not_maintained": "未按要求编制、注册或更新政务信息资源目录",
    "data_not_provided": "未按规定向共享平台提供共享信息",
    "data_inaccurate": "提供的数据不真实、不准确、不一致、未及时更新或无法使用",
    "misuse": "将共享信息用于履职以外的目的、擅自转让第三方或开展经营活动",
    "mismanagement": "共享信息管理失控，致使滥用、非授权使用、扩散或泄漏",
    "excessive_collection": "随意采集、扩大采集范围或重复采集数据",
    "refused_rectification": "对责令整改的问题拒不整改",
    "other": "其他违反共享管理规定的行为",
}


def _today():
    return to_local(utcnow()).date()


def _require(data: dict, errors: dict, field: str, message: str) -> None:
    if is_blank(data.get(field)):
        errors.setdefault(field, []).append(message)


def _strip(value):
    return value.strip() if isinstance(value, str) and value.strip() else None


def _raise(errors: dict) -> None:
    if errors:
        raise ValidationError(errors)


# ---- start forms --------------------------------------------------------------------------------

class RevocationStartForm(Schema):
    """撤销发布 (南通 art. 16): which resource, why, from when (announced in advance)."""

    entry_id = fields.Integer(required=True, metadata={"description": "撤销发布的目录条目"})
    reasons = required_text(2000, metadata={"description": "撤销理由"})
    effective_date = fields.Date(required=True, metadata={"description": "拟撤销生效日期"})

    @validates_schema
    def _future(self, data, **_):
        if data.get("effective_date") and data["effective_date"] <= _today():
            raise ValidationError({"effective_date": ["撤销生效日期须晚于今天，以便提前告知使用部门和主管部门（南通细则第十六条）"]})


class DemandStartForm(Schema):
    """未发布资源需求 (南通 art. 24; 西城 art. 26): what is needed, and from whom if known."""

    resource_name = required_text(200, metadata={"description": "所需资源名称"})
    description = required_text(2000, metadata={"description": "需求说明（信息项、用途、频度等）"})
    purpose = required_text(500, metadata={"description": "用途（履职事项）"})
    provider_department_id = fields.Integer(load_default=None, allow_none=True,
                                            metadata={"description": "提供部门；不清楚的留空，由主管部门转送"})


class RectificationStartForm(Schema):
    """整改通知 (宝鸡 art. 29; 南通 art. 33; 乌海 art. 20)."""

    rectified_department_id = fields.Integer(required=True, metadata={"description": "被通知整改的部门"})
    violation_category = choice(list(VIOLATION_CATEGORIES), VIOLATION_CATEGORIES, required=True)
    description = required_text(2000, metadata={"description": "问题描述"})
    deadline = fields.Date(load_default=None, allow_none=True,
                           metadata={"description": "整改期限（最后一日）；留空按辖区默认期限"})

    @validates_schema
    def _future(self, data, **_):
        if data.get("deadline") and data["deadline"] <= _today():
            raise ValidationError({"deadline": ["整改期限须晚于今天"]})


class ObjectionStartForm(Schema):
    """疑义校核 (宝鸡 art. 19; 南通 art. 29; 西城 art. 28): which entry, which data, what is wrong."""

    entry_id = fields.Integer(required=True, metadata={"description": "有疑义的目录条目"})
    items = fields.List(fields.String(), load_default=list, metadata={"description": "有疑义的信息项"})
    description = required_text(2000, metadata={"description": "疑义说明（哪些数据、发现的问题）"})


class CatalogueReviewStartForm(Schema):
    """目录审核 (南通 arts. 10, 11; 宝鸡 art. 10; 乌海 art. 7): submit an entry, or record that a
    law or mandate changed, which starts the 15-working-day update obligation."""

    review_kind = choice(list(REVIEW_KINDS), REVIEW_KINDS, load_default="submission")
    entry_id = fields.Integer(load_default=None, allow_none=True, metadata={"description": "送审的目录条目"})
    changes = fields.Dict(load_default=None, allow_none=True,
                          metadata={"description": "对已发布条目的变更（字段同目录条目）"})
    change_note = optional_text(2000, metadata={"description": "送审说明"})
    law_or_mandate = optional_text(500, metadata={"description": "修订的法律法规或变化的职能"})
    changed_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "公布（变化）之日"})

    @validates_schema
    def _kind(self, data, **_):
        errors: dict = {}
        if data.get("review_kind", "submission") == "submission":
            if data.get("entry_id") is None:
                errors["entry_id"] = ["请选择送审的目录条目"]
        else:
            _require(data, errors, "law_or_mandate", "请写明修订的法律法规或变化的职能")
            if data.get("changed_on") is None:
                errors["changed_on"] = ["请填写公布（变化）之日"]
            elif data["changed_on"] > _today():
                errors["changed_on"] = ["公布之日不能晚于今天"]
        _raise(errors)


# ---- task forms ---------------------------------------------------------------------------------

class RevocationDecisionForm(Schema):
    """The office approves or refuses a revocation (南通 art. 16); refusal needs reasons."""

    decision = choice(list(DECISIONS), DECISIONS, required=True)
    reasons = optional_text(2000, metadata={"description": "意见或不同意的理由"})

    @validates_schema
    def _check(self, data, **_):
        if data.get("decision") == "refuse" and is_blank(data.get("reasons")):
            raise ValidationError({"reasons": ["不同意撤销的，必须说明理由"]})

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"], "reasons": _strip(data.get("reasons"))}


class IdleGrantDecisionForm(Schema):
    """Withdraw a grant unused for more than N months, or keep it (seasonal use …, 南通 art. 26)."""

    idle_action = choice(list(IDLE_ACTIONS), IDLE_ACTIONS, required=True)
    reasons = optional_text(2000, metadata={"description": "保留理由（如季节性应用）或收回说明"})

    @validates_schema
    def _check(self, data, **_):
        if data.get("idle_action") == "keep" and is_blank(data.get("reasons")):
            raise ValidationError({"reasons": ["保留授权的，必须说明理由（如季节性应用需求，南通细则第二十六条）"]})

    @post_load
    def _out(self, data, **_):
        return {"idle_action": data["idle_action"], "reasons": _strip(data.get("reasons"))}


class RouteDemandForm(Schema):
    """The office forwards a demand to the department that holds the data (西城 art. 26)."""

    provider_department_id = fields.Integer(required=True, metadata={"description": "转送至部门"})
    note = optional_text(1000)

    @post_load
    def _out(self, data, **_):
        return {"provider_department_id": data["provider_department_id"], "route_note": _strip(data.get("note"))}


class DemandAnswerForm(Schema):
    """The department's answer to a demand (南通 art. 25)."""

    demand_answer = choice(list(DEMAND_ANSWERS), DEMAND_ANSWERS, required=True)
    reasons = optional_text(2000, metadata={"description": "说明（不属于职责或无法发布的原因）"})

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        if data.get("demand_answer") == "not_in_remit":
            _require(data, errors, "reasons", "请说明该资源为何不属于本部门履职范围")
        elif data.get("demand_answer") == "cannot_publish":
            _require(data, errors, "reasons", "请说明暂时无法发布的客观原因（南通细则第二十五条）")
        _raise(errors)

    @post_load
    def _out(self, data, **_):
        return {"demand_answer": data["demand_answer"], "reasons": _strip(data.get("reasons"))}


class RerouteDemandForm(Schema):
    """Not in the department's remit: the office forwards it elsewhere or closes it."""

    reroute_action = choice(list(REROUTE_ACTIONS), REROUTE_ACTIONS, required=True)
    provider_department_id = fields.Integer(load_default=None, allow_none=True)
    note = optional_text(1000)

    @validates_schema
    def _check(self, data, **_):
        if data.get("reroute_action") == "reroute" and data.get("provider_department_id") is None:
            raise ValidationError({"provider_department_id": ["请选择转送的部门"]})

    @post_load
    def _out(self, data, **_):
        out = {"reroute_action": data["reroute_action"], "route_note": _strip(data.get("note"))}
        if data["reroute_action"] == "reroute":
            out["provider_department_id"] = data["provider_department_id"]
        return out


class DemandPublishForm(Schema):
    """The department names the catalogue entry it published for the demand (南通 art. 25)."""

    published_entry_id = fields.Integer(required=True, metadata={"description": "已发布的目录条目"})
    note = optional_text(1000)

    @post_load
    def _out(self, data, **_):
        return {"published_entry_id": data["published_entry_id"], "publish_note": _strip(data.get("note"))}


class RectificationReportForm(Schema):
    """The department reports what it rectified."""

    report = required_text(4000, metadata={"description": "整改情况报告"})

    @post_load
    def _out(self, data, **_):
        return {"report": data["report"].strip()}


class RectificationVerificationForm(Schema):
    """The office verifies the rectification: accept, or send back with an opinion."""

    verification = choice(list(VERIFICATIONS), VERIFICATIONS, required=True)
    opinion = optional_text(2000, metadata={"description": "核查意见"})

    @validates_schema
    def _check(self, data, **_):
        if data.get("verification") == "send_back" and is_blank(data.get("opinion")):
            raise ValidationError({"opinion": ["退回重新整改的，必须说明未整改到位的问题"]})

    @post_load
    def _out(self, data, **_):
        return {"verification": data["verification"], "opinion": _strip(data.get("opinion"))}


class MissedRectificationForm(Schema):
    """Deadline passed unrectified: what the office reported / circulated (宝鸡 art. 29: reported
    to the city government; 南通 art. 33 / 乌海 art. 20: written circular)."""

    circular_no = optional_text(100, metadata={"description": "通报或报告文号"})
    circular_note = required_text(2000, metadata={"description": "上报或书面通报情况"})

    @post_load
    def _out(self, data, **_):
        return {"circular_no": _strip(data.get("circular_no")), "circular_note": data["circular_note"].strip()}


class ObjectionVerificationForm(Schema):
    """The provider verifies disputed data: corrected, or confirmed with an explanation."""

    verification_result = choice(list(OBJECTION_RESULTS), OBJECTION_RESULTS, required=True)
    verification_note = required_text(2000, metadata={"description": "更正内容或核实说明"})

    @post_load
    def _out(self, data, **_):
        return {"verification_result": data["verification_result"],
                "verification_note": data["verification_note"].strip()}


class CatalogueReviewForm(Schema):
    """The office reviews a submitted entry (南通 art. 10): approve, or return with reasons."""

    catalogue_review_result = choice(list(REVIEW_RESULTS), REVIEW_RESULTS, required=True)
    return_reasons = optional_text(2000, metadata={"description": "退回理由"})

    @validates_schema
    def _check(self, data, **_):
        if data.get("catalogue_review_result") == "return" and is_blank(data.get("return_reasons")):
            raise ValidationError({"return_reasons": ["退回修改的，必须说明理由"]})

    @post_load
    def _out(self, data, **_):
        return {"catalogue_review_result": data["catalogue_review_result"],
                "return_reasons": _strip(data.get("return_reasons"))}


class ReviseEntryForm(Schema):
    """After a return: resubmit (the draft edited meanwhile, or new `changes`) or withdraw."""

    revise_action = choice(list(REVISE_ACTIONS), REVISE_ACTIONS, required=True)
    changes = fields.Dict(load_default=None, allow_none=True)
    change_note = optional_text(2000, metadata={"description": "修改说明"})

    @validates_schema
    def _check(self, data, **_):
        if data.get("revise_action") == "resubmit" and is_blank(data.get("change_note")):
            raise ValidationError({"change_note": ["请说明修改了哪些内容"]})

    @post_load
    def _out(self, data, **_):
        out = {"revise_action": data["revise_action"], "change_note": _strip(data.get("change_note"))}
        if data.get("changes") is not None:
            out["changes"] = data["changes"]
        return out


class CatalogueUpdateForm(Schema):
    """After a law or mandate changed: submit the updated entry for review (宝鸡 art. 10;
    南通 art. 11)."""

    entry_id = fields.Integer(required=True, metadata={"description": "更新的目录条目"})
    changes = fields.Dict(load_default=None, allow_none=True)
    change_note = required_text(2000, metadata={"description": "更新说明"})

    @post_load
    def _out(self, data, **_):
        out = {"entry_id": data["entry_id"], "change_note": data["change_note"].strip()}
        if data.get("changes") is not None:
            out["changes"] = data["changes"]
        return out


CASE_FORMS = {
    "revocation_decision_form": RevocationDecisionForm,
    "idle_grant_decision_form": IdleGrantDecisionForm,
    "route_demand_form": RouteDemandForm,
    "demand_answer_form": DemandAnswerForm,
    "reroute_demand_form": RerouteDemandForm,
    "demand_publish_form": DemandPublishForm,
    "rectification_report_form": RectificationReportForm,
    "rectification_verification_form": RectificationVerificationForm,
    "missed_rectification_form": MissedRectificationForm,
    "objection_verification_form": ObjectionVerificationForm,
    "catalogue_review_form": CatalogueReviewForm,
    "revise_entry_form": ReviseEntryForm,
    "catalogue_update_form": CatalogueUpdateForm,
}
