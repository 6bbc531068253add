"""Writing and reading notifications, always inside the caller's transaction (no commit here)."""
from __future__ import annotations

from sqlalchemy import DateTime, Select, and_, exists, false, func, insert, literal, or_, select, update

from app.clock import utcnow
from app.db import transaction
from app.db.rowbatch import batch
from app.extensions import db
from app.notifications.models import Notification, NotificationReceipt


def _write(**values) -> None:
    # Queued on the transaction's row batch: engine steps notify on their hot path and never
    # read the row back (a later statement or the commit sends it).
    values.update(title=values["title"][:200], read_at=None, created_at=utcnow())
    batch(db.session).insert(Notification.__table__, values)


def notify_user(user_id: int, kind: str, title: str, body: str = "", link: str | None = None,
                business_key: str | None = None) -> None:
    _write(user_id=user_id, department_id=None, role=None, kind=kind, title=title, body=body,
           link=link, business_key=business_key)


def notify_group(department_id: int | None, role: str | None, kind: str, title: str, body: str = "",
                 link: str | None = None, business_key: str | None = None) -> None:
    """Address every member of (department, role), present and future. Needs a department."""
    if department_id is None:
        return
    _write(user_id=None, department_id=department_id, role=role, kind=kind, title=title,
           body=body, link=link, business_key=business_key)


def notify_task(task, kind: str, title: str, body: str = "", business_key: str | None = None) -> None:
    """Tell whoever holds a human task: its assignee, else its candidate group."""
    link = f"/tasks/{task.id}"
    if task.assignee_id is not None:
        notify_user(task.assignee_id, kind, title, body, link, business_key)
        return
    notify_group(task.candidate_department_id, task.candidate_role, kind, title, body, link,
                        business_key)


def _role_values(user) -> list[str]:
    return [getattr(r, "value", r) for r in user.roles]


def _addressed_to(user):
    roles = _role_values(user)
    group = and_(Notification.user_id.is_(None), Notification.department_id == user.department_id,
                 or_(Notification.role.is_(None), Notification.role.in_(roles) if roles else false()))
    return or_(Notification.user_id == user.id, group)


def _receipt(user):
    return exists().where(NotificationReceipt.notification_id == Notification.id,
                          NotificationReceipt.user_id == user.id)


def _unread(user):
    return or_(and_(Notification.user_id == user.id, Notification.read_at.is_(None)),
               and_(Notification.user_id.is_(None), ~_receipt(user)))


def for_user(user, unread_only: bool = False) -> Select:
    """The user's notifications, newest first."""
    stmt = select(Notification).where(_addressed_to(user))
    if unread_only:
        stmt = stmt.where(_unread(user))
    return stmt.order_by(Notification.created_at.desc(), Notification.id.desc())


def unread_count(user) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(_addressed_to(user), _unread(user))) or 0


def is_read(user, notification: Notification) -> bool:
    if notification.user_id is not None:
        return notification.read_at is not None
    return db.session.scalar(select(NotificationReceipt.id).where(
        NotificationReceipt.notification_id == notification.id,
        NotificationReceipt.user_id == user.id)) is not None


def mark_read(user, notification_id: int) -> bool:
    """Mark one notification read for `user`; False if it is not addressed to them."""
    row = db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                       _addressed_to(user)))
    if row is None:
        return False
    with transaction():
        if row.user_id is not None:
            row.read_at = row.read_at or utcnow()
        elif not is_read(user, row):
            db.session.add(NotificationReceipt(notification_id=row.id, user_id=user.id, read_at=utcnow()))
    return True


def mark_all_read(user) -> None:
    """Mark everything addressed to `user` read: two statements, however many there are."""
    now = utcnow()
    unread_groups = select(Notification.id, literal(user.id), literal(now, DateTime(timezone=True))).where(
        _addressed_to(user), Notification.user_id.is_(None), ~_receipt(user))
    with transaction():
        db.session.execute(update(Notification).where(Notification.user_id == user.id,
                                                      Notification.read_at.is_(None))
                           .values(read_at=now).execution_options(synchronize_session=False))
        db.session.execute(insert(NotificationReceipt).from_select(
            ["notification_id", "user_id", "read_at"], unread_groups))


def read_ids(user, notifications: list[Notification]) -> set[int]:
    """Which of `notifications` (addressed to `user`) they have read, in one query."""
    group_ids = [n.id for n in notifications if n.user_id is None]
    read = {n.id for n in notifications if n.user_id is not None and n.read_at is not None}
    if group_ids:
        read.update(db.session.scalars(select(NotificationReceipt.notification_id).where(
            NotificationReceipt.user_id == user.id, NotificationReceipt.notification_id.in_(group_ids))))
    return read
