"""BPMN carries no code: scripts are refused, expressions are our own small language.

Hostile input as an administrator editing a flow in the browser could write it: refused at
deploy naming the element, and — if it reached the database behind deploy's back — refused at
run time without running anything.
"""
from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from app.engine import DeployError, ScriptError, deploy, start
from app.engine import definitions as definitions_module
from app.engine.errors import DefinitionRefused
from app.engine.expressions import MAX_NODES, MAX_SOURCE, MAX_TEXT, ExpressionError, check
from app.engine.models import ProcessDefinition, ProcessInstance
from app.engine.scripting import ENVIRONMENT, evaluate
from app.extensions import db
from tests.engine.helpers import count
from tests.engine.test_deploy import SCRIPT_TEMPLATE, script_bpmn
from tests.factories import commit

# The escape the attacker used: an exception's traceback walks up to a frame whose builtins
# hold __import__. As a script task it deployed and ran `id > pwned.txt` in the web worker.
FRAME_WALK = """try:
    1/0
except Exception as ex:
    match ex:
        case Exception(__traceback__=tb):
            pass
tb.tb_frame.f_back.f_builtins['__import__']('os').system('id > {target}')"""

HOSTILE_EXPRESSIONS = [
    # frame walking, dunder and builtins reached by attribute, name or string subscript
    "().__class__.__bases__[0].__subclasses__()",
    "deadline.__globals__['__builtins__']['__import__']('os')",
    "__builtins__['__import__']('os').system('id')",
    "__import__('os').system('id')",
    "x.__class__",
    "x.get('a').__class__.__mro__",
    "x.get.__self__",
    "type(x).__mro__",
    "getattr(x, '__class__')",
    # plain dangerous builtins
    "open('/etc/passwd').read()",
    "eval('1 + 1')",
    "exec('import os')",
    "compile('1', 'f', 'eval')",
    "breakpoint()",
    # format-string attribute access and formatting operators
    "'{0.__class__}'.format(x)",
    "'{x.__class__}'.format_map(x)",
    "'%s' % x",
    "f'{x.__class__}'",
    # loops of any kind, lambdas, generators, walrus
    "[c for c in x]",
    "{k: 1 for k in x}",
    "(y for y in x)",
    "(lambda: 1)()",
    "(y := 1)",
    "x.pop()",
    # giant loops, numbers and strings
    "sum(range(10**12))",
    "10**10**8",
    "'x' * 10**10",
    "1 << 100000",
    "123456789012345678901234567890",
    "deadline(*x)",
    "deadline(**x)",
    "x[1:10**9]",
    "-" * 100 + "1",
    " + ".join(["x"] * (MAX_NODES // 2 + 1)),
    "'" + "a" * (MAX_SOURCE + 1) + "'",
    # statements are not expressions (the escape above, as a condition)
    "import os",
    FRAME_WALK.format(target="pwned.txt"),
    "x is 1",
]


@pytest.mark.parametrize("source", HOSTILE_EXPRESSIONS)
def test_hostile_expressions_are_not_in_the_language(source):
    with pytest.raises(ExpressionError) as err:
        check(source, {"deadline": lambda name: name})
    assert "表达式" in str(err.value)


def test_refusals_name_the_construct():
    cases = {
        "x.__class__": "属性访问 .__class__", "10**10**8": "乘方（**）", "'x' * 3": "乘法（*）",
        "'%s' % x": "取模或格式化（%）", "[c for c in x]": "列表推导式", "(lambda: 1)()": "lambda",
        "f'{x}'": "f-string", "open('x')": "未注册的函数 open", "__builtins__": "以下划线开头的名称",
        "x[1:2]": "切片", "12345678901234567890": "整数常量过大", "import os": "语法错误",
    }
    for source, message in cases.items():
        with pytest.raises(ExpressionError) as err:
            check(source, {"deadline": lambda name: name})
        assert message in str(err.value), (source, str(err.value))


SHIPPED = [
    ("decision == 'approve'", {"decision": "approve"}, True),
    ("provider_department_id is not None", {"provider_department_id": 3}, True),
    ("platform_authorisation_enabled and authorisation_mode == 'platform'",
     {"platform_authorisation_enabled": True, "authorisation_mode": "provider"}, False),
    ("grant['valid_until']", {"grant": {"valid_until": "2026-01-01"}}, "2026-01-01"),
    ("'平台已' + ('同意' if decision == 'approve' else '不同意') + '授权使用资源：' + entry_name",
     {"decision": "refuse", "entry_name": "人口库"}, "平台已不同意授权使用资源：人口库"),
    ("['applicant', 'office']", {}, ["applicant", "office"]),
    ("rectified_department_name + '：' + description + '。请于 ' + deadline + ' 前完成整改'",
     {"rectified_department_name": "市公安局", "description": "目录未更新", "deadline": "12月4日"},
     "市公安局：目录未更新。请于 12月4日 前完成整改"),
    ("routing.get('received_at', 'none')", {"routing": {}}, "none"),
    ("items[0] in ['a', 'b'] and not closed", {"items": ["b"], "closed": False}, True),
    ("count - 1 > -2", {"count": 0}, True),
    ("1 < count <= 3", {"count": 3}, True),
    ("None", {}, None),
]


@pytest.mark.parametrize("source, data, expected", SHIPPED)
def test_what_the_flows_use_evaluates_as_python_would(source, data, expected):
    assert evaluate(source, data) == expected


def test_get_with_an_unhashable_key_gives_the_default():
    assert evaluate("x.get([1], 'none')", {"x": {"a": 1}}) == "none"
    assert evaluate("x.get([1])", {"x": {"a": 1}}) is None


def test_a_data_variable_may_share_a_function_name():
    # Bare names are data, called names are registered functions: `deadline` is both here.
    assert evaluate("deadline", {"deadline": "d"}) == "d"
    assert evaluate("deadline('reply')", {"deadline": "d"}).endswith("+00:00")


@pytest.mark.parametrize("source, data, message", [
    ("missing == 1", {}, "没有变量 missing"),
    ("x.get('a')", {"x": [1]}, ".get 只能用于字典"),
    ("x['k']", {"x": {}}, "没有键"),
    ("x[5]", {"x": [1]}, "超出范围"),
    ("x['0']", {"x": [1]}, "下标必须是整数"),
    ("x + 1", {"x": "a"}, "不能相加"),
    ("x + x", {"x": "a" * (MAX_TEXT // 2 + 1)}, f"超过 {MAX_TEXT} 个字符"),
    ("x < 1", {"x": "a"}, "不能比较"),
    ("1 in x", {"x": 5}, "不能比较"),
    ("-x", {"x": "a"}, "负号只能用于数字"),
    ("nothing('x')", {}, "未注册的函数 nothing"),
    ("x[[1]]", {"x": {}}, "没有键"),  # an unhashable key is not a Python TypeError
])
def test_run_time_errors_are_clear_and_bounded(source, data, message):
    with pytest.raises(ExpressionError) as err:
        evaluate(source, data)
    assert message in str(err.value)


def test_the_environment_runs_no_script():
    data = {"items": [1]}
    with pytest.raises(ScriptError) as err:
        ENVIRONMENT.execute("items.append(2)", data)
    assert "不允许脚本" in str(err.value) and data == {"items": [1]}


# ---- deploy: the element is named, nothing is stored

def _with_condition(bpmn, source: str) -> bytes:
    return bpmn("approval.bpmn").read_bytes().replace(b"approved == True", escape(source).encode())


@pytest.mark.parametrize("source", HOSTILE_EXPRESSIONS)
def test_deploy_refuses_hostile_conditions_naming_the_gateway(app, bpmn, source):
    with pytest.raises(DeployError) as err:
        deploy(_with_condition(bpmn, source))
    assert err.value.element_id == "decision"
    assert count(ProcessDefinition) == 0


def _user_task(props: str) -> bytes:
    body = ('<bpmn:userTask id="node" name="办理"><bpmn:extensionElements>'
            f'{props}</bpmn:extensionElements>'
            '<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>')
    return SCRIPT_TEMPLATE.format(body=body).encode()


@pytest.mark.parametrize("xml, where", [
    (lambda t: script_bpmn(escape(FRAME_WALK.format(target=t))), "脚本任务"),
    (lambda t: _user_task(f"<spiffworkflow:preScript>{escape(FRAME_WALK.format(target=t))}"
                          "</spiffworkflow:preScript>"), "前置脚本"),
    (lambda t: _user_task(f"<spiffworkflow:postScript>{escape(FRAME_WALK.format(target=t))}"
                          "</spiffworkflow:postScript>"), "后置脚本"),
])
def test_deploy_refuses_the_frame_walking_escape_in_every_script_place(app, tmp_path, xml, where):
    target = tmp_path / "pwned.txt"
    with pytest.raises(DeployError) as err:
        deploy(xml(target))
    assert err.value.element_id == "node" and where in str(err.value)
    assert count(ProcessDefinition) == 0 and not target.exists()


def test_deploy_refuses_business_rule_tasks(app):
    body = ('<bpmn:businessRuleTask id="node" name="决策表"><bpmn:incoming>f1</bpmn:incoming>'
            '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:businessRuleTask>')
    with pytest.raises(DeployError) as err:
        deploy(SCRIPT_TEMPLATE.format(body=body).encode())
    assert err.value.element_id == "node" and "业务规则任务" in str(err.value)


@pytest.mark.parametrize("prop, message", [
    ("candidate_department", "候选部门"), ("due", "办理期限"), ("reminder", "催办时间"),
])
def test_deploy_refuses_hostile_task_properties(app, prop, message):
    xml = _user_task(f'<spiffworkflow:properties><spiffworkflow:property name="{prop}" '
                     f'value="{escape(HOSTILE_EXPRESSIONS[0])}" /></spiffworkflow:properties>')
    with pytest.raises(DeployError) as err:
        deploy(xml)
    assert err.value.element_id == "node" and message in str(err.value)


def test_deploy_refuses_hostile_timer_and_service_parameters(app, bpmn):
    timer = bpmn("sla.bpmn").read_bytes().replace(b"deadline('reply')</bpmn:timeDate>",
                                                  b"sum(range(10**12))</bpmn:timeDate>")
    with pytest.raises(DeployError) as err:
        deploy(timer)
    assert err.value.element_id == "reply_escalation"
    param = bpmn("approval.bpmn").read_bytes().replace(b'value="comment"', b'value="10**10**8"')
    with pytest.raises(DeployError) as err:
        deploy(param)
    assert err.value.element_id == "note_approval" and "乘方" in str(err.value)


def test_deploy_refuses_calls_of_unregistered_functions(app, bpmn):
    with pytest.raises(DeployError) as err:
        deploy(_with_condition(bpmn, "no_such_function(approved)"))
    assert err.value.element_id == "decision" and "no_such_function" in str(err.value)


def test_every_shipped_flow_deploys():
    # (the product's own flows, with the product's functions: tests/flows run them end to end)
    root = Path(__file__).resolve().parents[2] / "bpmn"
    from app.sla.deadlines import SCRIPT_FUNCTIONS

    for path in sorted(root.glob("*.bpmn")):
        definitions_module.compile_bpmn(path.read_bytes(), path.name, check_registries=False)
        for source in _expressions_in(path.read_bytes()):
            check(source, SCRIPT_FUNCTIONS)


def _expressions_in(xml: bytes) -> list[str]:
    from lxml import etree

    root = etree.fromstring(xml)
    found = [e.text for e in root.iter("{*}conditionExpression", "{*}timeDate") if (e.text or "").strip()]
    found += [p.get("value") for p in root.iter("{*}parameter")]
    return found


# ---- run time: a definition that never went through deploy does not run

def _plant(xml: bytes, process_id: str = "engine_template", version: int = 1) -> ProcessDefinition:
    """Insert a definition row directly, as someone with database access could."""
    text = xml.decode()
    db.session.execute(insert(ProcessDefinition).values(
        process_id=process_id, name="planted", version=version, bpmn_xml=text,
        content_hash=hashlib.sha256(xml).hexdigest(), file_name="planted.bpmn"))
    commit()
    return db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == process_id,
                                                             ProcessDefinition.version == version))


def test_a_planted_script_is_refused_at_run_time(app, tmp_path):
    target = tmp_path / "pwned.txt"
    _plant(script_bpmn(escape(FRAME_WALK.format(target=target))))
    with pytest.raises(DefinitionRefused) as err:
        start("engine_template", "EVIL-1", {}, None)
    assert "未通过安全检查" in str(err.value) and "脚本任务" in str(err.value)
    assert err.value.element_id == "node"
    assert count(ProcessInstance) == 0 and not target.exists()


def test_a_planted_hostile_expression_is_refused_at_run_time(app, bpmn, tmp_path):
    _plant(_with_condition(bpmn, "__import__('os').system('id')"), "engine_approval")
    with pytest.raises(DefinitionRefused) as err:
        start("engine_approval", "EVIL-2", {}, None)
    assert err.value.element_id == "decision"
    assert count(ProcessInstance) == 0


def test_a_definition_edited_in_the_database_is_refused(app, bpmn):
    row = deploy(bpmn("approval.bpmn"))
    definitions_module._SPEC_CACHE.clear()  # a fresh worker: nothing parsed yet
    row.bpmn_xml = row.bpmn_xml.replace("审核申请", "审核申请（改）")  # hash left as it was
    commit()
    with pytest.raises(DefinitionRefused) as err:
        start("engine_approval", "EDIT-1", {}, None)
    assert "哈希不符" in str(err.value)


def test_scripts_slipping_past_deploy_still_cannot_run(app, monkeypatch, tmp_path):
    # Defence in depth: even with both deploy-time refusals switched off, the environment
    # refuses the script when SpiffWorkflow reaches it, and the step rolls back.
    target = tmp_path / "pwned.txt"
    monkeypatch.setattr(definitions_module, "_refuse_code", lambda *a, **k: None)
    monkeypatch.setattr(definitions_module, "_refuse_scripts", lambda *a, **k: None)
    deploy(script_bpmn(escape(FRAME_WALK.format(target=target))))
    with pytest.raises(ScriptError) as err:
        start("engine_template", "EVIL-3", {}, None)
    assert "不允许脚本" in str(err.value)
    assert count(ProcessInstance) == 0 and not target.exists()


def test_start_up_check_names_every_refused_version(app, bpmn, runner, caplog):
    deploy(bpmn("approval.bpmn"))
    _plant(script_bpmn("x = 1"))
    definitions_module._SPEC_CACHE.clear()
    result = runner.invoke(args=["bpmn", "verify"])
    assert result.exit_code == 1
    assert "通过   engine_approval 第 1 版" in result.output
    assert "拒绝   流程定义 engine_template 第 1 版未通过安全检查" in result.output
    from app.engine import ensure_deployed

    old = app.config["BPMN_DIR"]
    app.config["BPMN_DIR"] = str(bpmn("none").parent / "no-such-dir")
    try:
        with caplog.at_level("ERROR"):
            ensure_deployed(app)
    finally:
        app.config["BPMN_DIR"] = old
    assert any("engine_template 第 1 版" in r.getMessage() for r in caplog.records)
    assert db.session.scalar(select(func.count()).select_from(ProcessDefinition)) == 2
