"""Catalogue entries, their information items, grants and attachments (SPEC §2)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db
from app.org.models import Department


class ShareType(enum.StrEnum):
    # 南通 art. 8 / 宝鸡 art. 15: the three share classes
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"


class ShareMethod(enum.StrEnum):
    # 南通 art. 13: database table, API, file
    DATABASE_TABLE = "database_table"
    API = "api"
    FILE = "file"


class ResourceFormat(enum.StrEnum):
    DATABASE = "database"
    API = "api"
    FILE = "file"
    SPREADSHEET = "spreadsheet"
    IMAGE = "image"
    OTHER = "other"


class OpenAttribute(enum.StrEnum):
    OPEN = "open"
    CONDITIONAL_OPEN = "conditional_open"
    NOT_OPEN = "not_open"


class UpdateCycle(enum.StrEnum):
    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    IRREGULAR = "irregular"


class AuthorisationMode(enum.StrEnum):
    # 南通 art. 18: the provider authorises directly, or authorises the platform as a whole
    PROVIDER = "provider"
    PLATFORM = "platform"


class PublishState(enum.StrEnum):
    DRAFT = "draft"
    UNDER_REVIEW = "under_review"
    PUBLISHED = "published"
    REVOKED = "revoked"


class GrantStatus(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    SUSPENDED = "suspended"


class CatalogEntry(db.Model):
    __tablename__ = "catalog_entry"
    __table_args__ = (
        # The database refuses what the form would refuse, whoever writes the row.
        CheckConstraint(
            "share_type <> 'conditional' OR (share_conditions IS NOT NULL AND share_scope IS NOT NULL)",
            name="conditional_needs_conditions",
        ),
        CheckConstraint(
            "share_type <> 'not_shared' OR legal_basis IS NOT NULL",
            name="not_shared_needs_legal_basis",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    provider_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    resource_format: Mapped[str] = mapped_column(String(16))
    share_type: Mapped[str] = mapped_column(String(16), index=True)
    share_conditions: Mapped[str | None] = mapped_column(Text)
    share_scope: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    share_method: Mapped[str] = mapped_column(String(16))
    authorisation_mode: Mapped[str] = mapped_column(String(16), default=AuthorisationMode.PROVIDER.value)
    open_attribute: Mapped[str] = mapped_column(String(16), default=OpenAttribute.NOT_OPEN.value)
    update_cycle: Mapped[str] = mapped_column(String(16))
    # 西城 art. 31: sensitive data needs a confidentiality agreement
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    # 宝鸡 art. 15(2), 乌海 art. 8(2), 林州 art. 5: the basic items of population, legal-person,
    # spatial and e-licence data are shared unconditionally where the profile says so
    basic_data: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # 南通 art. 18: an unconditional resource that needs control parameters is authorised by its
    # provider, not by the platform
    needs_control_parameters: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    publish_state: Mapped[str] = mapped_column(String(16), default=PublishState.DRAFT.value, index=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    provider: Mapped[Department] = relationship(lazy="joined")
    items: Mapped[list[InformationItem]] = relationship(
        cascade="all, delete-orphan", order_by="InformationItem.position",
        lazy="selectin", back_populates="entry",
    )

    def audit_view(self) -> dict:
        cols = [c.key for c in self.__table__.columns if c.key not in ("created_at", "updated_at")]
        view = {k: getattr(self, k) for k in cols}
        view["published_at"] = self.published_at.isoformat() if self.published_at else None
        view["items"] = [{"name": i.name, "data_type": i.data_type} for i in self.items]
        return view


class InformationItem(db.Model):
    """信息项: one field of a resource."""

    __tablename__ = "information_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entry.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    data_type: Mapped[str] = mapped_column(String(32))

    entry: Mapped[CatalogEntry] = relationship(back_populates="items")


class Grant(db.Model):
    """授权: a department may use a resource for a purpose and scope within a period."""

    __tablename__ = "grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entry.id"), index=True)
    grantee_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    scope: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # 南通 art. 18: authorised by the provider directly or by the platform
    authorised_by: Mapped[str] = mapped_column(String(16))
    authorised_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(16), default=GrantStatus.ACTIVE.value, index=True)
    business_key: Mapped[str | None] = mapped_column(String(64), index=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the information items granted (None: a grant from before items were approved one by one)
    items: Mapped[list | None] = mapped_column(JSON)
    # when its holder was told the period is about to end (once; flows/grant_notices.py)
    expiry_noticed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    entry: Mapped[CatalogEntry] = relationship(lazy="joined")
    grantee: Mapped[Department] = relationship(lazy="joined")


class AttachmentContent(db.Model):
    """The bytes of attached files, stored once per sha256 however often they are attached
    (app/catalog/attachments.py). `data` holds them — the default, so every web host sees the
    same files — or is NULL when they are kept in the ATTACHMENT_DIR folder."""

    __tablename__ = "attachment_content"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # bytea on PostgreSQL
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Attachment(db.Model):
    """One attached file (sealed application letter …): its name, the type we detected from its
    content and extension, and its content by sha256."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_content.sha256"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))  # detected (FILE_TYPES), never the uploader's
    size: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    owner_type: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
