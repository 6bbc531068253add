"""Deploying BPMN: versions, refusals naming the element, CLI."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from app.engine import DeployError, deploy, start
from app.engine.models import ProcessDefinition, ProcessInstance
from app.extensions import db
from tests.engine.conftest import BPMN
from tests.engine.helpers import count, snapshot
from tests.engine.test_runtime import DATA, REQUESTER

SCRIPT_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_t" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="engine_template" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    {body}
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="node" />
    <bpmn:sequenceFlow id="f2" sourceRef="node" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def script_bpmn(script: str) -> bytes:
    body = ('<bpmn:scriptTask id="node" name="脚本"><bpmn:incoming>f1</bpmn:incoming>'
            f'<bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>')
    return SCRIPT_TEMPLATE.format(body=body).encode()


def user_task_bpmn(props: dict[str, str]) -> bytes:
    props_xml = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />' for k, v in props.items())
    body = ('<bpmn:userTask id="node" name="办理"><bpmn:extensionElements><spiffworkflow:properties>'
            f'{props_xml}</spiffworkflow:properties></bpmn:extensionElements>'
            '<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>')
    return SCRIPT_TEMPLATE.format(body=body).encode()


def test_versions_are_immutable_and_deduplicated(app, bpmn):
    first = deploy(bpmn("approval.bpmn"), deployed_by=5)
    assert (first.process_id, first.version, first.file_name, first.deployed_by) == (
        "engine_approval", 1, "approval.bpmn", 5)
    assert deploy(bpmn("approval.bpmn")).id == first.id          # same content → same version
    inst1 = start("engine_approval", "V-1", DATA, REQUESTER)
    changed = bpmn("approval.bpmn").read_text().replace("审核申请", "审核申请（新版）")
    second = deploy(changed.encode(), file_name="approval.bpmn")
    assert second.version == 2 and second.content_hash != first.content_hash
    inst2 = start("engine_approval", "V-2", DATA, REQUESTER)
    assert (inst1.definition_id, inst2.definition_id) == (first.id, second.id)
    assert count(ProcessDefinition) == 2


def test_malformed_xml_is_refused_with_line(app, bpmn):
    with pytest.raises(DeployError) as err:
        deploy(bpmn("malformed.bpmn"))
    assert err.value.line == 5 and "XML" in str(err.value)
    assert count(ProcessDefinition) == 0


def task_bpmn() -> bytes:
    body = ('<bpmn:task id="node" name="办理"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="candidate_role" value="reviewer" /></spiffworkflow:properties>'
            '</bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:task>')
    return SCRIPT_TEMPLATE.format(body=body).encode()


def test_invalid_bpmn_names_element(app):
    from app.engine.definitions import compile_bpmn

    compile_bpmn(task_bpmn())  # valid as it is
    xml = task_bpmn().replace(b'targetRef="end"', b'targetRef="nowhere"')
    with pytest.raises(DeployError) as err:
        deploy(xml)
    assert "BPMN" in str(err.value)
    assert count(ProcessDefinition) == 0


def test_unsafe_script_file_is_refused(app, bpmn):
    with pytest.raises(DeployError) as err:
        deploy(bpmn("bad_script.bpmn"))
    assert err.value.element_id == "sneaky_script" and err.value.line == 8
    assert "脚本任务" in str(err.value) and "sneaky_script" in str(err.value)


@pytest.mark.parametrize("script", [
    "data = open('/etc/passwd').read()",
    "os = __import__('os')",
    "x = eval('1 + 1')",
    "exec('x = 1')",
    "x = ().__class__.__bases__",
    "from os import path",
    "x = getattr(items, 'pop')",
    "x = '{0.__class__}'.format(items)",
    "x = compile('1', 'f', 'eval')",
    "global y\ny = 1",
])
def test_unsafe_scripts_are_refused_naming_the_element(app, script):
    with pytest.raises(DeployError) as err:
        deploy(script_bpmn(script))
    assert err.value.element_id == "node"
    assert count(ProcessDefinition) == 0


@pytest.mark.parametrize("props, message", [
    ({"form": "no_such_form"}, "no_such_form"),
    ({"candidate_department": "__import__('os').getpid()"}, "候选部门"),
    ({"due": "open('/x')"}, "办理期限"),
])
def test_user_task_properties_are_checked(app, props, message):
    with pytest.raises(DeployError) as err:
        deploy(user_task_bpmn(props))
    assert err.value.element_id == "node" and message in str(err.value)


def test_unsafe_condition_and_timer_expressions(app, bpmn):
    cond = bpmn("approval.bpmn").read_bytes().replace(b"approved == True", b"approved.__class__")
    with pytest.raises(DeployError) as err:
        deploy(cond)
    assert err.value.element_id == "decision"
    timer = bpmn("sla.bpmn").read_bytes().replace(b"deadline('reply')</bpmn:timeDate>",
                                                  b"open('reply')</bpmn:timeDate>")
    with pytest.raises(DeployError) as err:
        deploy(timer)
    assert err.value.element_id == "reply_escalation"


def test_a_user_task_without_a_role_is_refused(app):
    # a lane or task naming only a department would offer the task to all of its members
    with pytest.raises(DeployError) as err:
        deploy(user_task_bpmn({"candidate_department": "provider_department_id"}))
    assert err.value.element_id == "node" and "candidate_role" in str(err.value)
    assert count(ProcessDefinition) == 0
    deploy(user_task_bpmn({"candidate_department": "provider_department_id", "candidate_role": "provider_approver"}))


def test_unknown_service_verb_names_the_task(app, bpmn):
    with pytest.raises(DeployError) as err:
        deploy(bpmn("unknown_verb.bpmn"))
    assert err.value.element_id == "mystery_call" and "no_such_verb" in str(err.value)


def test_failed_deploys_leave_definitions_and_instances_untouched(app, bpmn, frozen):
    deploy(bpmn("approval.bpmn"))
    inst = start("engine_approval", "KEEP-1", DATA, REQUESTER)
    before = snapshot(inst.id)
    defs = [(d.id, d.version, d.content_hash) for d in db.session.scalars(select(ProcessDefinition))]
    for name in ("malformed.bpmn", "bad_script.bpmn", "unknown_verb.bpmn"):
        with pytest.raises(DeployError):
            deploy(bpmn(name))
    with pytest.raises(DeployError):
        deploy(bpmn("approval.bpmn").read_bytes().replace(b"approved == True", b"open('x')"))
    assert [(d.id, d.version, d.content_hash) for d in db.session.scalars(select(ProcessDefinition))] == defs
    assert snapshot(inst.id) == before
    assert count(ProcessInstance) == 1


def test_cli_deploy_reports_and_skips(app, runner, tmp_path):
    for name in ("approval.bpmn", "sla.bpmn"):
        shutil.copy(BPMN / name, tmp_path / name)
    app.config["BPMN_DIR"] = str(tmp_path)
    try:
        result = runner.invoke(args=["bpmn", "deploy"])
        assert result.exit_code == 0, result.output
        assert result.output.count("已部署") == 2
        result = runner.invoke(args=["bpmn", "deploy"])
        assert result.output.count("未变化") == 2
        result = runner.invoke(args=["bpmn", "deploy", str(BPMN / "bad_script.bpmn")])
        assert result.exit_code == 1 and "sneaky_script" in result.output
        result = runner.invoke(args=["bpmn", "list"])
        assert "engine_approval\tv1" in result.output
    finally:
        app.config["BPMN_DIR"] = str(BPMN.parent.parent.parent / "bpmn")
    assert count(ProcessDefinition) == 2


def test_ensure_deployed(app, tmp_path):
    from app.engine import ensure_deployed

    shutil.copy(BPMN / "sla.bpmn", tmp_path / "sla.bpmn")
    shutil.copy(BPMN / "bad_script.bpmn", tmp_path / "bad_script.bpmn")
    old = app.config["BPMN_DIR"]
    app.config["BPMN_DIR"] = str(tmp_path)
    try:
        outcomes = sorted((r[0].rsplit("/", 1)[-1], r[1]) for r in ensure_deployed(app))
    finally:
        app.config["BPMN_DIR"] = old
    assert outcomes == [("bad_script.bpmn", "failed"), ("sla.bpmn", "deployed")]
