"""Engine hooks that notify people; they run inside the step's transaction (one step, one commit).

Generic for every flow: a new human task tells its candidate group (or assignee); a reminder
(催办) boundary timer tells the task's holders; an escalation (督办) tells them the task is
overdue — the office hears of it through the 督办 task the BPMN opens.
"""
from __future__ import annotations

from app.engine import on
from app.legaltime.periods import deadline_text
from app.notifications.models import NotificationKind
from app.notifications.service import notify_task, notify_user


def _label(task) -> str:
    return task.name or task.task_spec


def _due_text(task) -> str:
    return f"，办理期限 {deadline_text(task.due_at)}" if task.due_at else ""


def task_created(task, instance) -> None:
    notify_task(task, NotificationKind.TASK_ARRIVED, f"新待办：{_label(task)}",
                f"业务编号 {instance.business_key}{_due_text(task)}", instance.business_key)


def timer_fired(timer, instance, kind, tasks) -> None:
    for task in tasks or ():
        if kind == "reminder":
            notify_task(task, NotificationKind.REMINDER, f"催办：{_label(task)}",
                        f"业务编号 {instance.business_key} 即将到期{_due_text(task)}，请抓紧办理",
                        instance.business_key)
        elif kind == "escalation":
            notify_task(task, NotificationKind.ESCALATION, f"已逾期：{_label(task)}",
                        f"业务编号 {instance.business_key} 已超过办理期限{_due_text(task)}，"
                        "主管部门已启动督办，请立即办理", instance.business_key)


def task_delegated(task, actor, previous_assignee) -> None:
    if task.assignee_id is not None:
        notify_user(task.assignee_id, NotificationKind.TASK_ARRIVED, f"转办待办：{_label(task)}",
                    f"{getattr(actor, 'name', None) or '同事'}将此任务转交给您办理", f"/tasks/{task.id}")


def register_notification_hooks() -> None:
    on("task_created", task_created)
    on("timer_fired", timer_fired)
    on("task_delegated", task_delegated)
