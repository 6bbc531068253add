"""Next year's holiday notice loaded in a real browser (Debian's Chromium through Playwright): the
administrator follows the banner, enters the notice, reads what it changes — the running
application whose provider review ends in provisional 2027 — and confirms; the review's deadline
and timers move as `flask calendar load` moves them (tests/web/test_calendar_admin.py compares
the two paths on the same data). Zero console errors."""
from __future__ import annotations

import io
import re
import shutil
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.clock import LOCAL_TZ, as_utc
from app.extensions import db
from app.legaltime.service import REPO_CALENDAR_DIR
from tests.web.browser import PDF, LiveServer, require_chromium

pytestmark = pytest.mark.browser

NOW = datetime(2026, 12, 22, 10, 0, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    tmp = tmp_path_factory.mktemp("calendar")
    shutil.copytree(REPO_CALENDAR_DIR, tmp / "calendars")
    with (LiveServer(tmp, CALENDAR_DIR=str(tmp / "calendars"), POLICY_PROFILE="baoji") as live,
          time_machine.travel(NOW, tick=True)):
        yield live


def provider_review_due(server, business_key: str | None = None) -> tuple[str, datetime]:
    """File an application (when none is given) and answer its provider review's due instant."""
    from app.catalog.models import CatalogEntry
    from app.engine.models import HumanTask, ProcessInstance
    from app.flows.applications import start_application
    from app.flows.tasks import complete_task
    from app.org.models import User

    with server.context():
        if business_key is None:
            user = db.session.scalar(select(User).where(User.username == "wjw.applicant"))
            entry = db.session.scalar(select(CatalogEntry).where(CatalogEntry.resource_code == "GA-001"))
            letter = FileStorage(io.BytesIO(PDF), "申请函.pdf", content_type="application/pdf")
            application = start_application(user, entry, {
                "entry_id": entry.id, "purpose": "出生医学证明核验", "requested_scope": "出生登记业务",
                "items": [entry.items[0].name], "legal_basis": "《母婴保健法》第二十三条",
                "requested_valid_from": "2027-01-01", "requested_valid_until": "2027-12-31"}, letter)
            business_key = application.business_key
            review = db.session.scalar(select(HumanTask).where(
                HumanTask.instance_id == application.instance_id, HumanTask.state == "ready"))
            if review.task_spec == "formal_review":  # 宝鸡 has no formal review (its switch is off)
                reviewer = db.session.scalar(select(User).where(User.username == "dsj.reviewer"))
                complete_task(reviewer, review.id, {"decision": "accept"})
        instance = db.session.scalar(select(ProcessInstance).where(ProcessInstance.business_key == business_key))
        task = db.session.scalar(select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.task_spec == "provider_review", HumanTask.state == "ready"))
        return business_key, as_utc(task.due_at)


def test_the_administrator_loads_2027_from_the_banner_and_the_running_review_moves(session, server):
    key, due = provider_review_due(server)
    assert due == datetime(2027, 1, 7, tzinfo=LOCAL_TZ)  # provisional 2027: only 1 January off

    s = session("dsj.admin")
    page = s.page
    banner = page.locator(".alert-banner", has_text="2027年节假日安排尚未加载")
    banner.get_by_role("link", name="去加载").click()
    page.locator("#wanted li[data-year='2027']").get_by_role("link").click()
    page.fill("#notice_title", "国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）")
    page.fill("#notice_date", "2026-11-20")
    page.fill("#holidays-0-start", "2027-01-01")
    page.fill("#holidays-0-end", "2027-01-04")
    page.fill("#holidays-1-start", "2027-02-05")
    page.fill("#holidays-1-end", "2027-02-13")
    page.fill("#makeups-0-date", "2027-01-08")   # a Friday: refused beside its field
    page.select_option("#makeups-0-festival", "new_year")
    page.locator("#notice-preview").click()
    assert "是星期五" in page.locator("#makeups-0-date-error").inner_text()
    assert page.locator("#holidays-1-end").input_value() == "2027-02-13"  # what was typed is kept
    page.fill("#makeups-0-date", "2027-01-09")
    s.shot("calendar-notice-form", full_page=True)
    page.locator("#notice-preview").click()

    assert "1 个期限将改变" in page.locator("#deadlines-moved").inner_text()
    row = page.locator(f"#moves tr[data-key='{key}']")
    assert "2027-01-07" in row.inner_text() and "2027-01-08" in row.inner_text()
    assert page.locator("#days tr[data-day='2027-01-09']").count() == 1
    # the test notice arranges two festivals only: the page says which ones it leaves out
    assert "清明节" in page.locator("#unarranged").inner_text()
    s.shot("calendar-preview", full_page=True)
    page.locator("#load-form input[name=confirm]").check()
    page.locator("#load-confirm").click()
    page.wait_for_url(re.compile(r".*/calendar/2027$"))
    assert "已加载 2027 年节假日安排；1 个期限已重新计算" in page.locator(".flashes").inner_text()
    assert page.locator(".cal-provisional").count() == 0 and page.locator(".alert-banner").count() == 0
    assert provider_review_due(server, key)[1] == datetime(2027, 1, 8, tzinfo=LOCAL_TZ)
