"""What every deployable diagram must say about time: a step with a deadline is urged before it
and escalated when it passes (南通 arts. 19, 31; 宝鸡 art. 23). `flask bpmn deploy` and the
administrator's studio check it (registered as a deploy rule); tests/flows/test_every_step_has_a_
deadline.py holds the shipped diagrams to the stricter form (every step has one, going up)."""
from __future__ import annotations

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


def _properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value")
            for p in node.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}


def _sla_timers(root, task_id: str) -> set[str]:
    """The sla_event kinds of the non-interrupting timers on the step."""
    kinds = set()
    for boundary in root.iterfind(f".//bpmn:boundaryEvent[@attachedToRef='{task_id}']", NS):
        if boundary.find("bpmn:timerEventDefinition", NS) is not None \
                and boundary.get("cancelActivity") == "false":
            kinds.add(_properties(boundary).get("sla_event"))
    return kinds


def deadlines_are_urged_and_escalated(root) -> list[tuple[str | None, str]]:
    problems = []
    for task in root.iterfind(".//bpmn:userTask", NS):
        props = _properties(task)
        if not props.get("due"):
            continue
        kinds = _sla_timers(root, task.get("id"))
        if not props.get("reminder"):
            problems.append((task.get("id"), "有办理期限（due）的步骤还要有催办时间（reminder）"))
        if "reminder" not in kinds:
            problems.append((task.get("id"), "有办理期限的步骤缺少催办定时器（不中断的边界定时器，sla_event = reminder）"))
        if "escalation" not in kinds:
            problems.append((task.get("id"), "有办理期限的步骤缺少督办定时器（不中断的边界定时器，sla_event = escalation）"))
    return problems
