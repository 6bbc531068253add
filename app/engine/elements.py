"""What an administrator changes in a diagram, element by element, read from the XML: each flow
element's kind, name and the settings the engine acts on (a user task's own properties merged
over its lane's, condition, timer expression, service verb and parameters), and lanes with theirs.
Two versions' descriptions compared give the changes in words (the studio's comparison) and
the engine-relevant changes SpiffWorkflow's own spec diff does not see (a lane's role)."""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS, "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}

KIND_LABELS = {
    "userTask": "用户任务", "serviceTask": "服务任务", "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关", "inclusiveGateway": "包容网关", "startEvent": "开始事件",
    "endEvent": "结束事件", "boundaryEvent": "边界事件", "intermediateCatchEvent": "中间捕获事件",
    "intermediateThrowEvent": "中间抛出事件", "sequenceFlow": "顺序流", "lane": "泳道",
    "task": "任务", "manualTask": "手工任务", "subProcess": "子流程", "callActivity": "调用活动",
    "scriptTask": "脚本任务", "businessRuleTask": "业务规则任务", "sendTask": "发送任务",
    "receiveTask": "接收任务", "eventBasedGateway": "事件网关",
}
SETTING_LABELS = {
    "candidate_role": "候选角色", "candidate_department": "候选部门", "form": "表单", "due": "办理期限",
    "reminder": "催办时间", "sla_event": "定时器用途", "condition": "条件", "timer": "定时器时间",
    "verb": "服务动作", "result": "结果变量", "default": "默认流向", "source": "起点", "target": "终点",
    "attached_to": "附着于", "interrupting": "中断活动", "documentation": "说明",
}
_SKIPPED_TAGS = {"incoming", "outgoing", "flowNodeRef", "extensionElements", "laneSet", "documentation",
                 "conditionExpression", "timerEventDefinition", "timeDate", "timeDuration", "timeCycle"}


@dataclass(frozen=True)
class Element:
    id: str
    kind: str
    name: str | None
    settings: dict[str, str] = field(default_factory=dict)
    from_lane: frozenset[str] = frozenset()  # settings a user task takes from its lane

    @property
    def label(self) -> str:
        kind = KIND_LABELS.get(self.kind, self.kind)
        return f"{kind}「{self.name}」（{self.id}）" if self.name else f"{kind} {self.id}"


@dataclass(frozen=True)
class Change:
    element_id: str
    kind: str          # added | removed | changed
    text: str


def _props(node) -> dict[str, str]:
    return {p.get("name"): p.get("value") or "" for p in node.iterfind(
        "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS) if p.get("name")}


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _lane_settings(process) -> dict[str, dict[str, str]]:
    by_node: dict[str, dict[str, str]] = {}
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            by_node.setdefault((ref.text or "").strip(), {}).update(_props(lane))
    return by_node


def _service_settings(node) -> dict[str, str]:
    operator = node.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
    if operator is None:
        return {}
    out = {"verb": operator.get("id") or "", "result": operator.get("resultVariable") or ""}
    for param in operator.iterfind("spiffworkflow:parameters/spiffworkflow:parameter", NS):
        out[f"param:{param.get('id')}"] = param.get("value") or ""
    return out


def _settings(node, lane: dict[str, str]) -> dict[str, str]:
    out = {**lane, **_props(node)}
    condition = node.find("bpmn:conditionExpression", NS)
    if condition is not None:
        out["condition"] = (condition.text or "").strip()
    timer = node.find("bpmn:timerEventDefinition/*", NS)
    if timer is not None:
        out["timer"] = (timer.text or "").strip()
    for attr, key in (("sourceRef", "source"), ("targetRef", "target"), ("default", "default"),
                      ("attachedToRef", "attached_to"), ("cancelActivity", "interrupting")):
        if node.get(attr) is not None:
            out[key] = node.get(attr)
    out.update(_service_settings(node))
    return out


def describe(xml: bytes | str) -> dict[str, Element]:
    """Every element with an id in the document's processes (lanes included)."""
    root = etree.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml,
                            parser=etree.XMLParser(resolve_entities=False, no_network=True))
    elements: dict[str, Element] = {}
    for process in root.iterfind("bpmn:process", NS):
        lanes = _lane_settings(process)
        for node in process.iter():
            kind = _local(node.tag)
            if not node.get("id") or kind in _SKIPPED_TAGS or kind == "process":
                continue
            if kind == "lane":
                elements[node.get("id")] = Element(node.get("id"), kind, node.get("name"), _props(node))
                continue
            # only a user task reads its lane's settings (candidates); other elements ignore them
            lane = lanes.get(node.get("id"), {}) if kind == "userTask" else {}
            settings = _settings(node, lane)
            elements[node.get("id")] = Element(node.get("id"), kind, node.get("name"), settings,
                                               frozenset(k for k in lane if k not in _props(node)))
    return elements


def _setting_label(key: str) -> str:
    if key.startswith("param:"):
        return f"参数 {key[6:]}"
    return SETTING_LABELS.get(key, key)


def _changed(old: Element, new: Element) -> list[str]:
    words = []
    if old.kind != new.kind:
        words.append(f"类型 {KIND_LABELS.get(old.kind, old.kind)} → {KIND_LABELS.get(new.kind, new.kind)}")
    if (old.name or "") != (new.name or ""):
        words.append(f"改名「{old.name or '（无）'}」→「{new.name or '（无）'}」")
    for key in sorted(set(old.settings) | set(new.settings)):
        before, after = old.settings.get(key), new.settings.get(key)
        if before != after:
            via_lane = "（随泳道）" if key in old.from_lane and key in new.from_lane else ""
            words.append(f"{_setting_label(key)}{via_lane} {before or '（无）'} → {after or '（无）'}")
    return words


def compare(old_xml: bytes | str, new_xml: bytes | str) -> list[Change]:
    """The changes from one version to the next, in words, element by element."""
    old, new = describe(old_xml), describe(new_xml)
    changes = [Change(eid, "removed", f"删除 {old[eid].label}") for eid in old if eid not in new]
    changes += [Change(eid, "added", f"新增 {new[eid].label}") for eid in new if eid not in old]
    for eid in old:
        if eid in new:
            words = _changed(old[eid], new[eid])
            if words:
                changes.append(Change(eid, "changed", f"{new[eid].label}：{'；'.join(words)}"))
    return changes
