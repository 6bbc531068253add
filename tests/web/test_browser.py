"""The conditional-share story in a real browser (Debian's Chromium driven by Playwright).

Applicant fills the form with a sealed letter, saves a draft on the server, comes back to it
from 共享申请 and submits it → office reviewer accepts → provider approver tries to
refuse without reasons (refused on the page), then approves → the applicant sees the grant.
Any console error or page error fails the test. Screenshots at 1366×768 go to
test-artifacts/screenshots/ (gitignored).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import time_machine

from tests.web.browser import (
    A11Y_SCRIPT,
    PDF,
    STORY_START,
    LiveServer,
    Session,
    earlier_work,
    require_chromium,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with LiveServer(tmp_path_factory.mktemp("browser")) as live:
        earlier_work(live)
        # The server runs in this process: the travelling clock moves its thread too.
        with time_machine.travel(STORY_START, tick=True):
            yield live


def _open_task(page, business_key: str) -> None:
    """From the inbox, open the task of `business_key` (claimed or in the group queue)."""
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="待办").click()
    row = page.locator("tr", has_text=business_key)
    if not row.count():
        page.get_by_role("link", name=re.compile("组内待办")).click()
        row = page.locator("tr", has_text=business_key)
    row.get_by_role("link", name="办理").click()
    page.wait_for_selector("#task-form")


def _wait_for_diagram(page) -> None:
    page.wait_for_selector("#diagram.loaded")
    assert page.locator(".djs-element.step-current").count() >= 1 or page.locator(".djs-element.step-done").count() >= 1


def test_conditional_share_story(session, server):
    # -- the applicant finds a conditional resource and applies with the sealed letter
    applicant = session("wjw.applicant")
    page = applicant.page
    applicant.nav("资源目录")
    page.get_by_label("关键词").fill("机动车")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name="机动车登记信息").click()
    assert page.get_by_text("有条件共享").first.is_visible()
    page.get_by_role("link", name="申请", exact=True).click()
    page.get_by_label("用途（履职事项）").fill("新生儿出生登记时核验监护人车辆信息")
    page.get_by_label("使用范围").fill("市卫生健康委员会出生登记业务")
    page.get_by_label("号牌号码").check()
    page.get_by_label("所有人").check()
    page.get_by_label("申请依据").fill("《母婴保健法》第二十三条")
    page.get_by_label("盖章申请函扫描件").set_input_files(
        files=[{"name": "申请函.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    # 保存草稿 is a server round trip: the form and the letter are kept on the server
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url(re.compile(r".*/applications/drafts/\d+$"))
    assert "草稿已保存" in page.locator(".flash-success").inner_text()
    assert page.locator("#stored-letter").inner_text().startswith("已上传：申请函.pdf")
    assert page.get_by_label("用途（履职事项）").input_value() == "新生儿出生登记时核验监护人车辆信息"
    assert page.get_by_label("号牌号码").is_checked() and page.get_by_label("所有人").is_checked()
    draft_url = page.url
    applicant.nav("共享申请")
    draft_row = page.locator("tr", has_text="机动车登记信息")
    assert draft_row.locator(".status-draft").inner_text() == "草稿"
    draft_row.get_by_role("link", name="继续填写").click()
    page.wait_for_url(draft_url)
    page.evaluate("window.scrollTo(0, 0)")
    applicant.shot("application-form")
    page.get_by_role("button", name="提交申请").click()  # the stored letter is used: no new file chosen
    page.wait_for_selector("#application-status")
    assert "申请已提交" in page.locator(".flash-success").inner_text()
    business_key = re.search(r"/applications/(SQ-\d{4}-\d+)", page.url).group(1)
    assert page.locator("#application-status").inner_text() == "办理中"
    assert page.locator(".current-steps", has_text="规范性审查").is_visible()
    _wait_for_diagram(page)

    # -- the office reviewer accepts (formal review, 南通 art. 21)
    reviewer = session("dsj.reviewer")
    page = reviewer.page
    _open_task(page, business_key)
    page.get_by_role("button", name="签收").click()
    page.wait_for_selector(".flash-success")
    page.get_by_label("受理").check()
    page.get_by_role("button", name="提交办理结果").click()
    dialog = page.locator("#confirm-dialog")
    assert dialog.is_visible() and "受理" in dialog.inner_text()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_selector(".flash-success")
    assert "已办理" in page.locator(".flash-success").inner_text()

    # -- the provider approver: a refusal without reasons is refused on the page, then approves
    approver = session("gaj.approver")
    page = approver.page
    approver.nav("待办")
    page.get_by_role("link", name=re.compile("组内待办")).click()
    assert page.locator("tr", has_text=business_key).is_visible()
    assert page.locator(".due-overdue").count() >= 1 and page.locator(".due-soon").count() >= 1
    approver.shot("inbox")
    _open_task(page, business_key)
    _wait_for_diagram(page)
    page.evaluate("window.scrollTo(0, 0)")
    approver.shot("task")
    approver.shot("task-full", full_page=True)
    page.get_by_label("不同意").check()
    assert page.get_by_label("不予共享的理由").is_visible()
    assert not page.get_by_label("批准的使用范围").is_visible()
    page.get_by_role("button", name="提交办理结果").click()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_selector("#form-errors")
    assert page.locator(".field-error", has_text="不予共享的，必须说明理由").is_visible()
    page.get_by_label("同意", exact=True).check()
    page.get_by_label("使用期限（止）").fill(page.get_by_label("使用期限（止）").input_value())
    # keyboard only: focus the submit button, Enter opens the dialog, Tab/Enter inside it
    page.get_by_role("button", name="提交办理结果").focus()
    page.keyboard.press("Enter")
    assert page.locator("#confirm-dialog").is_visible()
    assert page.evaluate("document.activeElement.id") == "confirm-yes"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "confirm-no"
    page.keyboard.press("Escape")
    assert not page.locator("#confirm-dialog").is_visible()
    page.get_by_role("button", name="提交办理结果").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # 确认提交 has the focus
    page.wait_for_selector(".flash-success")
    assert "同意" in page.locator(".flash-success").inner_text()

    # -- the applicant sees the grant
    page = applicant.page
    applicant.nav("共享申请")
    applicant.shot("applications")
    page.locator("tr", has_text=business_key).get_by_role("link", name=business_key).click()
    assert page.locator("#application-status").inner_text() == "已授权"
    assert page.locator(".grant-card").is_visible()
    timeline = page.locator(".timeline").inner_text()
    assert "规范性审查" in timeline and "受理" in timeline and "提供部门审核" in timeline and "同意" in timeline
    assert int(page.locator("#unread-badge").inner_text(timeout=1000).split()[0].rstrip("条未读")) >= 1
    _wait_for_diagram(page)
    page.evaluate("window.scrollTo(0, 0)")
    applicant.shot("application-detail")
    applicant.shot("application-detail-full", full_page=True)
    page.locator(".notif-link").click()
    assert page.locator(".note", has_text=business_key).count() >= 1
    applicant.shot("notifications")


PAGES = {
    "wjw.applicant": ["/", "/catalog/", "/catalog/?q=机动车", "/applications/", "/notifications/",
                      "/applications/new?entry_id={entry}", "/applications/drafts/{draft}",
                      "/applications/drafts/{draft}/delete", "/tasks/", "/no-such-page"],
    "gaj.approver": ["/tasks/?view=groups", "/tasks/?view=due_soon", "/tasks/?view=overdue", "/tasks/{task}",
                     "/applications/?view=provided", "/applications/{key}"],
    # the administrator's desk (issue 16); the modeler's canvas is bpmn-js's own widget
    "dsj.admin": ["/admin/flows", "/admin/flows/conditional_share", "/admin/instances/",
                  "/admin/instances/{key}/suspend", "/admin/calendars/", "/admin/calendars/2027/notice",
                  "/admin/policy/"],
}


def test_pages_have_labels_and_every_action_is_keyboard_reachable(session, server):
    from sqlalchemy import select

    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask
    from app.extensions import db
    from app.flows.applications import save_draft
    from app.flows.models import Application
    from app.org.models import User

    with server.context():
        entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-001"))
        task = db.session.scalar(select(HumanTask).where(HumanTask.task_spec == "provider_review",
                                                         HumanTask.state == "ready"))
        key = db.session.scalar(select(Application.business_key).where(Application.instance_id == task.instance_id))
        applicant = db.session.scalar(select(User).where(User.username == "wjw.applicant"))
        draft = save_draft(applicant, entry, {"entry_id": entry.id, "purpose": "草稿中的用途"})
        values = {"entry": entry.id, "task": task.id, "key": key, "draft": draft.id}
    anonymous = session()
    _check_page(anonymous, "/sign-in")
    for username, paths in PAGES.items():
        user = session(username)
        for path in paths:
            _check_page(user, path.format(**values))


def _check_page(s: Session, path: str) -> None:
    if path == "/no-such-page":  # the Chinese 404 page: its status is the one expected console error
        with s.expect_status(404):
            page = s.go(path)
        assert "页面不存在" in page.locator("h1").inner_text()
    else:
        page = s.go(path)
    if page.locator("#diagram").count():
        page.wait_for_selector("#diagram.loaded")
    found = page.evaluate(A11Y_SCRIPT)
    assert found["problems"] == [], f"{path}: {found['problems']}"
    # Walk the page with Tab: every visible link, button and field must receive the focus
    # (a radio group is one stop: arrow keys move inside it).
    reached: set[str] = set()
    page.locator("body").focus()
    for _ in range(len(found["interactive"]) * 4 + 10):  # a date field is several stops (year, month, day)
        page.keyboard.press("Tab")
        focused = page.evaluate("(() => { const e = document.activeElement;"
                                " return e && e.dataset ? [e.dataset.a11y || '', e.type === 'radio' ? e.name : ''] : ['', ''] })()")
        if focused[0]:
            reached.add(focused[0])
        if focused[1]:
            reached.update(page.evaluate(f"[...document.querySelectorAll('input[name=\"{focused[1]}\"]')].map(e => e.dataset.a11y)"))
        if set(found["interactive"]) <= reached:
            break
    missing = set(found["interactive"]) - reached
    assert not missing, f"{path}: not reachable by Tab: " + ", ".join(
        page.evaluate(f"document.querySelector('[data-a11y=\"{m}\"]').outerHTML.slice(0, 120)") for m in sorted(missing))


CASE_PAGES = {  # the case flows (SPEC §4.2–4.5): a revocation filed, its start form, its office task
    "gaj.approver": ["/cases/", "/cases/new", "/catalog/{entry}", "/cases/new/revocation?entry_id={entry}",
                     "/cases/{case}"],
    "dsj.reviewer": ["/cases/?view=assigned", "/tasks/{case_task}", "/cases/new/rectification"],
}


def test_case_pages_have_labels_and_every_action_is_keyboard_reachable(session, server):
    from sqlalchemy import select

    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask
    from app.extensions import db
    from app.flows.cases import start_case
    from app.org.models import User

    with server.context():
        entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-001"))
        other = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-003"))
        approver = db.session.scalar(select(User).where(User.username == "gaj.approver"))
        case = start_case("revocation", approver, {"entry_id": other.id, "reasons": "数据来源系统停用",
                                                   "effective_date": "2026-12-15"})
        task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == case.instance_id,
                                                         HumanTask.state == "ready"))
        values = {"entry": entry.id, "case": case.business_key, "case_task": task.id}
    for username, paths in CASE_PAGES.items():
        user = session(username)
        for path in paths:
            _check_page(user, path.format(**values))
    # keyboard only: the confirmation is a checkbox reached by Tab; without it the form says why
    page = session("gaj.approver").page
    page.goto(server.url + f"/cases/new/revocation?entry_id={values['entry']}")
    page.get_by_label("撤销理由").fill("数据来源系统停用")
    page.get_by_label("撤销生效日期").fill("2026-12-20")
    page.get_by_role("button", name="提交").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#form-errors")
    assert page.locator(".field-error", has_text="请确认上述事项后再提交").is_visible()
    page.get_by_label(re.compile("我已知悉")).focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="提交").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#case-status")
    assert "已提交" in page.locator(".flash-success").inner_text()
    page.wait_for_selector("#diagram.loaded")


def test_a_returned_application_gets_a_new_letter_on_the_page_and_the_office_accepts_it(session, server):
    from sqlalchemy import select
    from werkzeug.datastructures import FileStorage

    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask
    from app.extensions import db
    from app.flows.applications import start_application
    from app.flows.tasks import complete_task
    from app.org.models import User

    with server.context():
        entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-001"))
        user = db.session.scalar(select(User).where(User.username == "jyj.applicant"))
        reviewer = db.session.scalar(select(User).where(User.username == "dsj.reviewer"))
        today = STORY_START.date()
        application = start_application(user, entry, {
            "entry_id": entry.id, "purpose": "学籍登记身份核验", "requested_scope": "市教育局学籍管理",
            "items": [entry.items[0].name], "legal_basis": "《义务教育法》第十二条",
            "requested_valid_from": today.isoformat(), "requested_valid_until": today.replace(year=today.year + 1).isoformat(),
        }, FileStorage(io.BytesIO(PDF), "未盖章申请函.pdf", content_type="application/pdf"))
        key = application.business_key
        review = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == application.instance_id, HumanTask.state == "ready"))
        complete_task(reviewer, review.id, {"decision": "return", "return_reasons": "申请函未加盖公章"})

    # -- the applicant replaces the letter on the application's page, then resubmits
    applicant = session("jyj.applicant")
    page = applicant.go(f"/applications/{key}")
    assert page.locator("#application-status").inner_text() == "退回补正"
    page.get_by_label("更换盖章申请函").set_input_files(
        files=[{"name": "盖章申请函.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.locator("#replace-letter").get_by_role("button", name="上传").click()
    page.wait_for_selector(".flash-success")
    assert "申请函已更换" in page.locator(".flash-success").inner_text()
    assert page.get_by_role("link", name="盖章申请函.pdf").is_visible()
    _open_task(page, key)
    page.get_by_label("重新提交").check()
    page.get_by_label("补正说明").fill("已更换为加盖公章的申请函")
    page.get_by_role("button", name="提交办理结果").click()
    if page.locator("#confirm-dialog").is_visible():
        page.get_by_role("button", name="确认提交").click()
    page.wait_for_selector(".flash-success")

    # -- the office reviewer sees the new letter and accepts
    reviewer_tab = session("dsj.reviewer")
    page = reviewer_tab.page
    _open_task(page, key)
    assert page.get_by_role("link", name="盖章申请函.pdf").is_visible()
    # … and what the 补正 changed: the old letter and the new one
    changes = page.locator("table.changes")
    assert changes.locator("th[scope=row]").all_inner_texts() == ["盖章申请函"]
    assert changes.get_by_role("link", name="原申请函").is_visible()
    assert changes.get_by_role("link", name="新申请函").is_visible()
    page.get_by_label("受理").check()
    page.get_by_role("button", name="提交办理结果").click()
    page.get_by_role("button", name="确认提交").click()
    page.wait_for_selector(".flash-success")
    page = applicant.go(f"/applications/{key}")
    assert page.locator("#application-status").inner_text() == "办理中"
    assert page.locator(".current-steps", has_text="提供部门审核").is_visible()


def test_the_supervisor_reads_the_figures_changes_the_period_and_drills_down_to_a_record(session, server):
    # the earlier tests of this module completed formal and provider reviews on the story's clock
    supervisor = session("dsj.supervisor")
    page = supervisor.page
    supervisor.nav("时效监督")
    page.wait_for_selector("#sla-summary")
    page.wait_for_selector("#sla-chart svg")  # ECharts drew the on-time rates
    office_row = page.locator("#sla-summary tbody tr", has_text="市大数据管理局")
    assert office_row.count() == 1
    supervisor.shot("sla-dashboard")
    completed = office_row.locator("td").first.inner_text()
    assert int(completed) > 0
    # a period before any work: nothing completed in it (the open work is today's)
    page.get_by_label("起始日期").fill("2026-01-01")
    page.get_by_label("截止日期").fill("2026-01-31")
    page.get_by_role("button", name="统计").click()
    page.wait_for_url(re.compile(r".*from=2026-01-01.*"))
    assert all(cell == "0" for cell in page.locator("#sla-summary tbody tr td:nth-child(2)").all_inner_texts())
    page.go_back()
    page.wait_for_selector("#sla-summary")
    page.locator("#sla-summary tbody tr", has_text="市大数据管理局").get_by_role("link").first.click()
    page.wait_for_selector("#sla-steps")
    assert "规范性审查" in page.locator("#sla-steps").inner_text()
    with page.expect_download() as download:  # the list behind the figure, as a file
        page.locator("#export-steps").click()
    assert download.value.suggested_filename.startswith("sla-steps-")
    assert "规范性审查" in Path(download.value.path()).read_text(encoding="utf-8-sig")
    key = page.locator("#sla-steps tbody td.mono a").first.inner_text()
    page.locator("#sla-steps tbody td.mono a").first.click()
    page.wait_for_url(re.compile(rf".*/{key}$"))
    assert key in page.locator("h1").inner_text()
    supervisor.shot("sla-drilldown-record")


def test_the_supervisor_drills_from_an_overdue_count_to_the_record_and_reads_the_desk(session, server):
    # earlier_work left 市公安局 a provider review that was due on 10 November: overdue today
    supervisor = session("dsj.supervisor")
    page = supervisor.page
    supervisor.nav("时效监督")
    page.wait_for_selector("#sla-trend svg")  # the trend chart with its target line
    police = page.locator("#sla-summary tbody tr", has_text="市公安局")
    police.locator("a[id^='open-overdue-']").click()
    page.wait_for_selector("#open-steps")
    assert "提供部门审核" in page.locator("#open-steps").inner_text()
    supervisor.shot("sla-overdue-steps")
    key = page.locator("#open-steps tbody td.mono a").first.inner_text()
    page.locator("#open-steps tbody td.mono a").first.click()
    page.wait_for_url(re.compile(rf".*/{key}$"))
    assert key in page.locator("h1").inner_text()
    # every record, filtered to the overdue ones, exported
    supervisor.go("/sla/records")
    page.get_by_label("起始日期").fill("2026-10-01")
    page.get_by_label("只看有逾期环节的").check()
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("#records")
    assert key in page.locator("#records").inner_text()
    supervisor.shot("sla-records")
    with page.expect_download() as download:
        page.locator("#export-records-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    # the yearly assessment and the audit log
    page.get_by_role("navigation", name="监督台").get_by_role("link", name="年度评估").click()
    page.wait_for_selector("#assessment")
    page.get_by_label("考核年度", exact=True).fill("2026")
    page.get_by_role("button", name="查看").click()
    page.wait_for_selector("#assessment tfoot")
    supervisor.shot("sla-assessment", full_page=True)
    supervisor.nav("审计日志")
    page.wait_for_selector("#audit-entries")
    page.locator("#verify-chain").click()
    page.wait_for_selector(".flash-success")
    assert "哈希链无断点" in page.locator(".flash-success").inner_text()
    supervisor.shot("audit-log")
