"""Every human step of the shipped flows with its deadline in each jurisdiction, and the source of
each figure (an article, or the profile's stated default). `flask flows deadlines --write` puts the
table into bpmn/README.md; a test keeps the two in step, so the document cannot drift from the
diagrams and profiles that actually run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from app.policy.profiles import Policy

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
DEADLINE_CALL = re.compile(r"^deadline\('([a-z_]+)'")
# A step whose period is fixed when the case starts, by a start-form field, with a profile default:
# the rectification notice names its own period (宝鸡 art. 29), `rectification_default` otherwise.
SET_AT_START = {"rectification_due": ("rectification_default", "整改通知所定；未定时 ")}
START, END = "<!-- step-deadlines:start -->", "<!-- step-deadlines:end -->"
# The shipped jurisdictions, in the order SPEC §5 lists them.
DOCUMENTED_PROFILES = ("nantong", "baoji", "wuhai", "xicheng", "linzhou")
UNIT_TEXT = {"workday": "个工作日", "month": "个月"}


@dataclass(frozen=True)
class StepDeadline:
    flow: str
    flow_label: str
    step: str
    label: str
    holder: str        # the candidate role (the lane's, unless the step names its own)
    deadline: str      # the profile deadline's name
    qualifier: str     # "" or how the period is set when it is not the profile's alone


def _properties(node) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in node.iterfind("bpmn:extensionElements//spiffworkflow:property", NS)}


def _lane_roles(process) -> dict[str, str]:
    roles = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        role = _properties(lane).get("candidate_role", "")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            roles[ref.text] = role
    return roles


def _deadline_of(due: str | None) -> tuple[str, str]:
    if due in SET_AT_START:
        return SET_AT_START[due]
    match = DEADLINE_CALL.match(due or "")
    return (match.group(1), "") if match else ("", "")


def step_deadlines(bpmn_dir: str | Path) -> list[StepDeadline]:
    steps = []
    for path in sorted(Path(bpmn_dir).glob("*.bpmn")):
        process = etree.parse(str(path)).find("bpmn:process", NS)
        roles = _lane_roles(process)
        for task in process.iterfind(".//bpmn:userTask", NS):
            props = _properties(task)
            deadline, qualifier = _deadline_of(props.get("due"))
            steps.append(StepDeadline(process.get("id"), process.get("name") or process.get("id"),
                                      task.get("id"), task.get("name") or task.get("id"),
                                      props.get("candidate_role") or roles.get(task.get("id"), ""),
                                      deadline, qualifier))
    return steps


def _cell(policy: Policy, step: StepDeadline) -> str:
    if not step.deadline:
        return "无期限"
    rule = policy.deadline(step.deadline)
    source = rule.article or "默认值"
    return f"{step.qualifier}{rule.amount} {UNIT_TEXT[rule.unit]}（{source}）"


def markdown(bpmn_dir: str | Path, policies: list[Policy]) -> str:
    """The table: one row per step, one column per jurisdiction."""
    head = "| 流程 | 步骤 | 名称 | 办理角色 | 期限名 | " + " | ".join(p.city for p in policies) + " |"
    lines = [START, "", head, "|" + "---|" * (5 + len(policies))]
    for step in step_deadlines(bpmn_dir):
        cells = [step.flow_label, f"`{step.step}`", step.label, f"`{step.holder}`",
                 f"`{step.deadline}`" if step.deadline else "—", *(_cell(p, step) for p in policies)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "默认值 = 该市规定未给出期限，由辖区配置写明平台默认值及理由（`app/policy/profiles/<city>.yaml` "
              "的 note）。提醒（催办）在期限最后一日前 `reminder_lead` 个工作日 9:00；逾期即督办。", "", END]
    return "\n".join(lines)


def replace_section(text: str, table: str) -> str:
    """`text` with the part between the markers (markers included) replaced by `table`."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + table + text[end:]


def step_labels(bpmn_dir: str | Path) -> dict[str, str]:
    """Each user task's id → its name in the diagrams (the first flow that has it), for tables
    that count steps by id; parsed again when a diagram file changes."""
    files = tuple(sorted((str(p), p.stat().st_mtime) for p in Path(bpmn_dir).glob("*.bpmn")))
    return _labels(files)


@lru_cache(maxsize=4)
def _labels(files: tuple) -> dict[str, str]:
    labels: dict[str, str] = {}
    for step in step_deadlines(Path(files[0][0]).parent) if files else []:
        labels.setdefault(step.step, step.label)
    return labels
