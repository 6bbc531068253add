"""The administrator's studio through HTTP (Flask test client, real database, the real diagrams):
flow list and versions, the server's check, drafts, deploy with a change note, making an older
version active again, comparison in words, the migration's dry run and move. Frozen clock."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.engine import instance_by_key, latest_definition
from app.engine.models import ProcessDefinition, ProcessDraft
from app.extensions import db
from tests import factories as f

OTHER_MODELER = Path(__file__).resolve().parent / "bpmn" / "other_modeler.bpmn"


@pytest.fixture(autouse=True)
def _no_csrf(no_csrf):
    pass


@pytest.fixture()
def admin(client, city, deployed):
    # `deployed`: the conditional-share diagram as version 1, the product's functions registered
    f.login(client, "dsj.admin")
    return client


def versions(process_id="conditional_share") -> list[int]:
    return list(db.session.scalars(select(ProcessDefinition.version)
                                   .where(ProcessDefinition.process_id == process_id).order_by(ProcessDefinition.version)))


def shared_xml() -> str:
    return latest_definition("conditional_share").bpmn_xml


def renamed(xml: str) -> str:
    return xml.replace("('provider_review')", "('platform_authorisation')")


def post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_only_administrators_use_the_studio(client, city):
    f.login(client, "dsj.reviewer")
    assert client.get("/admin/flows/").status_code == 403
    assert post_json(client, "/admin/flows/conditional_share/check", {"xml": "<x/>"}).status_code == 403


def test_the_flow_list_shows_every_flow_with_its_active_version_and_running_work(client, deployed, flow, cases, entries,
                                                                                  city, clock):
    flow.apply(city.health_applicant, entries.conditional)
    f.login(client, "dsj.admin")  # after the API calls: a bearer request ends the page session
    admin = client
    html = admin.get("/admin/flows/").get_data(as_text=True)
    for process_id in ("conditional_share", "revocation", "rectification", "catalogue_review"):
        assert f'data-flow="{process_id}"' in html
    page = admin.get("/admin/flows/conditional_share").get_data(as_text=True)
    assert "第 1 版" in page and "当前生效" in page and "系统（命令行部署）" in page
    assert admin.get("/admin/flows/no_such_flow").status_code == 404


def test_a_diagram_from_another_modeler_is_refused_element_by_element(admin):
    xml = OTHER_MODELER.read_text(encoding="utf-8")
    problems = post_json(admin, "/admin/flows/conditional_share/check", {"xml": xml}).json["problems"]
    by_element = {(p["element_id"], p["message"].split("：")[0]) for p in problems}
    assert ("Activity_review", "使用了本平台不支持的扩展属性 assignee（http") in {
        (e, m.split("://")[0]) for e, m in by_element}
    assert {p["element_id"] for p in problems} == {"Activity_review", "Activity_notify", "Gateway_big"}
    assert any("服务任务没有选择服务动作" in p["message"] for p in problems)
    assert any("没有候选角色" in p["message"] for p in problems)
    assert any("顺序流 Flow_big 的条件表达式" in p["message"] for p in problems)
    refused = post_json(admin, "/admin/flows/conditional_share/deploy",
                        {"xml": xml, "change_note": "换用外部建模工具", "confirm": True})
    assert refused.status_code == 422 and len(refused.json["problems"]) == len(problems)
    assert versions() == [1]
    # not XML at all: one clear reason, never a 500
    broken = post_json(admin, "/admin/flows/conditional_share/check", {"xml": "<bpmn:definitions"})
    assert broken.status_code == 200 and "不是格式正确的 XML" in broken.json["problems"][0]["message"]


def test_a_deadline_without_its_reminder_and_escalation_is_refused(admin):
    xml = shared_xml()
    start = xml.index('<bpmn:boundaryEvent id="provider_review_reminder"')
    end = xml.index("</bpmn:boundaryEvent>", start) + len("</bpmn:boundaryEvent>")
    problems = post_json(admin, "/admin/flows/conditional_share/check", {"xml": xml[:start] + xml[end:]}).json["problems"]
    assert any(p["element_id"] == "provider_review" and "缺少催办定时器" in p["message"] for p in problems)


def test_a_draft_is_kept_per_administrator_and_discarded_after_asking(admin, city):
    xml = renamed(shared_xml())
    saved = post_json(admin, "/admin/flows/conditional_share/draft", {"xml": xml, "base_version": 1})
    assert saved.json == {"saved": True, "problems": []}
    opened = admin.get("/admin/flows/conditional_share/edit/diagram").json
    assert opened["from_draft"] and opened["xml"] == xml and opened["base_version"] == 1
    assert "继续编辑草稿" in admin.get("/admin/flows/conditional_share").get_data(as_text=True)
    assert "放弃草稿？" in admin.get("/admin/flows/conditional_share/draft/discard").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ProcessDraft)) == 1  # asking changes nothing
    admin.post("/admin/flows/conditional_share/draft/discard")
    assert db.session.scalar(select(func.count()).select_from(ProcessDraft)) == 0
    assert not admin.get("/admin/flows/conditional_share/edit/diagram").json["from_draft"]
    assert post_json(admin, "/admin/flows/conditional_share/draft", {}).status_code == 422


def test_deploy_needs_a_change_note_and_a_confirmation_then_is_the_active_version(admin, city):
    xml = renamed(shared_xml())
    post_json(admin, "/admin/flows/conditional_share/draft", {"xml": xml, "base_version": 1})
    no_note = post_json(admin, "/admin/flows/conditional_share/deploy", {"xml": xml, "confirm": True})
    assert no_note.status_code == 422 and "change_note" in no_note.json["errors"]["json"]
    unconfirmed = post_json(admin, "/admin/flows/conditional_share/deploy", {"xml": xml, "change_note": "x"})
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.json["errors"]["json"]
    assert versions() == [1]
    done = post_json(admin, "/admin/flows/conditional_share/deploy",
                     {"xml": xml, "change_note": "提供部门审核改为 2 个工作日", "seen_version": 1, "confirm": True})
    assert done.status_code == 200 and done.json["version"] == 2
    row = latest_definition("conditional_share")
    assert (row.version, row.change_note, row.deployed_by) == (2, "提供部门审核改为 2 个工作日", city.admin.id)
    assert db.session.scalar(select(func.count()).select_from(ProcessDraft)) == 0  # the draft became the version
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "engine.definition_deployed")
                              .order_by(AuditEntry.id.desc()))
    assert entry.actor_name == "dsj.admin" and entry.after["change_note"] == "提供部门审核改为 2 个工作日"
    again = post_json(admin, "/admin/flows/conditional_share/deploy",
                      {"xml": xml, "change_note": "再来一次", "seen_version": 2, "confirm": True})
    assert again.status_code == 409 and "第 2 版完全相同" in again.json["message"]
    stale = post_json(admin, "/admin/flows/conditional_share/deploy",
                      {"xml": shared_xml().replace("提供部门审核", "提供部门审批"), "change_note": "改名",
                       "seen_version": 1, "confirm": True})
    assert stale.status_code == 409 and "其他管理员已部署了第 2 版" in stale.json["message"]
    assert versions() == [1, 2]


def test_an_older_version_is_made_active_again_by_deploying_it_again(admin, city):
    post_json(admin, "/admin/flows/conditional_share/deploy",
              {"xml": renamed(shared_xml()), "change_note": "改期限", "confirm": True})
    assert "确认重新启用" in admin.get("/admin/flows/conditional_share/versions/1/reactivate").get_data(as_text=True)
    refused = admin.post("/admin/flows/conditional_share/versions/1/reactivate", data={"change_note": ""})
    assert "请填写变更说明" in refused.get_data(as_text=True) and versions() == [1, 2]
    admin.post("/admin/flows/conditional_share/versions/1/reactivate", data={"change_note": "恢复 10 个工作日"})
    assert versions() == [1, 2, 3]
    v1, v3 = (db.session.scalar(select(ProcessDefinition).where(ProcessDefinition.process_id == "conditional_share",
                                                                ProcessDefinition.version == n)) for n in (1, 3))
    assert v3.bpmn_xml.startswith(v1.bpmn_xml.rstrip()) and "重新启用第 1 版" in v3.bpmn_xml
    changes = admin.get("/admin/flows/conditional_share/compare?a=1&b=3").get_data(as_text=True)
    assert "两个版本的流程内容相同" in changes


def test_the_comparison_lists_the_changes_in_words(admin):
    xml = renamed(shared_xml()).replace('name="提供部门审核"', 'name="提供部门审批"')
    post_json(admin, "/admin/flows/conditional_share/deploy", {"xml": xml, "change_note": "改期限", "confirm": True})
    html = admin.get("/admin/flows/conditional_share/compare?a=1&b=2").get_data(as_text=True)
    assert "改名「提供部门审核」→「提供部门审批」" in html
    assert "办理期限 deadline(&#39;provider_review&#39;) → deadline(&#39;platform_authorisation&#39;)" in html
    assert "/admin/flows/conditional_share/versions/1.bpmn" in html
    assert admin.get("/admin/flows/conditional_share/versions/1.bpmn").headers["Content-Type"].startswith("application/xml")
    assert admin.get("/admin/flows/conditional_share/compare?a=1&b=9").status_code == 404


def test_the_migration_page_reports_each_running_instance_and_moves_the_safe_ones(client, deployed, flow, entries, city,
                                                                                   clock):
    at_formal = flow.apply(city.health_applicant, entries.conditional)
    at_provider = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, at_provider, "formal_review", {"decision": "accept"})
    f.login(client, "dsj.admin")
    admin = client
    post_json(admin, "/admin/flows/conditional_share/deploy",
              {"xml": renamed(shared_xml()), "change_note": "改期限", "confirm": True})
    page = admin.get("/admin/flows/conditional_share/migrate?a=1&b=2").get_data(as_text=True)
    assert f'data-key="{at_formal}" data-safe="yes"' in page
    assert f'data-key="{at_provider}" data-safe="no"' in page
    assert "当前环节「提供部门审核」（provider_review）在新版本中有改动" in page
    admin.post("/admin/flows/conditional_share/migrate?a=1&b=2", data={})  # not confirmed: nothing moves
    assert instance_by_key(at_formal).definition.version == 1
    admin.post("/admin/flows/conditional_share/migrate?a=1&b=2", data={"confirm": "yes"})
    db.session.expire_all()
    assert (instance_by_key(at_formal).definition.version, instance_by_key(at_provider).definition.version) == (2, 1)
    moved = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "engine.instance_migrated"))
    assert moved.actor_name == "dsj.admin" and moved.after["version"] == 2


def test_an_expression_is_checked_as_typed(admin):
    assert post_json(admin, "/admin/flows/expression", {"source": "decision == 'approve'"}).json == {"ok": True, "message": None}
    bad = post_json(admin, "/admin/flows/expression", {"source": "__import__('os')"}).json
    assert bad["ok"] is False and bad["message"]
    unknown = post_json(admin, "/admin/flows/expression", {"source": "deadline('no_such')"}).json
    assert unknown["ok"] is False and "no_such" in unknown["message"]
    assert post_json(admin, "/admin/flows/expression", {}).status_code == 422


def test_the_command_line_check_names_every_problem(runner):
    result = runner.invoke(args=["bpmn", "check", str(OTHER_MODELER)])
    assert result.exit_code == 1 and "不通过" in result.output
    assert result.output.count("  - ") == 5
