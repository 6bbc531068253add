"""What the REST API itself keeps in the database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class IdempotencyKey(db.Model):
    """The first answer to a create request sent with an `Idempotency-Key` header, per user.

    Written in the same transaction as the record the request created, so a record never
    exists without its key nor a key without its record. The primary key (user, key) is what
    makes a concurrent duplicate wait for the first request and then fail, instead of creating
    a second record. Rows older than IDEMPOTENCY_KEY_HOURS are deleted (app/api/idempotency.py).
    """

    __tablename__ = "idempotency_key"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # sha256 of method, path and body: the same key sent with another request is refused
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None only inside the creating transaction, which no other transaction can see
    status_code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
