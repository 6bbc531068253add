"""闲置授权收回 (南通 art. 26): the platform proposes to the provider the withdrawal of a grant
unused for longer than the profile's months; the provider withdraws it or keeps it with reasons.
bpmn/idle_grant_review.bpmn."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from app.catalog.grants import end_grant, idle_since, is_idle
from app.catalog.models import Grant, GrantStatus
from app.clock import as_utc, to_local, utcnow
from app.extensions import db
from app.flows.base import (
    COMMON_FORMS,
    CaseDraft,
    DecisionWithReasons,
    Flow,
    case_body,
    case_of,
    mark_case,
    open_case,
)
from app.flows.models import Case, CaseStatus
from app.flows.parties import actor_user, tell
from app.policy import active_policy
from app.validation import N_, choice, meta, optional_text

IDLE_ACTIONS = {"withdraw": N_("收回授权"), "keep": N_("保留授权")}
OUTCOME_LABELS = {"withdrawn": "已收回授权", "kept": "保留授权"}


class IdleGrantDecisionForm(DecisionWithReasons):
    """Withdraw a grant unused for more than N months, or keep it (seasonal use …, 南通 art. 26)."""

    REASONS_REQUIRED = {"keep": "保留授权的，必须说明理由（如季节性应用需求，南通细则第二十六条）"}
    decision = choice(list(IDLE_ACTIONS), IDLE_ACTIONS, required=True, metadata=meta(N_("处理意见")))
    reasons = optional_text(2000, metadata=meta(N_("保留理由（如季节性应用）或收回说明"),
                                                description="保留理由（如季节性应用）或收回说明"))


def withdraw_grant(ctx, reasons: str | None = None) -> dict:
    """The provider withdraws the idle grant; the grantee is told (it may apply again)."""
    case = case_of(ctx)
    grant = case.grant
    if grant.status == GrantStatus.ACTIVE.value:
        note = f"超过{case.details.get('idle_months')}个月未使用，提供部门收回授权（南通细则第二十六条）"
        end_grant(grant, GrantStatus.WITHDRAWN, note + (f"：{reasons}" if reasons else ""), actor_user(ctx))
    mark_case(ctx, case, "withdrawn", reasons, close=True)
    tell(ctx, ["grantee", "office"], FLOW.notice_title("withdrawn"),
         case_body(case, reasons) + "。如仍需使用，请重新提出共享申请")
    return {"grant_id": grant.id, "status": grant.status}


FLOW = Flow("idle_grant_review", "XH", "闲置授权收回",
            forms={"idle_grant_decision_form": IdleGrantDecisionForm, **COMMON_FORMS},
            verbs={"withdraw_grant": withdraw_grant}, outcome_labels=OUTCOME_LABELS)


def _idle_review_state() -> tuple[dict[int, datetime], set[int]]:
    """Per grant, when its provider last decided to keep it (the idle period restarts then),
    and the grants with a proposal open — one query each for the whole sweep."""
    flow = Case.flow == FLOW.process_id
    kept = dict(db.session.execute(select(Case.grant_id, func.max(Case.closed_at)).where(
        flow, Case.outcome == "kept").group_by(Case.grant_id)).all())
    open_ids = set(db.session.scalars(select(Case.grant_id).where(
        flow, Case.status == CaseStatus.IN_PROGRESS.value)))
    return {gid: as_utc(at) for gid, at in kept.items() if at is not None}, open_ids


def propose_idle_grants(now: datetime | None = None) -> list[Case]:
    """Propose to each provider the withdrawal of its grants unused for longer than the
    profile's `idle_grant_months` (default 3, 南通 art. 26) — one `idle_grant_review` case per
    grant, never a second one while one is open, and a kept grant only once idle again."""
    policy = active_policy()
    if not policy.switch("idle_grant_withdrawal"):
        return []
    months, now = policy.idle_grant_months, now or utcnow()
    opened = []
    candidates = db.session.scalars(select(Grant).where(
        Grant.status == GrantStatus.ACTIVE.value, Grant.valid_from <= now,
        (Grant.valid_until.is_(None)) | (Grant.valid_until > now)).order_by(Grant.id)).all()
    kept_at, under_review = _idle_review_state()
    for grant in candidates:
        since = max(filter(None, (idle_since(grant), kept_at.get(grant.id))))
        if not is_idle(since, months, now) or grant.id in under_review:
            continue
        entry, grantee = grant.entry, grant.grantee
        details = {"idle_since": since.isoformat(), "idle_months": months}
        opened.append(open_case(FLOW, CaseDraft(
            title=f"闲置授权收回：{entry.name}（{grantee.name}）", department_id=entry.provider_department_id,
            entry_id=entry.id, grant_id=grant.id, details=details,
            data={**details, "grant_id": grant.id, "entry_id": entry.id, "entry_name": entry.name,
                  "provider_department_id": entry.provider_department_id,
                  "grantee_department_id": grantee.id, "grantee_name": grantee.name,
                  "idle_since_local": f"{to_local(since):%Y-%m-%d}"}), policy))
    return opened
