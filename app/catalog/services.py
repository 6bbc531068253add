"""Catalogue write side: create and update entries, with the rules and the audit row."""
from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import select

from app.audit.log import record
from app.catalog.models import CatalogEntry, InformationItem, PublishState
from app.catalog.schemas import CatalogEntryInput
from app.extensions import db
from app.org.models import Role, User
from app.org.permissions import Forbidden, can_edit_entry, require_role
from app.validation import FieldErrors

_EDITABLE = [
    "resource_code", "name", "summary", "resource_format", "share_type", "share_conditions",
    "share_scope", "legal_basis", "share_method", "authorisation_mode", "open_attribute",
    "update_cycle", "sensitive",
]


def _clean(raw: dict) -> dict:
    try:
        return CatalogEntryInput().load(raw)
    except ValidationError as exc:
        raise FieldErrors(exc.messages) from exc


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
    data = _clean(raw)
    _ensure_unique_code(data["resource_code"], None)
    entry = CatalogEntry(provider_department_id=actor.department_id,
                         publish_state=PublishState.DRAFT.value)
    _apply(entry, data)
    db.session.add(entry)
    db.session.flush()
    record("catalog.entry_created", "catalog_entry", entry.id, after=entry.audit_view(), actor=actor)
    db.session.commit()
    return entry


def update_entry(actor: User, entry: CatalogEntry, raw: dict) -> CatalogEntry:
    """Partial update: the merged result must pass the same rules as a new entry."""
    if not can_edit_entry(actor, entry):
        raise Forbidden("只能修改本部门尚未发布的目录条目")
    before = entry.audit_view()
    merged = {k: before[k] for k in _EDITABLE}
    merged["items"] = before["items"]
    merged.update(raw)
    data = _clean(merged)
    _ensure_unique_code(data["resource_code"], entry.id)
    _apply(entry, data)
    db.session.flush()
    record("catalog.entry_updated", "catalog_entry", entry.id, before=before,
           after=entry.audit_view(), actor=actor)
    db.session.commit()
    return entry
