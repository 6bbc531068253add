"""Catalogue write side: create and update entries, with the rules and the audit row."""
from __future__ import annotations

from sqlalchemy import select

from app.audit.log import record
from app.catalog.grants import end_grant
from app.catalog.models import CatalogEntry, Grant, GrantStatus, InformationItem, PublishState
from app.catalog.permissions import can_edit_entry
from app.catalog.schemas import CatalogEntryInput
from app.clock import utcnow
from app.db import transaction
from app.errors import Forbidden
from app.extensions import db
from app.org.models import Role, User
from app.org.permissions import require_role
from app.validation import FieldErrors, load

_EDITABLE = [
    "resource_code", "name", "summary", "resource_format", "share_type", "share_conditions",
    "share_scope", "legal_basis", "share_method", "authorisation_mode", "open_attribute",
    "update_cycle", "sensitive", "basic_data", "needs_control_parameters",
]


def _ensure_unique_code(code: str, entry_id: int | None) -> None:
    clash = db.session.scalar(select(CatalogEntry.id).where(CatalogEntry.resource_code == code))
    if clash is not None and clash != entry_id:
        raise FieldErrors({"resource_code": [f"资源代码 {code} 已被使用"]})


def _apply(entry: CatalogEntry, data: dict) -> None:
    for key in _EDITABLE:
        value = data.get(key)
        setattr(entry, key, value.strip() if isinstance(value, str) else value)
    # Conditions and scope only mean something for a conditional entry (南通 art. 8).
    if entry.share_type != "conditional":
        entry.share_conditions = entry.share_scope = None
    entry.items = [
        InformationItem(position=i, name=item["name"].strip(), data_type=item["data_type"])
        for i, item in enumerate(data["items"])
    ]


def create_entry(actor: User, raw: dict) -> CatalogEntry:
    """A provider approver registers a new entry for their own department, as a draft."""
    require_role(actor, Role.PROVIDER_APPROVER)
    data = load(CatalogEntryInput(), raw)
    _ensure_unique_code(data["resource_code"], None)
    with transaction():
        entry = CatalogEntry(provider_department_id=actor.department_id,
                             publish_state=PublishState.DRAFT.value)
        _apply(entry, data)
        db.session.add(entry)
        db.session.flush()
        record("catalog.entry_created", "catalog_entry", entry.id, after=entry.audit_view(), actor=actor)
    return entry


def update_entry(actor: User, entry: CatalogEntry, raw: dict) -> CatalogEntry:
    """Partial update: the merged result must pass the same rules as a new entry."""
    if not can_edit_entry(actor, entry):
        raise Forbidden("只能修改本部门尚未发布的目录条目")
    before = entry.audit_view()
    data = checked_changes(entry, raw)
    with transaction():
        _apply(entry, data)
        db.session.flush()
        record("catalog.entry_updated", "catalog_entry", entry.id, before=before,
               after=entry.audit_view(), actor=actor)
    return entry


def checked_changes(entry: CatalogEntry, raw: dict) -> dict:
    """`entry` with the partial update `raw` merged in, checked by the rules of a new entry."""
    before = entry.audit_view()
    merged = {k: before[k] for k in _EDITABLE}
    merged["items"] = before["items"]
    merged.update(raw)
    data = load(CatalogEntryInput(), merged)
    _ensure_unique_code(data["resource_code"], entry.id)
    return data


# ---- review and revocation (南通 arts. 10, 16); run inside a workflow step, no commit here ----

def submit_for_review(entry: CatalogEntry, actor: User | None = None) -> None:
    """A draft goes to the office for review (南通 art. 10); a published entry stays published
    while a change to it is reviewed."""
    if entry.publish_state == PublishState.DRAFT.value:
        entry.publish_state = PublishState.UNDER_REVIEW.value
        record("catalog.entry_submitted", "catalog_entry", entry.id, before={"publish_state": "draft"},
               after={"publish_state": entry.publish_state}, actor=actor)


def publish_reviewed(entry: CatalogEntry, changes: dict | None, actor: User | None = None,
                     business_key: str | None = None) -> None:
    """The office approved: apply the reviewed change (if any) and publish."""
    before = entry.audit_view()
    if changes:
        _apply(entry, checked_changes(entry, changes))
    entry.publish_state = PublishState.PUBLISHED.value
    entry.published_at = utcnow()
    db.session.flush()
    after = entry.audit_view()
    after["business_key"] = business_key
    record("catalog.entry_published", "catalog_entry", entry.id, before=before, after=after, actor=actor)


def return_for_revision(entry: CatalogEntry, reasons: str, actor: User | None = None) -> None:
    """The office returned the entry (南通 art. 10: the department revises it); a draft under
    review becomes editable again, a published entry is unchanged."""
    if entry.publish_state == PublishState.UNDER_REVIEW.value:
        entry.publish_state = PublishState.DRAFT.value
    record("catalog.entry_returned", "catalog_entry", entry.id,
           after={"publish_state": entry.publish_state, "reasons": reasons}, actor=actor)


def revoke_entry(entry: CatalogEntry, reason: str, actor: User | None = None,
                 business_key: str | None = None) -> list[Grant]:
    """Unpublish a resource and end every active grant of it (南通 art. 16); returns those grants."""
    ended = list(db.session.scalars(select(Grant).where(
        Grant.entry_id == entry.id, Grant.status == GrantStatus.ACTIVE.value).order_by(Grant.id)))
    for grant in ended:
        end_grant(grant, GrantStatus.WITHDRAWN, f"资源已撤销发布：{reason}", actor)
    before = {"publish_state": entry.publish_state}
    entry.publish_state = PublishState.REVOKED.value
    record("catalog.entry_revoked", "catalog_entry", entry.id, before=before, actor=actor, after={
        "publish_state": entry.publish_state, "reason": reason, "business_key": business_key,
        "grants_ended": [g.id for g in ended]})
    return ended
