"""In-platform notifications (待办提醒、催办、督办、办理结果).

A notification is addressed to one user, or to a candidate group (department, role) so that
members who join later still see it. Read state: `read_at` on a user's own row; one
`NotificationReceipt` per (group notification, reader).

Recipient columns carry no foreign keys on purpose: the engine's hooks write them for any
flow, and a notification must never make a workflow step fail.
"""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db


class NotificationKind(enum.StrEnum):
    TASK_ARRIVED = "task_arrived"  # 新待办
    REMINDER = "reminder"          # 催办
    ESCALATION = "escalation"      # 逾期督办
    DECISION = "decision"          # 办理结果


KIND_LABELS = {"task_arrived": "新待办", "reminder": "催办", "escalation": "督办", "decision": "办理结果"}


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_user", "user_id", "read_at"),
        Index("ix_notification_group", "department_id", "role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(32))
    # kind and business_key are shown, never searched: no index to write on every step.
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(255))
    business_key: Mapped[str | None] = mapped_column(String(64))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class NotificationReceipt(db.Model):
    """A member of the addressed group has read a group notification."""

    __tablename__ = "notification_receipt"
    __table_args__ = (UniqueConstraint("notification_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(Integer)
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
