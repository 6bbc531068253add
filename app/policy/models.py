"""What an administrator changed in the active profile from the browser (the YAML file is the
city's regulation as shipped; its changes are rows, so every web host sees them)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db


class PolicyOverride(db.Model):
    """One deadline or switch of a profile as changed: `item` is the entry as the profile file
    would write it ({amount, unit, article, note} or {value, article, note})."""

    __tablename__ = "policy_override"
    __table_args__ = (UniqueConstraint("profile_key", "section", "name", name="uq_policy_override_entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_key: Mapped[str] = mapped_column(String(32))
    section: Mapped[str] = mapped_column(String(16))  # deadlines | switches
    name: Mapped[str] = mapped_column(String(64))
    item: Mapped[dict] = mapped_column(JSON)
    changed_by: Mapped[int | None] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
