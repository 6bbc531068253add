"""Deploying BPMN files as immutable versions, and turning a version back into a parsed spec.

`deploy()` refuses anything that would run code (script tasks, pre/post scripts, DMN), parses
with SpiffWorkflow's `SpiffBpmnParser` (XSD-validated, spiffworkflow extensions), then checks
everything the engine will later evaluate: every expression is in the expression language
(app/engine/expressions.py) and calls only registered functions, service verbs and forms are
registered. Any problem is a `DeployError` naming the element; nothing is stored.

A stored version is checked again when it is first loaded (and at start-up, `verify_stored`):
one that fails is refused (`DefinitionRefused`), never run.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.mixins.service_task import ServiceTask
from sqlalchemy import func, select

from app.db.transaction import transaction
from app.engine import expressions
from app.engine.document_checks import before_parsing, lane_properties
from app.engine.errors import DefinitionRefused, DeployError, ScriptError
from app.engine.models import ProcessDefinition
from app.engine.registry import DEPLOY_RULES, FORMS, SCRIPT_FUNCTIONS, SERVICES
from app.engine.scripting import NO_SCRIPTS
from app.extensions import db

log = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# Extension property names (spiffworkflow:properties) the engine understands.
PROP_FORM = "form"
PROP_CANDIDATE_DEPARTMENT = "candidate_department"   # expression → int department id
PROP_CANDIDATE_ROLE = "candidate_role"               # literal role name
PROP_DUE = "due"                                     # expression → ISO instant
PROP_REMINDER = "reminder"                           # expression → ISO instant
PROP_SLA_EVENT = "sla_event"                         # on a boundary timer: reminder | escalation
# On a user task reached through an escalation ("true"): it ends, with its own timers, once the
# step whose escalation led to it has finished — a 督办 outlives neither the step nor its case.
PROP_ENDS_WITH_ESCALATED_STEP = "ends_with_escalated_step"
SLA_EVENT_KINDS = ("reminder", "escalation")


@dataclass(frozen=True)
class UserTaskMeta:
    name: str
    label: str | None
    lane: str | None
    form: str | None
    candidate_department: str | None
    candidate_role: str | None
    due: str | None
    reminder: str | None
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TimerMeta:
    name: str
    label: str | None
    kind: str | None
    attached_to: str | None


@dataclass
class CompiledDefinition:
    """A parsed BPMN version: the spec SpiffWorkflow runs plus what the engine mirrors."""

    process_id: str
    name: str | None
    spec: Any
    subprocess_specs: dict
    user_tasks: dict[str, UserTaskMeta]
    timers: dict[str, TimerMeta]


# Parsed specs by content hash (ids can be reused after rows are deleted; hashes cannot lie).
_SPEC_CACHE: dict[str, CompiledDefinition] = {}
_CACHE_LOCK = threading.Lock()


def content_hash(xml: bytes) -> str:
    return hashlib.sha256(xml).hexdigest()


def _read_source(source: bytes | str | Path) -> tuple[bytes, str | None]:
    if isinstance(source, bytes):
        return source, None
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return source.encode("utf-8"), None
    path = Path(source)
    return path.read_bytes(), path.name


def _check(source: str | None, element_id: str, what: str, functions: dict | None) -> None:
    if source is None or not str(source).strip():
        return
    try:
        expressions.check(str(source), functions)
    except ScriptError as exc:
        raise DeployError(f"{what}不是允许的表达式：{exc}", element_id=element_id) from None


# Where SpiffWorkflow would run Python (`exec`), or evaluate expressions outside this engine's
# language (DMN decision tables). BPMN carries no code: a flow's actions are service tasks.
_CODE_ELEMENTS = {
    f"{{{BPMN_NS}}}scriptTask": "脚本任务（scriptTask）",
    f"{{{BPMN_NS}}}script": "脚本（script）",
    f"{{{SPIFF_NS}}}preScript": "前置脚本（preScript）",
    f"{{{SPIFF_NS}}}postScript": "后置脚本（postScript）",
    f"{{{BPMN_NS}}}businessRuleTask": "业务规则任务（businessRuleTask / DMN）",
}


def _refuse_code(root, file_name: str | None) -> list[DeployError]:
    """Every element that would run a script, named (SPEC: BPMN carries no code)."""
    found = []
    for node in root.iter(*_CODE_ELEMENTS):
        if node.tag.endswith("Script") and not (node.text or "").strip():
            continue  # an empty pre/post script runs nothing
        owner = next((el for el in node.iterancestors() if el.get("id")), None) \
            if not node.get("id") else node
        found.append(DeployError(
            f"BPMN 中不允许{_CODE_ELEMENTS[node.tag]}：流程不能携带代码，所需动作请用服务任务调用已注册的服务动作",
            element_id=owner.get("id") if owner is not None else None, line=node.sourceline,
            file_name=file_name))
    return found


def _event_expressions(event_definition) -> list[str]:
    if isinstance(event_definition, MultipleEventDefinition):
        out: list[str] = []
        for sub in event_definition.event_definitions:
            out.extend(_event_expressions(sub))
        return out
    found = [getattr(event_definition, "expression", None)]
    found += [p.retrieval_expression for p in getattr(event_definition, "correlation_properties", None) or []]
    return [e for e in found if isinstance(e, str)]


def _element_id(task_spec) -> str:
    return getattr(task_spec, "bpmn_id", None) or task_spec.name


def _expressions(ts) -> Iterator[tuple[str, str | None]]:
    """(what, source) of every expression SpiffWorkflow evaluates for task spec `ts`."""
    for cond, _target in getattr(ts, "cond_task_specs", None) or []:
        if cond is not None:
            yield "条件表达式", cond.args[0]
    for attr in ("condition", "cardinality"):
        value = getattr(ts, attr, None)
        if isinstance(value, str):
            yield "循环/多实例表达式", value
    event_definition = getattr(ts, "event_definition", None)
    if event_definition is not None:
        for expr in _event_expressions(event_definition):
            yield "定时器/事件表达式", expr
    if isinstance(ts, ServiceTask):
        for pname, param in (ts.operation_params or {}).items():
            yield f"服务参数 {pname} ", param.get("value")


def _refuse_scripts(ts, eid: str) -> None:
    # _refuse_code found them in the XML already; this catches any the parser put elsewhere.
    if isinstance(ts, ScriptTask) or getattr(ts, "prescript", None) or getattr(ts, "postscript", None):
        raise DeployError(NO_SCRIPTS, element_id=eid)


def _timer_meta(ts, props: dict, eid: str) -> TimerMeta:
    kind = props.get(PROP_SLA_EVENT)
    if kind is not None and kind not in SLA_EVENT_KINDS:
        raise DeployError(f"sla_event 只能是 reminder 或 escalation，而不是 {kind!r}", element_id=eid)
    attached = None
    if type(ts).__name__ == "BoundaryEvent":
        for parent in ts.inputs:
            if parent.name.endswith(".BoundaryEventSplit"):
                attached = parent.name[: -len(".BoundaryEventSplit")]
    return TimerMeta(ts.name, getattr(ts, "bpmn_name", None), kind, attached)


class Problems(list):
    """Every problem found in one document, so an editor sees all of them at once."""

    def attempt(self, check: Callable[..., Any], *args) -> Any:
        try:
            return check(*args)
        except DeployError as exc:
            self.append(exc)
            return None


def _check_role(role: str | None, eid: str) -> None:
    if not (role or "").strip():
        # a candidate group is a department *and* a role: without the role the task is offered
        # to every member of the department (applicants included), without both to no one
        raise DeployError("用户任务没有候选角色（candidate_role，写在任务或其泳道上）：任务会交给部门的全部成员，"
                          "包括没有审批权限的人员", element_id=eid)


def _check_form(form: str | None, eid: str) -> None:
    if form and form not in FORMS:
        raise DeployError(f"用户任务引用了未注册的表单 {form!r}", element_id=eid)


def _user_task_meta(ts, props: dict, lane_props: dict, eid: str, functions: dict | None,
                    problems: Problems) -> UserTaskMeta:
    form = props.get(PROP_FORM)
    dept = props.get(PROP_CANDIDATE_DEPARTMENT) or lane_props.get(PROP_CANDIDATE_DEPARTMENT)
    role = props.get(PROP_CANDIDATE_ROLE) or lane_props.get(PROP_CANDIDATE_ROLE)
    if functions is not None:  # registries checked: a deploy, not a stored version reloaded
        problems.attempt(_check_form, form, eid)
    problems.attempt(_check, dept, eid, "候选部门表达式", functions)
    problems.attempt(_check, props.get(PROP_DUE), eid, "办理期限表达式", functions)
    problems.attempt(_check, props.get(PROP_REMINDER), eid, "催办时间表达式", functions)
    if functions is not None:
        problems.attempt(_check_role, role, eid)
    return UserTaskMeta(
        name=ts.name, label=getattr(ts, "bpmn_name", None), lane=ts.lane, form=form,
        candidate_department=dept, candidate_role=role,
        due=props.get(PROP_DUE), reminder=props.get(PROP_REMINDER), properties=props,
    )


def _check_verb(ts, eid: str) -> None:
    if isinstance(ts, ServiceTask) and ts.operation_name not in SERVICES:
        raise DeployError(f"服务任务使用了未注册的服务动作 {ts.operation_name!r}", element_id=eid)


def _validate_and_describe(specs: list, lanes: dict[str, dict[str, str]], check_registries: bool,
                           problems: Problems):
    """Check every task spec (no scripts, only allowed expressions, known verbs and forms) and
    describe what the engine mirrors: user tasks and timers."""
    functions = SCRIPT_FUNCTIONS if check_registries else None
    user_tasks: dict[str, UserTaskMeta] = {}
    timers: dict[str, TimerMeta] = {}
    for spec in specs:
        for ts in spec.task_specs.values():
            eid = _element_id(ts)
            props = dict((getattr(ts, "extensions", None) or {}).get("properties", {}) or {})
            problems.attempt(_refuse_scripts, ts, eid)
            for what, source in _expressions(ts):
                problems.attempt(_check, source, eid, what, functions)
            if isinstance(getattr(ts, "event_definition", None), TimerEventDefinition):
                timers[ts.name] = problems.attempt(_timer_meta, ts, props, eid)
            if check_registries:
                problems.attempt(_check_verb, ts, eid)
            if getattr(ts, "manual", False) and getattr(ts, "bpmn_id", None):
                user_tasks[ts.name] = _user_task_meta(ts, props, lanes.get(eid, {}), eid, functions,
                                                      problems)
    return user_tasks, timers


def _parse_xml(xml: bytes, file_name: str | None):
    try:
        return etree.fromstring(xml, parser=etree.XMLParser(
            resolve_entities=False, no_network=True, remove_comments=True))
    except etree.XMLSyntaxError as exc:
        raise DeployError(f"BPMN 文件不是格式正确的 XML：{exc.msg}",
                          line=exc.lineno, file_name=file_name) from None


def _parse_process(root, file_name: str | None) -> tuple[str, Any, dict]:
    """(process id, spec, subprocess specs) of the document's one executable process."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_bpmn_xml(root, filename=file_name)
        process_ids = parser.get_process_ids()
        if len(process_ids) != 1:
            processes = root.findall(f"{{{BPMN_NS}}}process")
            raise DeployError(
                f"一个 BPMN 文件必须恰好包含一个可执行流程（isExecutable=\"true\"），实际为 {len(process_ids)} 个",
                element_id=processes[0].get("id") if len(processes) == 1 else None, file_name=file_name)
        return process_ids[0], parser.get_spec(process_ids[0]), parser.get_subprocess_specs(process_ids[0])
    except ValidationException as exc:
        raise DeployError(f"BPMN 模型无效：{exc.args[0] if exc.args else exc}",
                          element_id=exc.id or None, line=exc.line_number or None,
                          file_name=file_name) from None


def refused(problems: list[DeployError], file_name: str | None) -> DeployError:
    """One error standing for all: the first one's place, every one's text, each in `.problems`."""
    first = problems[0]
    if len(problems) == 1:
        first.file_name = first.file_name or file_name
        return first
    text = "；".join(str(p) for p in problems)
    error = DeployError(f"共 {len(problems)} 处问题：{text}", element_id=first.element_id,
                        line=first.line, file_name=file_name)
    error.problems = list(problems)
    return error


def compile_bpmn(xml: bytes, file_name: str | None = None, check_registries: bool = True,
                 product_rules: bool = False) -> CompiledDefinition:
    """Parse and validate one BPMN document; raise DeployError on any problem, every problem
    found listed in its `.problems`. `product_rules`: also the rules the product registered
    (`register_deploy_rule`), as `flask bpmn deploy` and the studio check."""
    root = _parse_xml(xml, file_name)
    code = _refuse_code(root, file_name)
    if code:
        raise refused(code, file_name)
    early = before_parsing(root, SCRIPT_FUNCTIONS if check_registries else None)
    if early:
        raise refused(early, file_name)
    process_id, spec, subprocess_specs = _parse_process(root, file_name)
    process_node = root.find(f".//{{{BPMN_NS}}}process[@id='{process_id}']")
    name = process_node.get("name") if process_node is not None else None
    problems = Problems()
    user_tasks, timers = _validate_and_describe(
        [spec, *subprocess_specs.values()], lane_properties(root), check_registries, problems)
    if product_rules:
        for rule in DEPLOY_RULES:
            problems.extend(DeployError(message, element_id=eid) for eid, message in rule(root))
    if problems:
        raise refused(problems, file_name)
    return CompiledDefinition(process_id, name, spec, subprocess_specs, user_tasks, timers)


def problems_of(xml: bytes, file_name: str | None = None) -> list[DeployError]:
    """Every reason `flask bpmn deploy` would refuse this document (none: it deploys)."""
    try:
        compile_bpmn(xml, file_name, product_rules=True)
    except DeployError as exc:
        return exc.problems
    return []


def compiled(definition: ProcessDefinition) -> CompiledDefinition:
    """The parsed spec of a stored version (cached per content hash)."""
    return compiled_version(definition.content_hash, lambda: definition)


def compiled_version(content_hash: str, definition: Callable[[], ProcessDefinition]
                     ) -> CompiledDefinition:
    """The parsed spec for a content hash; `definition()` gives the stored version on a cache
    miss only, so a step that read the hash with its instance touches no definition row."""
    cached = _SPEC_CACHE.get(content_hash)
    if cached is None:
        row = definition()
        cached = _compile_stored(row)
        with _CACHE_LOCK:
            _SPEC_CACHE[row.content_hash] = cached
    return cached


def _compile_stored(row: ProcessDefinition) -> CompiledDefinition:
    """A stored version, checked again as deploy checked it: a row changed in the database
    behind deploy's back (or deployed by an older, laxer release) is refused, never run."""
    xml = row.bpmn_xml.encode("utf-8")
    label = f"流程定义 {row.process_id} 第 {row.version} 版"
    if content_hash(xml) != row.content_hash:
        raise DefinitionRefused(f"{label}的内容与部署时的哈希不符（可能被篡改），已拒绝运行")
    try:
        return compile_bpmn(xml, row.file_name, check_registries=False)
    except DeployError as exc:
        raise DefinitionRefused(f"{label}未通过安全检查，已拒绝运行：{exc.message}",
                                element_id=exc.element_id) from None


def verify_stored() -> list[tuple[ProcessDefinition, str | None]]:
    """Check every stored version (start-up, `flask bpmn verify`): (version, None) when it may
    run, (version, why not) when it is refused. Safe versions are parsed into the cache."""
    results = []
    for row in db.session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.id)):
        try:
            compiled(row)
            results.append((row, None))
        except DefinitionRefused as exc:
            results.append((row, str(exc)))
    return results


def deploy(source: bytes | str | Path, deployed_by: int | None = None,
           file_name: str | None = None, commit: bool = True, change_note: str | None = None,
           product_rules: bool = False) -> ProcessDefinition:
    """Store `source` (XML bytes/str or a path) as the next version of its process.

    Returns the existing row when identical content was already deployed.
    """
    from app.audit.log import record

    xml, path_name = _read_source(source)
    file_name = file_name or path_name
    digest = content_hash(xml)
    existing = db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.content_hash == digest))
    if existing is not None:
        return existing
    parsed = compile_bpmn(xml, file_name, product_rules=product_rules)
    try:
        text = xml.decode("utf-8")
    except UnicodeDecodeError:
        raise DeployError("BPMN 文件必须使用 UTF-8 编码", file_name=file_name) from None
    # commit=False: the caller's unit of work holds the new version (e.g. a deploy from a page)
    with transaction() if commit else nullcontext():
        last = db.session.scalar(select(func.max(ProcessDefinition.version))
                                 .where(ProcessDefinition.process_id == parsed.process_id))
        row = ProcessDefinition(
            process_id=parsed.process_id, name=parsed.name, version=(last or 0) + 1,
            bpmn_xml=text, content_hash=digest, file_name=file_name, deployed_by=deployed_by,
            change_note=change_note,
        )
        db.session.add(row)
        db.session.flush()
        record("engine.definition_deployed", "process_definition", row.id, after={
            "process_id": row.process_id, "version": row.version, "content_hash": digest,
            "file_name": file_name, "change_note": change_note}, actor_name=None)
    with _CACHE_LOCK:
        _SPEC_CACHE[digest] = parsed
    return row


def deploy_again(older: ProcessDefinition, deployed_by: int | None, change_note: str | None,
                 commit: bool = True) -> ProcessDefinition:
    """Make an older version active again: its document becomes the newest version. Versions
    are told apart by content, so the copy ends with a comment saying which one it repeats."""
    last = db.session.scalar(select(func.max(ProcessDefinition.version))
                             .where(ProcessDefinition.process_id == older.process_id))
    xml = f"{older.bpmn_xml.rstrip()}\n<!-- 第 {(last or 0) + 1} 版：重新启用第 {older.version} 版 -->\n"
    return deploy(xml.encode("utf-8"), deployed_by, older.file_name, commit, change_note,
                  product_rules=True)


def is_deployed(source: bytes | str | Path) -> bool:
    xml, _ = _read_source(source)
    return db.session.scalar(select(ProcessDefinition.id)
                             .where(ProcessDefinition.content_hash == content_hash(xml))) is not None


def latest_definition(process_id: str) -> ProcessDefinition | None:
    return db.session.scalar(
        select(ProcessDefinition).where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc()).limit(1))


def deploy_directory(directory: str | Path, files: list[str | Path] | None = None,
                     deployed_by: int | None = None) -> list[tuple[str, str, ProcessDefinition | None, str | None]]:
    """Deploy every `*.bpmn` under `directory` (or the given files), one transaction each.

    Returns (file, outcome, definition, error) with outcome in deployed|unchanged|failed.
    """
    paths = [Path(f) for f in files] if files else sorted(Path(directory).glob("*.bpmn"))
    results = []
    for path in paths:
        try:
            if is_deployed(path):
                row = db.session.scalar(select(ProcessDefinition).where(
                    ProcessDefinition.content_hash == content_hash(path.read_bytes())))
                results.append((str(path), "unchanged", row, None))
                continue
            row = deploy(path, deployed_by=deployed_by, product_rules=True)
            results.append((str(path), "deployed", row, None))
        except (DeployError, OSError) as exc:
            db.session.rollback()
            results.append((str(path), "failed", None, str(exc)))
    return results


def ensure_deployed(app) -> list:
    """Deploy new/changed files of config BPMN_DIR, then check every stored version; log and
    skip the files that fail and the stored versions refused (they will not run)."""
    with app.app_context():
        results = deploy_directory(app.config["BPMN_DIR"])
        for file, outcome, row, error in results:
            if outcome == "failed":
                log.error("BPMN %s not deployed: %s", file, error)
            elif outcome == "deployed":
                log.info("BPMN %s deployed as %s v%s", file, row.process_id, row.version)
        for _row, problem in verify_stored():
            if problem is not None:
                log.error("stored BPMN refused: %s", problem)
        return results
