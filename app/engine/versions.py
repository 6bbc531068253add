"""A flow's versions as the studio shows them, and administrators' drafts.

A draft is one administrator's unsaved diagram of one flow, kept on the server (so a closed
browser loses nothing) and never run; deploying it makes it the flow's newest — active —
version and ends the draft. Making an older version active again is deploying it again.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from app.audit.log import record
from app.clock import utcnow
from app.db.transaction import transaction
from app.engine.definitions import compile_bpmn, content_hash, deploy, deploy_again, problems_of, refused
from app.engine.errors import Conflict, DeployError, NotFound
from app.engine.models import InstanceStatus, ProcessDefinition, ProcessDraft, ProcessInstance
from app.extensions import db

MAX_DIAGRAM_BYTES = 2 * 1024 * 1024  # the largest shipped diagram is ~60 KB


@dataclass(frozen=True)
class VersionRow:
    definition: ProcessDefinition
    running: int
    active: bool


def instance_counts(status: str = InstanceStatus.RUNNING) -> dict[int, int]:
    """definition id → its instances in `status` (one grouped query for the whole list)."""
    return dict(db.session.execute(
        select(ProcessInstance.definition_id, func.count()).where(ProcessInstance.status == status)
        .group_by(ProcessInstance.definition_id)).all())


def flow_versions(process_id: str | None = None) -> dict[str, list[VersionRow]]:
    """process id → its versions, newest first, each with its running instances; the newest
    is the active one (new instances start on it)."""
    query = select(ProcessDefinition).order_by(ProcessDefinition.process_id, ProcessDefinition.version.desc())
    if process_id is not None:
        query = query.where(ProcessDefinition.process_id == process_id)
    running = instance_counts()
    out: dict[str, list[VersionRow]] = {}
    for row in db.session.scalars(query):
        versions = out.setdefault(row.process_id, [])
        versions.append(VersionRow(row, running.get(row.id, 0), active=not versions))
    return out


def version(process_id: str, number: int) -> ProcessDefinition:
    row = db.session.scalar(select(ProcessDefinition).where(
        ProcessDefinition.process_id == process_id, ProcessDefinition.version == number))
    if row is None:
        raise NotFound(f"流程 {process_id} 没有第 {number} 版")
    return row


def draft_of(process_id: str, owner_id: int) -> ProcessDraft | None:
    return db.session.scalar(select(ProcessDraft).where(
        ProcessDraft.process_id == process_id, ProcessDraft.owner_id == owner_id))


def _same_flow(xml: bytes, process_id: str) -> None:
    """A draft or deploy of flow X must be flow X (the process id is what instances follow)."""
    try:
        found = compile_bpmn(xml, check_registries=False).process_id
    except DeployError:
        return  # its problems are reported as such
    if found != process_id:
        raise DeployError(f"流程图的流程标识是 {found}，不是 {process_id}：请勿修改流程（process）的 id")


def _sized(xml: bytes) -> bytes:
    if len(xml) > MAX_DIAGRAM_BYTES:
        raise DeployError(f"流程图过大（{len(xml) // 1024} KB），上限 {MAX_DIAGRAM_BYTES // 1024 // 1024} MB")
    return xml


def save_draft(process_id: str, owner_id: int, xml: bytes, base_version: int | None) -> list[DeployError]:
    """Keep the administrator's draft (any content that is XML-sized: a draft may be unfinished);
    the problems deploying it would meet."""
    _sized(xml)
    with transaction():
        draft = draft_of(process_id, owner_id)
        if draft is None:
            draft = ProcessDraft(process_id=process_id, owner_id=owner_id, base_version=base_version)
            db.session.add(draft)
        draft.bpmn_xml = xml.decode("utf-8", errors="replace")
        draft.updated_at = utcnow()
        record("engine.draft_saved", "process_draft", process_id, after={"base_version": base_version})
    return check(process_id, xml)


def discard_draft(process_id: str, owner_id: int) -> bool:
    with transaction():
        gone = db.session.execute(delete(ProcessDraft).where(
            ProcessDraft.process_id == process_id, ProcessDraft.owner_id == owner_id)).rowcount
        if gone:
            record("engine.draft_discarded", "process_draft", process_id)
    return bool(gone)


def check(process_id: str, xml: bytes) -> list[DeployError]:
    """What `flask bpmn deploy` would refuse the diagram for, and whether it is this flow."""
    try:
        _same_flow(_sized(xml), process_id)
    except DeployError as exc:
        return [exc]
    return problems_of(xml)


def deploy_version(process_id: str, xml: bytes, change_note: str, deployed_by: int,
                   seen_version: int | None) -> ProcessDefinition:
    """Deploy the diagram as the flow's new active version (checked as `flask bpmn deploy`
    checks; audited), ending its author's draft. `seen_version`: the active version the editor
    started from — another administrator's deploy meanwhile is a Conflict, not overwritten."""
    problems = check(process_id, xml)
    if problems:
        raise refused(problems, None)
    same = db.session.scalar(select(ProcessDefinition.version).where(
        ProcessDefinition.content_hash == content_hash(xml)))
    if same is not None:
        raise Conflict(f"流程图与第 {same} 版完全相同，无需部署；要让旧版本重新生效，请在版本列表中选择“重新启用”")
    with transaction():
        _still_active(process_id, seen_version)
        row = deploy(xml, deployed_by=deployed_by, commit=False, change_note=change_note,
                     product_rules=True, file_name=f"{process_id}.bpmn")
        db.session.execute(delete(ProcessDraft).where(
            ProcessDraft.process_id == process_id, ProcessDraft.owner_id == deployed_by))
    return row


def reactivate(process_id: str, number: int, change_note: str, deployed_by: int) -> ProcessDefinition:
    """Make version `number` active again: deployed again as the newest version."""
    older = version(process_id, number)
    with transaction():
        return deploy_again(older, deployed_by, change_note, commit=False)


def _still_active(process_id: str, seen_version: int | None) -> None:
    active = db.session.scalar(select(func.max(ProcessDefinition.version))
                               .where(ProcessDefinition.process_id == process_id))
    if seen_version is not None and active != seen_version:
        raise Conflict(f"编辑期间其他管理员已部署了第 {active} 版（你是从第 {seen_version} 版开始编辑的）："
                       "请先对比两版，再决定是否部署")
