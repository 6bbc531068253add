"""SPEC §3.6 in the browser's pages: an administrator enters (or uploads) next year's State Council
notice, sees what loading it changes, confirms; the running instance's provisional deadline, its
reminder and escalation timers move exactly as `flask calendar load` moves them (same data, same
result). Flask test client, real database, the real conditional-share flow, frozen clock."""
from __future__ import annotations

import html
import re
from datetime import datetime

import pytest
import time_machine
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.clock import as_utc
from app.engine.models import TaskEvent, WorkflowTimer
from app.extensions import db
from app.legaltime.models import LegalDeadline
from tests import factories as f
from tests.flows.conftest import local
from tests.legaltime.conftest import SYNTHETIC_2027

FILED = local(2026, 12, 22, 10, 0)

# SYNTHETIC_2027 as an administrator types it into the form.
NOTICE_FORM = {
    "notice_title": "国务院办公厅关于2027年部分节假日安排的通知（测试用虚构数据）", "notice_number": "",
    "notice_date": "2026-11-20",
    "holidays-0-festival": "new_year", "holidays-0-name": "元旦", "holidays-0-start": "2027-01-01",
    "holidays-0-end": "2027-01-04",
    "holidays-1-festival": "spring_festival", "holidays-1-name": "春节", "holidays-1-start": "2027-02-05",
    "holidays-1-end": "2027-02-13",
    "makeups-0-date": "2027-01-09", "makeups-0-festival": "new_year",
}


@pytest.fixture(autouse=True)
def _no_csrf(no_csrf):
    pass


@pytest.fixture()
def running(flow, entries, city, profile, calendars_without_2027):
    """An application whose provider review (10 wd, 宝鸡 art. 16) ends in provisional 2027."""
    profile("baoji")
    with time_machine.travel(FILED, tick=False):
        key = flow.apply(city.health_applicant, entries.conditional, requested_valid_from="2027-01-01")
        assert instant(flow.task(key, "provider_review")["due_at"]) == local(2027, 1, 7)
        yield key


def instant(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


def outcome(flow, key) -> dict:
    db.session.expire_all()
    task = flow.task(key, "provider_review")
    return {
        "due_at": instant(task["due_at"]), "reminder_at": instant(task["reminder_at"]),
        "timers": sorted((t.kind, as_utc(t.due_at)) for t in db.session.scalars(
            select(WorkflowTimer).where(WorkflowTimer.state == "waiting"))),
        "provisional": [r.provisional for r in db.session.scalars(select(LegalDeadline))],
        "moved": len(db.session.scalars(select(TaskEvent).where(TaskEvent.event_type == "timer_moved")).all()),
    }


# What `flask calendar load` leaves behind (tests/flows/test_provisional_recompute.py checks the dates).
def load_by_command(runner, tmp_path, **_):
    notice = tmp_path / "2027.yaml"
    notice.write_text(SYNTHETIC_2027, encoding="utf-8")
    result = runner.invoke(args=["calendar", "load", str(notice)])
    assert result.exit_code == 0, result.output


def load_in_the_browser(client, **_):
    f.login(client, "dsj.admin")
    preview = client.post("/admin/calendars/2027/notice", data=NOTICE_FORM)
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "1 个期限将改变" in page and "（涉及 1 个办件" in page
    assert re.search(r'data-day="2027-01-04">.*?工作日</td><td>放假', page)     # a working day becomes a holiday
    assert re.search(r'data-day="2027-01-09">.*?休息日</td><td>工作日', page)   # a Saturday is worked
    document = re.search(r'name="document" value="([^"]*)"', page).group(1)
    done = client.post("/admin/calendars/2027/load", data={"document": html.unescape(document), "confirm": "yes"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/calendar/2027")


@pytest.mark.parametrize("load", [load_by_command, load_in_the_browser], ids=["command", "page"])
def test_loading_2027_in_the_browser_recomputes_exactly_as_the_command(load, flow, running, runner, client,
                                                                       tmp_path, calendars_without_2027):
    before = outcome(flow, running)
    load(runner=runner, tmp_path=tmp_path, client=client)
    after = outcome(flow, running)
    # the same answer either way: due Friday 8 January 24:00, the escalation with it, reminder later
    assert after["due_at"] == local(2027, 1, 8) and after["reminder_at"] > before["reminder_at"]
    assert after["timers"] == sorted([("escalation", local(2027, 1, 8)),
                                      ("reminder", after["reminder_at"])])
    assert after["provisional"] == [False] and after["moved"] == 2
    assert (calendars_without_2027 / "2027.yaml").exists()
    loaded = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.loaded")).one()
    assert loaded.object_id == "2027" and loaded.after["deadlines_changed"] == 1


def test_only_administrators_load_a_notice(client, city, calendars_without_2027):
    f.login(client, "gaj.approver")
    assert client.get("/admin/calendars/").status_code == 403
    assert client.post("/admin/calendars/2027/load", data={"document": SYNTHETIC_2027, "confirm": "yes"}).status_code == 403
    assert not (calendars_without_2027 / "2027.yaml").exists()


def test_a_wrong_entry_is_named_beside_its_field_and_nothing_is_loaded(client, city, calendars_without_2027):
    f.login(client, "dsj.admin")
    cases = [  # (what is wrong, the field it is shown beside, the message)
        ({"makeups-0-date": "2027-01-08"}, "makeups-0-date", "调休上班日应为星期六或星期日，2027-01-08 是星期五"),
        ({"holidays-1-end": "2027-02-01"}, "holidays-1-end", "结束日期早于开始日期"),
        ({"holidays-0-start": "2026-12-31"}, "holidays-0-start", "2026-12-31 属于 2026 年"),
        ({"notice_date": "明天"}, "notice_date", "请填写日期"),
        ({"makeups-0-date": "2027-01-02"}, "makeups-0-date", "2027-01-02 在放假时间之内"),
    ]
    for change, field, message in cases:
        response = client.post("/admin/calendars/2027/notice", data={**NOTICE_FORM, **change})
        page = response.get_data(as_text=True)
        assert response.status_code == 200 and f'id="{field}-error">{message}' in page, (change, page[-3000:])
        assert 'aria-invalid="true"' in page and "确认加载" not in page
    assert not (calendars_without_2027 / "2027.yaml").exists()


def test_the_confirmation_is_asked_for_and_a_loaded_year_is_not_offered_again(client, city, calendars_without_2027):
    f.login(client, "dsj.admin")
    unconfirmed = client.post("/admin/calendars/2027/load", data={"document": SYNTHETIC_2027})
    assert unconfirmed.status_code == 200 and 'id="confirm-error">请先勾选确认' in unconfirmed.get_data(as_text=True)
    assert not (calendars_without_2027 / "2027.yaml").exists()
    index = client.get("/admin/calendars/").get_data(as_text=True)
    assert 'data-year="2027"' in index and "录入或上传 2027 年通知" in index
    assert client.post("/admin/calendars/2027/load", data={"document": SYNTHETIC_2027, "confirm": "yes"}).status_code == 302
    assert client.get("/admin/calendars/2027/notice").status_code == 404   # 2027 is loaded now
    assert client.get("/admin/calendars/2026/notice").status_code == 404
    assert "录入或上传 2027 年通知" not in client.get("/admin/calendars/").get_data(as_text=True)


def test_an_uploaded_file_is_checked_the_same_way(client, city, calendars_without_2027):
    from io import BytesIO

    f.login(client, "dsj.admin")
    bad = SYNTHETIC_2027.replace("2027-01-09", "2027-01-08")
    response = client.post("/admin/calendars/2027/upload", data={"file": (BytesIO(bad.encode()), "2027.yaml")},
                           content_type="multipart/form-data")
    assert "makeup_workdays[0].date：调休上班日应为星期六或星期日" in response.get_data(as_text=True)
    wrong_year = client.post("/admin/calendars/2028/upload", data={"file": (BytesIO(SYNTHETIC_2027.encode()), "x.yaml")},
                             content_type="multipart/form-data")
    assert "这是 2028 年的安排，文件却写的是 2027 年" in wrong_year.get_data(as_text=True)
    good = client.post("/admin/calendars/2027/upload", data={"file": (BytesIO(SYNTHETIC_2027.encode()), "2027.yaml")},
                       content_type="multipart/form-data")
    assert "检查通过：2 段放假、1 个调休上班日" in good.get_data(as_text=True)
    assert not (calendars_without_2027 / "2027.yaml").exists()  # a preview loads nothing


def test_the_banner_links_administrators_to_the_calendar_page(client, city, calendars_without_2027):
    with time_machine.travel(local(2026, 12, 2, 10, 0), tick=False):
        f.login(client, "dsj.admin")
        page = client.get("/").get_data(as_text=True)
    assert "2027年节假日安排尚未加载" in page and 'href="/admin/calendars/"' in page
