"""Service-task verbs of the conditional-share flow: `verb(ctx, **params) -> JSON-able`.

They write through the step's session (one step, one transaction) and call the catalogue
and notification services; the BPMN decides when each one runs.
"""
from __future__ import annotations

from datetime import date

from app.audit.log import record
from app.catalog.grants import end_grant
from app.catalog.grants import issue_grant as catalog_issue_grant
from app.catalog.models import Grant, GrantStatus
from app.extensions import db
from app.flows.case_verbs import CASE_VERBS
from app.flows.models import Application, ApplicationStatus
from app.flows.parties import actor_user, tell
from app.legaltime.periods import end_of_day, start_of_day
from app.org.models import User

STAGE_LABELS = {
    "formal_review": "规范性审查", "amend_application": "补正申请", "platform_authorisation": "平台授权",
    "provider_review": "提供部门审核", "negotiation": "部门协商", "office_arbitration": "主管部门协调",
}
OUTCOME_LABELS = {"approved": "同意", "refused": "不予共享", "returned": "退回补正",
                  "withdrawn": "撤回", "abandoned": "放弃申请"}
# Who authorises when a stage approves (南通 art. 18: the provider directly, or the platform).
PLATFORM_STAGES = frozenset({"platform_authorisation", "office_arbitration"})
DECIDING_STAGES = frozenset({"provider_review", "platform_authorisation", "office_arbitration"})


def _application(ctx) -> Application:
    application = db.session.get(Application, ctx.data["application_id"])
    if application is None:
        raise LookupError(f"申请 {ctx.business_key} 不存在")
    return application


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def mark_decision(ctx, stage: str, outcome: str, reasons: str | None = None) -> dict:
    """Record a step's outcome on the application, audit it and tell the applicant.

    A refusal by the provider or the platform is not final: the flow goes on to negotiation
    (宝鸡 art. 16). Refusals are also reported to the office (西城 art. 26).
    """
    application = _application(ctx)
    final = {"returned": ApplicationStatus.RETURNED, "withdrawn": ApplicationStatus.WITHDRAWN,
             "abandoned": ApplicationStatus.ABANDONED}.get(outcome)
    if outcome == "refused" and stage in ("office_arbitration", "negotiation"):
        final = ApplicationStatus.REFUSED
    before = {"status": application.status}
    application.last_stage, application.last_outcome, application.last_reasons = stage, outcome, reasons
    application.updated_at = ctx.now
    if final is not None:
        application.status = final.value
        if final != ApplicationStatus.RETURNED:
            application.closed_at = ctx.now
    record("application.decision", "share_application", application.id, before=before,
           after={"stage": stage, "outcome": outcome, "reasons": reasons, "status": application.status,
                  "business_key": ctx.business_key}, actor=actor_user(ctx))
    title = f"{STAGE_LABELS.get(stage, stage)}：{OUTCOME_LABELS.get(outcome, outcome)}"
    body = f"申请 {ctx.business_key}（{application.entry.name}）" + (f"，理由：{reasons}" if reasons else "")
    if outcome == "approved":
        # Where the grant follows in the same step, its notice (period, scope) is the one the
        # applicant needs; an approval still waiting for agreements is told on its own.
        ctx.at_step_end(lambda: None if application.status == ApplicationStatus.GRANTED.value
                        else tell(ctx, "applicant", title, body))
    elif stage != "amend_application":
        tell(ctx, "applicant", title, body)
    if outcome == "refused":
        tell(ctx, "office", title, body)
    return {"stage": stage, "outcome": outcome, "reasons": reasons,
            "by": ctx.actor.user_id if ctx.actor else None, "at": ctx.now.isoformat()}


def apply_amendment(ctx) -> dict:
    """Copy the amended fields of a resubmitted application back onto it."""
    application = _application(ctx)
    data = ctx.data
    before = application.audit_view()
    application.purpose = data.get("purpose", application.purpose)
    application.scope = data.get("requested_scope", application.scope)
    application.legal_basis = data.get("legal_basis", application.legal_basis)
    application.items = data.get("items", application.items)
    application.valid_from = _day(data.get("requested_valid_from", application.valid_from))
    application.valid_until = _day(data.get("requested_valid_until", application.valid_until))
    application.status = ApplicationStatus.IN_PROGRESS.value
    application.updated_at = ctx.now
    record("application.amended", "share_application", application.id, before=before,
           after=application.audit_view(), actor=actor_user(ctx))
    return {"amended_at": ctx.now.isoformat(), "note": data.get("amendment_note")}


def issue_grant(ctx, decision: dict | None, scope: str, valid_from, valid_until) -> dict:
    """Grant the applicant's department use of the resource for the decided scope and period.

    `decision` is the last mark_decision result; None for an unconditional resource, which the
    platform grants at once (宝鸡 art. 16; 南通 art. 18). The period runs from the start of
    `valid_from` to the end (24:00) of `valid_until`, local time.
    """
    application = _application(ctx)
    stage = (decision or {}).get("stage")
    authorised_by = "platform" if decision is None or stage in PLATFORM_STAGES else "provider"
    decider = None
    if stage in DECIDING_STAGES and decision.get("by"):
        decider = db.session.get(User, decision["by"])
    start, end = start_of_day(_day(valid_from)), end_of_day(_day(valid_until), None)
    grant = catalog_issue_grant(
        application.entry, application.applicant_department, purpose=application.purpose, scope=scope,
        valid_from=start, valid_until=end, authorised_by=authorised_by,
        authorised_by_user=decider, business_key=ctx.business_key)
    application.grant_id = grant.id
    application.status = ApplicationStatus.GRANTED.value
    application.updated_at = ctx.now
    body = (f"申请 {ctx.business_key}（{application.entry.name}）已授权，"
            f"使用期限 {_day(valid_from):%Y-%m-%d} 至 {_day(valid_until):%Y-%m-%d}，范围：{scope}")
    tell(ctx, "applicant", "共享申请已授权", body)
    tell(ctx, "provider", "共享申请已授权", body)
    return {"grant_id": grant.id, "authorised_by": authorised_by, "valid_from": start.isoformat(),
            "valid_until": end.isoformat()}


def expire_grant(ctx, grant_id: int) -> dict:
    """The grant's period is over: it ends and the user must re-apply (南通 art. 26)."""
    grant = db.session.get(Grant, grant_id)
    if grant is not None and grant.status == GrantStatus.ACTIVE.value:
        end_grant(grant, GrantStatus.EXPIRED, "授权期限届满（南通细则第二十六条）")
    application = _application(ctx)
    if application.status == ApplicationStatus.GRANTED.value:
        application.status = ApplicationStatus.EXPIRED.value
        application.closed_at = application.updated_at = ctx.now
        tell(ctx, "applicant", "授权已到期",
              f"申请 {ctx.business_key}（{application.entry.name}）的授权已到期，如需继续使用请重新申请")
    return {"grant_id": grant_id, "status": grant.status if grant else None}


def notify(ctx, to: str, title: str, body: str) -> dict:
    """Tell one party's candidate group (e.g. push the platform's result to the provider, 南通 art. 23)."""
    tell(ctx, to, title, body)
    return {"to": to, "at": ctx.now.isoformat()}


VERBS = {"mark_decision": mark_decision, "apply_amendment": apply_amendment, "issue_grant": issue_grant,
         "expire_grant": expire_grant, "notify": notify,
         **CASE_VERBS}  # revocation, idle-grant review, demand, rectification, objection, catalogue review
