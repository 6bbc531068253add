"""目录审核 (南通 arts. 10, 11; 宝鸡 art. 10; 乌海 art. 7): a department sends a catalogue entry
(or a published entry's changes) to the office, which publishes it or returns it with reasons;
after a law or mandate changed, the department must update its entries within the period.
bpmn/catalogue_review.bpmn."""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validates_schema

from app.catalog import services as catalog
from app.catalog.models import CatalogEntry, PublishState
from app.catalog.services import checked_changes
from app.extensions import db
from app.flows.base import (
    COMMON_FORMS,
    CaseDraft,
    Flow,
    case_body,
    case_of,
    iso,
    mark_case,
    open_case_of,
    require,
    set_details,
    stripped,
    today,
)
from app.flows.parties import actor_user, tell
from app.legaltime.periods import start_of_day
from app.org.models import Role, User
from app.policy import Policy, deadline_for
from app.validation import N_, FieldErrors, Schema, choice, is_blank, meta, optional_text, required_text

REVIEW_RESULTS = {"approve": N_("审核通过"), "return": N_("退回修改")}
REVISE_ACTIONS = {"resubmit": N_("修改后重新提交"), "withdraw": N_("撤回")}
REVIEW_KINDS = {"submission": N_("新增或变更目录条目"), "mandate_change": N_("法律法规修订或职能变化")}
OUTCOME_LABELS = {"submitted": "已送审", "returned": "退回修改", "published": "已发布", "cancelled": "已撤回"}
_SUBMISSION, _MANDATE = ("review_kind", "submission"), ("review_kind", "mandate_change")
_JSON_HINT = N_("仅变更已发布条目时填写（JSON 对象）")


class CatalogueReviewStartForm(Schema):
    """目录审核 (南通 arts. 10, 11; 宝鸡 art. 10; 乌海 art. 7): submit an entry, or record that a
    law or mandate changed, which starts the 15-working-day update obligation."""

    review_kind = choice(list(REVIEW_KINDS), REVIEW_KINDS, load_default="submission",
                         metadata=meta(N_("送审类型")))
    entry_id = fields.Integer(load_default=None, allow_none=True, metadata=meta(
        N_("送审的目录条目"), description="送审的目录条目", shown_when=_SUBMISSION, required_when_shown=True))
    changes = fields.Dict(load_default=None, allow_none=True, metadata=meta(
        N_("变更内容（JSON）"), description="对已发布条目的变更（字段同目录条目）", shown_when=_SUBMISSION,
        hint=N_('仅变更已发布条目时填写，JSON 对象，如 {"summary": "……", "update_cycle": "weekly"}；'
                '草稿条目请先修改后直接送审')))
    change_note = optional_text(2000, metadata=meta(N_("送审说明"), description="送审说明"))
    law_or_mandate = optional_text(500, metadata=meta(
        N_("修订的法律法规或变化的职能"), description="修订的法律法规或变化的职能", shown_when=_MANDATE,
        required_when_shown=True))
    changed_on = fields.Date(load_default=None, allow_none=True, metadata=meta(
        N_("公布（变化）之日"), description="公布（变化）之日", shown_when=_MANDATE, required_when_shown=True))

    @validates_schema
    def _kind(self, data, **_):
        errors: dict = {}
        if data.get("review_kind", "submission") == "submission":
            if data.get("entry_id") is None:
                errors["entry_id"] = ["请选择送审的目录条目"]
        else:
            require(data, errors, "law_or_mandate", "请写明修订的法律法规或变化的职能")
            if data.get("changed_on") is None:
                errors["changed_on"] = ["请填写公布（变化）之日"]
            elif data["changed_on"] > today():
                errors["changed_on"] = ["公布之日不能晚于今天"]
        if errors:
            raise ValidationError(errors)


class CatalogueReviewForm(Schema):
    """The office reviews a submitted entry (南通 art. 10): approve, or return with reasons."""

    decision = choice(list(REVIEW_RESULTS), REVIEW_RESULTS, required=True,
                                     metadata=meta(N_("审核结论")))
    return_reasons = optional_text(2000, metadata=meta(
        N_("退回理由"), description="退回理由", shown_when=("decision", "return"),
        required_when_shown=True))

    @validates_schema
    def _check(self, data, **_):
        if data.get("decision") == "return" and is_blank(data.get("return_reasons")):
            raise ValidationError({"return_reasons": ["退回修改的，必须说明理由"]})

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"],
                "return_reasons": stripped(data.get("return_reasons"))}


class ReviseEntryForm(Schema):
    """After a return: resubmit (the draft edited meanwhile, or new `changes`) or withdraw."""

    decision = choice(list(REVISE_ACTIONS), REVISE_ACTIONS, required=True, metadata=meta(N_("处理方式")))
    changes = fields.Dict(load_default=None, allow_none=True, metadata=meta(
        N_("变更内容（JSON）"), hint=_JSON_HINT, shown_when=("decision", "resubmit")))
    change_note = optional_text(2000, metadata=meta(N_("修改说明"), description="修改说明",
                                                    shown_when=("decision", "resubmit"),
                                                    required_when_shown=True))

    @validates_schema
    def _check(self, data, **_):
        if data.get("decision") == "resubmit" and is_blank(data.get("change_note")):
            raise ValidationError({"change_note": ["请说明修改了哪些内容"]})

    @post_load
    def _out(self, data, **_):
        out = {"decision": data["decision"], "change_note": stripped(data.get("change_note"))}
        if data.get("changes") is not None:
            out["changes"] = data["changes"]
        return out


class CatalogueUpdateForm(Schema):
    """After a law or mandate changed: submit the updated entry for review (宝鸡 art. 10;
    南通 art. 11)."""

    entry_id = fields.Integer(required=True, metadata=meta(N_("更新的目录条目"), description="更新的目录条目"))
    changes = fields.Dict(load_default=None, allow_none=True, metadata=meta(N_("变更内容（JSON）"), hint=_JSON_HINT))
    change_note = required_text(2000, metadata=meta(N_("更新说明"), description="更新说明"))

    @post_load
    def _out(self, data, **_):
        out = {"entry_id": data["entry_id"], "change_note": data["change_note"].strip()}
        if data.get("changes") is not None:
            out["changes"] = data["changes"]
        return out


# ---- checks and the start ------------------------------------------------------------------------

def reviewable_entry(user_department_id: int, entry: CatalogEntry | None, changes: dict | None,
                     field_name: str = "entry_id") -> dict | None:
    """Check an entry may be sent for review; returns the checked changes of a published entry.

    A draft is reviewed as it stands (edit it before sending); a published entry stays
    published and its `changes` are reviewed, then applied on approval.
    """
    if entry is None or entry.provider_department_id != user_department_id:
        raise FieldErrors({field_name: ["只能送审本部门的目录条目"]})
    if entry.publish_state == PublishState.DRAFT.value:
        if changes:
            raise FieldErrors({"changes": ["草稿条目请直接修改后送审，无需填写变更内容"]})
        return None
    if entry.publish_state == PublishState.PUBLISHED.value:
        if not changes:
            raise FieldErrors({"changes": ["变更已发布的条目，请填写变更内容"]})
        try:
            checked_changes(entry, changes)
        except FieldErrors as exc:
            raise FieldErrors({"changes": exc.errors}) from None
        return dict(changes)
    state = "正在审核中" if entry.publish_state == PublishState.UNDER_REVIEW.value else "已撤销发布"
    raise FieldErrors({field_name: [f"该条目{state}，不能送审"]})


def prepare(user: User, data: dict, policy: Policy) -> CaseDraft:
    common = {"provider_department_id": user.department_id, "review_kind": data["review_kind"],
              "change_note": (data.get("change_note") or "").strip() or None}
    if data["review_kind"] == "mandate_change":
        law = data["law_or_mandate"].strip()
        changed_at = start_of_day(data["changed_on"])
        details = {**common, "law_or_mandate": law, "changed_on": iso(data["changed_on"])}
        return CaseDraft(
            title=f"目录更新：{law}", department_id=user.department_id, details=details,
            due_at=deadline_for("catalogue_update", changed_at, policy).at,
            data={**details, "entry_id": None, "changes": None, "changed_at": changed_at.isoformat()})
    entry = db.session.get(CatalogEntry, data["entry_id"])
    changes = reviewable_entry(user.department_id, entry, data.get("changes"))
    pending = open_case_of("catalogue_review", entry_id=entry.id)
    if pending is not None:
        raise FieldErrors({"entry_id": [f"该条目已有办理中的审核 {pending.business_key}"]})
    details = {**common, "changes": changes}
    return CaseDraft(
        title=f"目录审核：{entry.name}", department_id=user.department_id, entry_id=entry.id, details=details,
        data={**details, "entry_id": entry.id, "entry_name": entry.name})


# ---- verbs ----------------------------------------------------------------------------------------

def submit_entry(ctx, entry_id: int, changes: dict | None = None) -> dict:
    """Send an entry (a draft, or a published entry's `changes`) to the office for review."""
    case = case_of(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    checked = reviewable_entry(ctx.data["provider_department_id"], entry, changes)
    if case.entry_id is None:  # an entry picked after a mandate change (a start names its own)
        other = open_case_of(case.flow, entry_id=entry.id)
        if other is not None:
            raise FieldErrors({"entry_id": [f"该条目已有办理中的审核 {other.business_key}"]})
    catalog.submit_for_review(entry, actor_user(ctx))
    case.entry_id = entry.id
    set_details(case, changes=checked)
    mark_case(ctx, case, "submitted", None, close=False)
    return {"entry_id": entry.id, "entry_name": entry.name, "changes": checked}


def publish_entry(ctx, entry_id: int, changes: dict | None = None) -> dict:
    """The office approved (南通 art. 10): apply the reviewed change and publish."""
    case = case_of(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    catalog.publish_reviewed(entry, changes, actor_user(ctx), ctx.business_key)
    mark_case(ctx, case, "published", None, close=True)
    tell(ctx, "provider", FLOW.notice_title("published"), case_body(case))
    return {"entry_id": entry.id, "publish_state": entry.publish_state}


def return_entry(ctx, entry_id: int, reasons: str) -> dict:
    """The office returned the entry with reasons; the department revises it (南通 art. 10)."""
    case = case_of(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    catalog.return_for_revision(entry, reasons, actor_user(ctx))
    mark_case(ctx, case, "returned", reasons, close=False)
    tell(ctx, "provider", FLOW.notice_title("returned"), case_body(case, reasons))
    return {"entry_id": entry.id, "publish_state": entry.publish_state, "reasons": reasons}


FLOW = Flow("catalogue_review", "ML", "目录审核",
            forms={"catalogue_review_form": CatalogueReviewForm, "revise_entry_form": ReviseEntryForm,
                   "catalogue_update_form": CatalogueUpdateForm, **COMMON_FORMS},
            verbs={"submit_entry": submit_entry, "publish_entry": publish_entry, "return_entry": return_entry},
            outcome_labels=OUTCOME_LABELS, start_form=CatalogueReviewStartForm, prepare=prepare,
            starter_role=Role.PROVIDER_APPROVER)
