"""The administrator's studio in a real browser (Debian's Chromium driven by Playwright).

An administrator opens conditional_share in the modeler, changes the provider review's deadline
and the provider lane's role in the panel, sees bpmnlint flag an unknown deadline name and fixes
it, deploys; a new application runs the new version while the running ones keep theirs; the
comparison shows the change; the dry-run migration reports each running instance and migrating
moves the safe one (its task and timers follow). Then every shipped diagram makes the round trip
through the modeler and still deploys to the same engine spec. Zero console errors throughout.
"""
from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.clock import LOCAL_TZ
from app.engine.definitions import compile_bpmn
from app.extensions import db
from tests.web.browser import (
    PDF,
    LiveServer,
    require_chromium,
)

pytestmark = pytest.mark.browser

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=LOCAL_TZ)
FLOW = "conditional_share"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with LiveServer(tmp_path_factory.mktemp("studio")) as live, time_machine.travel(NOW, tick=True):
        yield live


def file_application(server: LiveServer, applicant: str, purpose: str, *, accept: bool) -> str:
    """An application filed through the services the pages call; the office accepts it when asked."""
    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask
    from app.flows.applications import start_application
    from app.flows.tasks import complete_task
    from app.org.models import User

    with server.context():
        user = db.session.scalar(select(User).where(User.username == applicant))
        entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-001"))
        letter = FileStorage(io.BytesIO(PDF), "申请函.pdf", content_type="application/pdf")
        application = start_application(user, entry, {
            "entry_id": entry.id, "purpose": purpose, "requested_scope": "相关业务",
            "items": [entry.items[0].name], "legal_basis": "《政务信息资源共享管理暂行办法》第十条",
            "requested_valid_from": "2026-11-18", "requested_valid_until": "2027-11-17",
        }, letter)
        if accept:
            reviewer = db.session.scalar(select(User).where(User.username == "dsj.reviewer"))
            review = db.session.scalar(select(HumanTask).where(
                HumanTask.instance_id == application.instance_id, HumanTask.state == "ready"))
            complete_task(reviewer, review.id, {"decision": "accept"})
        return application.business_key


def run_of(server: LiveServer, business_key: str) -> dict:
    """The version an instance runs, its open tasks and its waiting timers' events."""
    from app.engine.models import HumanTask, ProcessInstance, WorkflowTimer

    with server.context():
        instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
        tasks = db.session.scalars(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.state == "ready")).all()
        timers = db.session.scalars(select(WorkflowTimer).where(
            WorkflowTimer.instance_id == instance.id, WorkflowTimer.state == "waiting")).all()
        return {"version": instance.definition.version, "tasks": {t.task_spec: t.due_at for t in tasks},
                "timers": sorted((t.task_spec, t.due_at) for t in timers)}


def select_element(page, element_id: str) -> None:
    page.evaluate("""(id) => { const m = window.studioModeler;
        m.get('selection').select(m.get('elementRegistry').get(id)); }""", element_id)
    page.wait_for_selector("#studio-panel [data-group-id='group-dsp-platform']")
    header = page.locator("#studio-panel [data-group-id='group-dsp-platform'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def problems(page) -> list[str]:
    return page.locator("#studio-problems li").all_inner_texts()


def test_the_administrator_changes_deploys_compares_and_migrates_conditional_share(session, server):
    at_formal_review = file_application(server, "rsj.applicant", "社会保险参保资格核验", accept=False)
    at_provider_review = file_application(server, "mzj.applicant", "最低生活保障家庭车辆核查", accept=True)
    before = run_of(server, at_formal_review)
    assert before["version"] == 1 and list(before["tasks"]) == ["formal_review"]
    assert list(run_of(server, at_provider_review)["tasks"]) == ["provider_review"]

    s = session("dsj.admin")
    page = s.page
    s.nav("流程管理")
    page.locator(f"#flows tr[data-flow='{FLOW}']").get_by_role("link", name="编辑").click()
    page.wait_for_selector("#studio.loaded")
    page.wait_for_function("document.getElementById('studio-status').textContent.includes('服务器检查通过')")
    assert not [p for p in problems(page) if "错误" in p or "未登记" in p]
    s.shot("studio-modeler")

    # The provider review now counts the platform's authorisation period (a choice, not XML).
    select_element(page, "provider_review")
    page.select_option("#bio-properties-panel-dsp-deadline", "platform_authorisation")
    assert page.evaluate("""() => { const m = window.studioModeler, r = m.get('elementRegistry');
        const body = (id) => { const d = r.get(id).businessObject.eventDefinitions[0];
                              return (d.timeDate || d.timeDuration || d.timeCycle).body; };
        return [body('provider_review_reminder'), body('provider_review_escalation')]; }""") == [
        "reminder('platform_authorisation')", "deadline('platform_authorisation')"]
    s.shot("studio-panel-deadline")

    # The provider lane's candidates become the office's reviewers.
    select_element(page, "lane_provider")
    page.select_option("#bio-properties-panel-dsp-role", "office_reviewer")

    # A typo in a timer's deadline: bpmnlint names it at once; clicking the problem selects the timer.
    page.evaluate("""() => { const m = window.studioModeler, el = m.get('elementRegistry').get('provider_review_reminder');
        const d = el.businessObject.eventDefinitions[0], expr = d.timeDate || d.timeDuration || d.timeCycle;
        m.get('modeling').updateModdleProperties(el, expr, { body: "reminder('platform_authorisaton')" }); }""")
    typo = page.locator("#studio-problems li", has_text="platform_authorisaton")
    typo.wait_for()
    assert "[provider_review_reminder]" in typo.inner_text()
    assert page.locator(".djs-element[data-element-id='provider_review_reminder']").count() == 1
    typo.scroll_into_view_if_needed()
    s.shot("studio-lint-problem")
    typo.get_by_role("button").click()
    assert page.evaluate("window.studioModeler.get('selection').get().map(e => e.id)") == ["provider_review_reminder"]
    header = page.locator("#studio-panel [data-group-id='group-dsp-platform'] .bio-properties-panel-group-header")
    if "open" not in (header.get_attribute("class") or ""):
        header.click()
    page.select_option("#bio-properties-panel-dsp-timer", "platform_authorisation")
    typo.wait_for(state="detached")

    # The server's own check agrees, then the deploy asks for a change note first.
    page.locator("#studio-check").click()
    page.wait_for_function("document.getElementById('studio-status').textContent.includes('服务器检查通过')")
    page.locator("#studio-deploy").click()
    with s.expect_status(422):  # refused on the server: nothing deployed, the dialog says why
        page.locator("#deploy-confirm").click()
        page.locator("#change_note-error").wait_for()
    assert "变更说明" in page.locator("#change_note-error").inner_text()
    page.fill("#change_note", "提供部门审核按平台授权期限办理；提供部门泳道改由主管部门审核人办理")
    s.shot("studio-deploy-dialog")
    page.locator("#deploy-confirm").click()
    page.wait_for_url(re.compile(rf".*/admin/flows/{FLOW}$"))
    assert "提供部门审核按平台授权期限办理" in page.locator("main").inner_text()

    # New work runs version 2; running work keeps version 1.
    fresh = file_application(server, "zjj.applicant", "住房保障申请人身份核验", accept=True)
    assert run_of(server, fresh)["version"] == 2
    assert run_of(server, at_formal_review)["version"] == 1

    # The comparison: both diagrams, the changed task coloured, the change in words.
    page.get_by_role("link", name="与上一版对比").first.click()
    page.wait_for_selector("#compare.loaded")
    assert page.locator("#compare-new .djs-element.diff-changed[data-element-id='provider_review']").count() == 1
    changes = page.locator("#changes li").all_inner_texts()
    assert any("provider_review" in c or "提供部门审核" in c for c in changes), changes
    assert any("platform_authorisation" in c for c in changes), changes
    assert any("lane_provider" in c and "office_reviewer" in c for c in changes), changes
    assert not any("gw_provider_decision" in c for c in changes), changes  # a gateway has no candidates
    s.shot("studio-compare", full_page=True)

    # Dry run: the application at formal review is safe, the one at provider review is not.
    page.get_by_role("link", name="迁移运行中的办件…").click()
    assert page.locator(f"#verdicts tr[data-key='{at_formal_review}']").get_attribute("data-safe") == "yes"
    unsafe = page.locator(f"#verdicts tr[data-key='{at_provider_review}']")
    assert unsafe.get_attribute("data-safe") == "no" and "provider_review" in unsafe.inner_text()
    s.shot("studio-migrate-dry-run", full_page=True)
    page.locator("#migrate-form input[name=confirm]").check()
    page.locator("#migrate-form button[type=submit]").click()
    page.wait_for_load_state()

    moved = run_of(server, at_formal_review)
    assert moved["version"] == 2
    assert moved["tasks"] == before["tasks"] and moved["timers"] == before["timers"]  # due dates kept
    assert run_of(server, at_provider_review)["version"] == 1
    assert page.locator(f"#verdicts tr[data-key='{at_formal_review}']").count() == 0


SHIPPED_ROUND_TRIP = """async () => {
  const m = window.studioModeler, out = {};
  for (const [name, xml] of Object.entries(window.__shipped)) {
    await m.importXML(xml);
    out[name] = (await m.saveXML({ format: true })).xml;
  }
  return out;
}"""


def test_every_shipped_diagram_survives_the_round_trip_through_the_modeler(session, server):
    """Saved by the modeler, each file still deploys (same server check) to the same engine spec."""
    shipped = {path.name: path.read_text(encoding="utf-8")
               for path in sorted(Path(server.app.config["BPMN_DIR"]).glob("*.bpmn"))}
    s = session("dsj.admin")
    page = s.go(f"/admin/flows/{FLOW}/edit")
    page.wait_for_selector("#studio.loaded")
    page.evaluate("(files) => { window.__shipped = files; }", shipped)
    saved = page.evaluate(SHIPPED_ROUND_TRIP)
    assert sorted(saved) == sorted(shipped) and len(saved) >= 8
    with server.context():
        for name, xml in saved.items():
            again, original = compile_bpmn(xml.encode(), name), compile_bpmn(shipped[name].encode(), name)
            assert what_runs(again) == what_runs(original), name
            response = s.context.request.post(f"{server.url}/admin/flows/{original.process_id}/check",
                                              data={"xml": xml}, headers={"X-CSRFToken": csrf(page)})
            assert response.status == 200 and response.json()["problems"] == [], (name, response.json())


def what_runs(compiled) -> tuple:
    """The engine's view of a document: the specs SpiffWorkflow runs (serialized) and our mirrors'
    settings (roles, forms, deadlines, timers) — equal means every test of the file still holds."""
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    return (serializer.to_dict(compiled.spec),
            {name: serializer.to_dict(spec) for name, spec in compiled.subprocess_specs.items()},
            compiled.user_tasks, compiled.timers)


def csrf(page) -> str:
    return page.locator("meta[name='csrf-token']").get_attribute("content")
