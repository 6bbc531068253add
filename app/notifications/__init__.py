"""Notifications: who is told what, when (new task, 催办, 督办, decisions).

    from app.notifications import notify_user, notify_group, unread_count, mark_read
"""
from app.notifications.service import (
    for_user,
    is_read,
    mark_all_read,
    mark_read,
    notify_group,
    notify_task,
    notify_user,
    read_ids,
    unread_count,
)

__all__ = ["for_user", "is_read", "mark_all_read", "mark_read", "notify_group", "notify_task",
           "notify_user", "read_ids", "unread_count"]
