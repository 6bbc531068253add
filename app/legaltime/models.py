"""Stored legal deadlines, so provisional ones can be recomputed when a year is loaded (SPEC §3.6)."""
from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db


class LegalDeadline(db.Model):
    """One computed deadline and what it was computed from.

    Generic on purpose: ``owner_type``/``owner_id`` point at whatever row uses it (a human-task
    mirror, a timer, a rectification notice …); the engine listens with `on_deadline_changed`.
    """

    __tablename__ = "legal_deadline"
    __table_args__ = (
        CheckConstraint("amount >= 1", name="amount_positive"),
        CheckConstraint("unit IN ('workday', 'month')", name="unit_known"),
        Index("ix_legal_deadline_owner", "owner_type", "owner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    amount: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    policy_key: Mapped[str | None] = mapped_column(String(64))  # policy deadline name, if any
    close_of_business: Mapped[time | None] = mapped_column(Time)  # local; None = 24:00
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # UTC
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner_type: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        flag = " provisional" if self.provisional else ""
        return (f"<LegalDeadline {self.id} {self.owner_type}:{self.owner_id} "
                f"{self.amount} {self.unit} due {self.due_at:%Y-%m-%dT%H:%M}Z{flag}>")
