"""Pruning the audit log — never inside the retention period (宝鸡 art. 21: logs kept at least
3 years; the profile's `log_retention_years`). The caller states the earliest instant that must
be kept; entries before the cut-off go in one transaction, an anchor keeps the chain verifiable
from the first entry left, and the pruning is itself audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from app.audit.log import lock_chain, record
from app.audit.models import AuditAnchor, AuditEntry
from app.clock import as_utc, utcnow
from app.db import transaction
from app.extensions import db


class InsideRetention(ValueError):
    """The cut-off lies inside the retention period: nothing may be deleted."""


@dataclass(frozen=True)
class Prunable:
    rows: int
    last_id: int | None


def prunable(before: datetime) -> Prunable:
    """The entries a prune before `before` would delete: the oldest run of entries older than
    `before`, stopping at the first younger one (so the chain stays one piece) and always
    keeping the newest entry (the next one chains onto it)."""
    newest = db.session.scalar(select(func.max(AuditEntry.id)))
    if newest is None:
        return Prunable(0, None)
    first_kept = db.session.scalar(select(func.min(AuditEntry.id)).where(AuditEntry.at >= as_utc(before)))
    bound = AuditEntry.id < min(first_kept if first_kept is not None else newest, newest)
    last_id = db.session.scalar(select(func.max(AuditEntry.id)).where(bound))
    rows = db.session.scalar(select(func.count()).select_from(AuditEntry).where(bound)) if last_id else 0
    return Prunable(rows, last_id)


def prune_before(before: datetime, keep_from: datetime, actor_name: str | None = None) -> int:
    """Delete the entries `prunable(before)` names; refused when `before` is later than
    `keep_from` (the start of the retention period). Returns the number deleted."""
    if as_utc(before) > as_utc(keep_from):
        raise InsideRetention(before, keep_from)
    with transaction():
        lock_chain()  # one prune (and no append) at a time
        target = prunable(before)
        if not target.rows:
            return 0
        last_hash = db.session.scalar(select(AuditEntry.hash).where(AuditEntry.id == target.last_id))
        deleted = db.session.execute(delete(AuditEntry).where(AuditEntry.id <= target.last_id),
                                     execution_options={"synchronize_session": False}).rowcount
        db.session.add(AuditAnchor(pruned_at=utcnow(), before=as_utc(before), pruned_rows=deleted,
                                   last_id=target.last_id, last_hash=last_hash, actor_name=actor_name))
        # the chained entry that vouches for the anchor (verify_chain checks the two agree)
        record("audit.pruned", "audit_entry", str(target.last_id),
               after={"before": as_utc(before).isoformat(), "pruned_rows": deleted, "last_id": target.last_id,
                      "last_hash": last_hash, "keep_from": as_utc(keep_from).isoformat(), "by": actor_name})
    return deleted

