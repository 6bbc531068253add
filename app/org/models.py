"""Departments, users and their roles (SPEC §1, §2)."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db


class Role(enum.StrEnum):
    """A user's roles inside their own department; candidate groups are (department, role)."""

    APPLICANT = "applicant"
    PROVIDER_APPROVER = "provider_approver"
    OFFICE_REVIEWER = "office_reviewer"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"


ROLE_LABELS = {
    Role.APPLICANT: "使用部门经办人",
    Role.PROVIDER_APPROVER: "提供部门审核人",
    Role.OFFICE_REVIEWER: "主管部门审核人",
    Role.SUPERVISOR: "监督",
    Role.ADMINISTRATOR: "系统管理员",
}

# Roles that only make sense inside the coordinating office.
OFFICE_ONLY_ROLES = {Role.OFFICE_REVIEWER, Role.SUPERVISOR, Role.ADMINISTRATOR}


class DepartmentLevel(enum.StrEnum):
    MUNICIPAL = "municipal"
    DISTRICT = "district"


class Department(db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    level: Mapped[str] = mapped_column(String(16), default=DepartmentLevel.MUNICIPAL.value)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    is_office: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by a missed rectification (宝鸡 art. 29): grants stop authorising use, no new applications.
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    parent: Mapped[Department | None] = relationship(remote_side=[id])

    def audit_view(self) -> dict:
        return {
            "code": self.code, "name": self.name, "level": self.level,
            "parent_id": self.parent_id, "is_office": self.is_office,
            "suspended": self.suspended, "suspended_reason": self.suspended_reason,
        }


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    # Only a hash of the API token is stored; the token itself is shown once.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="user"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot sign in
        return self.active

    @property
    def roles(self) -> set[Role]:
        return {Role(r.role) for r in self.role_rows}

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def audit_view(self) -> dict:
        return {
            "username": self.username, "display_name": self.display_name,
            "department_id": self.department_id, "active": self.active,
            "roles": sorted(r.value for r in self.roles),
        }


class UserRole(db.Model):
    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))

    user: Mapped[User] = relationship(back_populates="role_rows")


class UserSession(db.Model):
    """A signed-in browser. The signed session cookie carries a random key; the row holds only
    its hash. Deleting the row (sign-out, deactivation, a new password) ends that session on
    every web host at once, whatever copies of the cookie exist."""

    __tablename__ = "user_session"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class SignInThrottle(db.Model):
    """A sign-in throttle counter, one row per key ("account:<address>:<user name>" or
    "address:<address>"), kept in the database so every web worker throttles alike.

    `attempts` counts reserved attempts since the key was last quiet for a whole window;
    `retry_at` is when the next attempt may be reserved (app.org.auth).
    """

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    retry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
