"""The business records: every flow's record is a Case; the conditional-share application
(有条件共享申请, SPEC §4.1) extends it with what the applicant asked for.

The BPMN instance holds the process state; these rows hold what was asked and the outcome, so
listings and permission checks are plain indexed queries.
"""
from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy import case as sa_case
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship, synonym

from app.catalog.models import Attachment, CatalogEntry, Grant
from app.clock import utcnow
from app.extensions import db
from app.org.models import Department

PROCESS_ID = "conditional_share"


class ApplicationStatus(enum.StrEnum):
    DRAFT = "draft"              # saved by the applicant's department, not submitted: no instance, no key
    IN_PROGRESS = "in_progress"  # formal review, authorisation, negotiation or arbitration under way
    RETURNED = "returned"        # returned for amendment (南通 art. 21)
    GRANTED = "granted"
    REFUSED = "refused"          # final: refused after negotiation / arbitration (宝鸡 art. 16)
    WITHDRAWN = "withdrawn"
    ABANDONED = "abandoned"      # applicant gave up after a refusal
    EXPIRED = "expired"          # the grant's period ended (南通 art. 26: re-apply)
    TERMINATED = "terminated"    # ended by an administrator (app/flows/record_admin.py)


STATUS_LABELS = {
    "draft": "草稿", "in_progress": "办理中", "returned": "退回补正", "granted": "已授权", "refused": "不予共享",
    "withdrawn": "已撤回", "abandoned": "已放弃", "expired": "授权已到期", "terminated": "已终止",
}


class CaseStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


CASE_STATUS_LABELS = {"in_progress": "办理中", "closed": "已办结"}


class Case(db.Model):
    """A business record: one instance of a flow — a conditional-share application (SPEC §4.1,
    the `Application` below extends it) or a case (revocation, idle-grant review, demand,
    rectification, objection, catalogue review — SPEC §4.2–4.5).

    `flow` is the BPMN process id; `department_id` is the department that must act (the
    provider, the department addressed or rectified); `details` holds the validated start form.
    Listings and permission checks are plain indexed queries over this one table; the process
    state is in the BPMN instance.
    """

    __tablename__ = "workflow_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None while an application is a draft: the key (and the instance) come with the submission
    business_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    flow: Mapped[str] = mapped_column(String(32), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.IN_PROGRESS.value, index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))
    reasons: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(200))
    applicant_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    applicant_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_entry.id"), index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("grant.id"), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    # the deadline or effective instant the case turns on (effective date, rectification deadline …)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    letter_attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    # policy profile the record was started under (its switches are in the instance data)
    policy_key: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    entry: Mapped[CatalogEntry | None] = relationship(lazy="joined")
    grant: Mapped[Grant | None] = relationship()
    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    applicant_department: Mapped[Department | None] = relationship(foreign_keys=[applicant_department_id])
    letter: Mapped[Attachment | None] = relationship()

    # Applications load as `Application` (their own columns joined in the same query); every
    # other flow's record is a plain Case.
    kind = column_property(sa_case((flow == PROCESS_ID, PROCESS_ID), else_="case"))
    __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "case"}

    @property
    def is_draft(self) -> bool:
        return False

    def audit_view(self) -> dict:
        return {
            "business_key": self.business_key, "flow": self.flow, "status": self.status,
            "outcome": self.outcome, "reasons": self.reasons, "title": self.title,
            "applicant_department_id": self.applicant_department_id,
            "department_id": self.department_id, "entry_id": self.entry_id, "grant_id": self.grant_id,
            "details": self.details, "due_at": self.due_at,
            "letter_attachment_id": self.letter_attachment_id,
        }


class Application(Case):
    """The conditional-share application (有条件共享申请, SPEC §4.1): a Case whose department that
    must act is the provider, with what the applicant asked for in its own table."""

    __tablename__ = "application"

    id: Mapped[int] = mapped_column(ForeignKey("workflow_case.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(Text)
    requested_scope: Mapped[str] = mapped_column(Text)
    items: Mapped[list] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text)
    # a draft may leave the period open; a submitted application always has both dates
    requested_valid_from: Mapped[date | None] = mapped_column(Date)
    requested_valid_until: Mapped[date | None] = mapped_column(Date)
    # the step whose outcome is in `outcome`/`reasons` (formal_review, authorisation_decision …)
    stage: Mapped[str | None] = mapped_column(String(32))
    # the application's id before applications and cases became one table: audit entries
    # written before then name it as object ("share_application", former_id)
    former_id: Mapped[int | None] = mapped_column(Integer, index=True)

    provider_department_id = synonym("department_id")
    provider_department = synonym("department")

    __mapper_args__ = {"polymorphic_identity": PROCESS_ID, "polymorphic_load": "inline"}

    def __init__(self, **values):
        super().__init__(flow=PROCESS_ID, **values)

    @property
    def is_draft(self) -> bool:
        return self.status == ApplicationStatus.DRAFT.value

    def audit_view(self) -> dict:
        return {
            "business_key": self.business_key, "entry_id": self.entry_id, "status": self.status,
            "applicant_department_id": self.applicant_department_id,
            "provider_department_id": self.provider_department_id,
            "purpose": self.purpose, "requested_scope": self.requested_scope, "items": self.items,
            "legal_basis": self.legal_basis, "requested_valid_from": self.requested_valid_from,
            "requested_valid_until": self.requested_valid_until,
            "letter_attachment_id": self.letter_attachment_id,
        }
