"""Exceptions raised by the engine. Messages are user-facing (zh_CN first); each is also one
of the platform's error types (app/errors.py), which gives it its HTTP status."""
from __future__ import annotations

from app import errors
from app.validation import flat_errors


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class NotFound(EngineError, errors.NotFound):
    """Unknown definition, instance or task."""


class Conflict(EngineError, errors.Conflict):
    """The thing moved under the caller (task already completed, version changed, key taken):
    HTTP 409. Nothing was written."""


class DeployError(EngineError):
    """A BPMN file was refused at deploy time; nothing was stored.

    `element_id` names the offending BPMN element when there is one; `line` the XML line.
    """

    def __init__(self, message: str, element_id: str | None = None,
                 line: int | None = None, file_name: str | None = None):
        self.element_id = element_id
        self.line = line
        self.file_name = file_name
        where = []
        if file_name:
            where.append(file_name)
        if line:
            where.append(f"第 {line} 行")
        if element_id:
            where.append(f"元素 {element_id}")
        prefix = f"[{'，'.join(where)}] " if where else ""
        super().__init__(prefix + message)
        self.message = message
        self.problems: list[DeployError] = [self]  # all of a document's, when it had several


class FlowFault(EngineError, errors.Unavailable):
    """The flow's definition is at fault, not the request (HTTP 503): nothing was applied."""

    @property
    def message(self) -> str:
        return f"流程运行出错，本次操作未生效，请联系系统管理员（{self}）"


class ScriptError(FlowFault):
    """A BPMN expression or script is not allowed or failed inside the restricted environment."""

    def __init__(self, message: str, element_id: str | None = None):
        self.element_id = element_id
        super().__init__(f"[{element_id}] {message}" if element_id else message)


class DefinitionRefused(FlowFault):
    """A stored definition version failed its check when loaded; nothing of it runs.

    Not the user's fault (the database was changed behind deploy's back): HTTP 503, and the
    administrators see it in the log and in `flask bpmn verify`."""

    def __init__(self, message: str, element_id: str | None = None):
        self.element_id = element_id
        super().__init__(message)

    @property
    def message(self) -> str:
        return "该流程的定义未通过安全检查，暂时无法办理，请联系系统管理员"


class StepLimitExceeded(FlowFault):
    """One step ran more engine tasks (gateways, service tasks, events) than allowed: a BPMN
    cycle with no wait (user task, timer) in it, which SpiffWorkflow would run forever within
    one call. The step was rolled back; nothing was stored."""

    def __init__(self, process_id: str, process_name: str | None, element_id: str | None,
                 limit: int):
        self.process_id, self.element_id, self.limit = process_id, element_id, limit
        flow = f"「{process_name}」（{process_id}）" if process_name else f"「{process_id}」"
        super().__init__(
            f"流程{flow}在一次操作中自动执行的环节超过 {limit} 个，停在元素 {element_id}："
            "流程图中可能有不经过任何等待（人工任务、定时器）的循环。本次操作未生效，"
            "请修改流程图后重新部署。")


class FormError(EngineError, errors.Invalid):
    """Form validation failed (HTTP 422); `errors` maps field name → list of messages."""

    def __init__(self, errors: dict[str, list[str]]):
        flat = flat_errors(errors)
        super().__init__(flat, "表单填写有误：" + "；".join(
            f"{k}: {'，'.join(v)}" for k, v in flat.items()))
