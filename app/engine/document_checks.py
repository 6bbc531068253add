"""Checks read straight from a BPMN document, before SpiffWorkflow parses it: the parser stops at
the first element it cannot take, while a diagram drawn by another modeler (plain BPMN 2.0, its
own extension attributes, no spiffworkflow: settings) deserves every reason at once, element by
element."""
from __future__ import annotations

from lxml import etree

from app.engine import expressions
from app.engine.errors import DeployError, ScriptError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
# Namespaces a BPMN document may use for its own content and diagram.
_OWN = {BPMN_NS, SPIFF_NS, "http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
        "http://www.omg.org/spec/DD/20100524/DI", "http://www.w3.org/2001/XMLSchema-instance",
        "http://www.w3.org/XML/1998/namespace"}
_EXPORTER_ATTRS = {"exporter", "exporterVersion"}


def _props(node) -> dict[str, str]:
    out = {}
    for prop in node.xpath("./bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                           namespaces=NS):
        if prop.get("name"):
            out[prop.get("name")] = prop.get("value")
    return out


def lane_properties(root) -> dict[str, dict[str, str]]:
    """flow node id → properties of the innermost lane holding it."""
    by_node: dict[str, dict[str, str]] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):  # document order: outer lanes first
        props = _props(lane)
        for ref in lane.xpath("./bpmn:flowNodeRef", namespaces=NS):
            if ref.text:
                merged = dict(by_node.get(ref.text.strip(), {}))
                merged.update(props)
                by_node[ref.text.strip()] = merged
    return by_node


def _owner_id(node) -> str | None:
    for el in (node, *node.iterancestors()):
        if el.get("id"):
            return el.get("id")
    return None


def _foreign(root) -> list[DeployError]:
    """Attributes and extension elements of other engines (camunda:, zeebe:, activiti: …)."""
    problems = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace and qname.namespace not in _OWN:
            problems.append(DeployError(f"使用了本平台不支持的扩展元素 {qname.localname}（{qname.namespace}，来自其他建模工具）："
                                        "请在本平台的属性面板中设置", element_id=_owner_id(node), line=node.sourceline))
            continue
        for attr in node.attrib:
            namespace = etree.QName(attr).namespace
            if namespace and namespace not in _OWN:
                problems.append(DeployError(
                    f"使用了本平台不支持的扩展属性 {etree.QName(attr).localname}（{namespace}，来自其他建模工具）：请在本平台的属性面板中设置",
                    element_id=_owner_id(node), line=node.sourceline))
    return problems


def _service_tasks(root) -> list[DeployError]:
    return [DeployError("服务任务没有选择服务动作（spiffworkflow:serviceTaskOperator）", element_id=task.get("id"),
                        line=task.sourceline)
            for task in root.iterfind(".//bpmn:serviceTask", NS)
            if task.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS) is None]


def _expression_texts(root):
    """(element named, what, text): a condition is named by its gateway (as the engine evaluates
    it there), the flow it is written on in the words; a timer by its event."""
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        condition = flow.find("bpmn:conditionExpression", NS)
        if condition is not None:
            yield flow.get("sourceRef"), f"顺序流 {flow.get('id')} 的条件表达式", condition
    for definition in root.iterfind(".//bpmn:timerEventDefinition", NS):
        event = definition.getparent()
        for node in definition:
            yield event.get("id"), "定时器表达式", node


def _expressions(root, functions) -> list[DeployError]:
    problems = []
    for element_id, what, node in _expression_texts(root):
        text = (node.text or "").strip()
        if not text:
            continue
        try:
            expressions.check(text, functions)
        except ScriptError as exc:
            problems.append(DeployError(f"{what}不是允许的表达式：{exc}", element_id=element_id, line=node.sourceline))
    return problems


def _roles(root) -> list[DeployError]:
    lanes = lane_properties(root)
    return [DeployError("用户任务没有候选角色（candidate_role，写在任务或其泳道上）", element_id=task.get("id"),
                        line=task.sourceline)
            for task in root.iterfind(".//bpmn:userTask", NS)
            if not (_props(task).get("candidate_role") or lanes.get(task.get("id"), {}).get("candidate_role"))]


def before_parsing(root, functions) -> list[DeployError]:
    """Every problem found in the document itself (none: hand it to the parser). `functions`
    None: a stored version reloaded, whose registries are not checked again."""
    found = _foreign(root) + _service_tasks(root)
    if functions is not None:
        found += _expressions(root, functions)
        found += _roles(root) if found else []  # alone, the parser's later check names it as before
    return found
