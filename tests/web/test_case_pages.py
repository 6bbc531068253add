"""The case flows' pages (SPEC §4.2–4.5) through the Flask test client (both backends, frozen clock).

Started on Wednesday 2026-09-30 10:00 (Shanghai) from their web forms: 发起 lists only what
the user may start; the start form is the flow's schema with Chinese labels and field errors;
the case page shows data, current step, timeline, diagram and the letter to the parties only.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from marshmallow.validate import OneOf
from sqlalchemy import func, select

from app.catalog.grants import issue_grant
from app.catalog.models import PublishState
from app.engine.models import HumanTask
from app.extensions import db
from app.flows import registry
from app.flows.idle_grant_review import propose_idle_grants
from app.flows.models import Case
from app.flows.registry import FLOWS
from app.notifications.models import Notification
from app.org.models import Role
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import PDF, local

REVOKE = {"reasons": "数据来源系统停用", "effective_date": "2026-10-15"}


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


def _sign_in_as(client, username: str) -> None:
    f.sign_out(client)
    f.login(client, username)


@pytest.fixture()
def world(city, cases):
    class World:
        entry = f.entry(city.police_approver, "GA-REV", share_type="conditional")
        draft = f.entry(city.police_approver, "GA-DRAFT", published=False)
        housing = f.department("zjj", "市住建局")
        housing_applicant = f.user(housing, "zjj.applicant", Role.APPLICANT)
        reviewer_admin = f.user(city.office, "dsj.boss", Role.OFFICE_REVIEWER, Role.ADMINISTRATOR)
        grant = issue_grant(entry, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                            valid_until=local(2027, 12, 31), authorised_by="provider")

    commit()
    return World


def _started(response) -> Case:
    assert response.status_code == 302, f.page_text(response)[-2000:]
    case = db.session.scalar(select(Case).order_by(Case.id.desc()))
    assert response.headers["Location"] == f"/cases/{case.business_key}"
    return case


# ---- 发起 and navigation --------------------------------------------------------------------------

@pytest.mark.parametrize(("username", "startable", "not_startable"), [
    ("gaj.approver", {"revocation", "catalogue_review"}, {"rectification", "unpublished_demand", "data_objection"}),
    ("wjw.applicant", {"unpublished_demand", "data_objection"}, {"revocation", "rectification", "catalogue_review"}),
    ("dsj.reviewer", {"rectification"}, {"revocation", "unpublished_demand", "data_objection", "catalogue_review"}),
])
def test_start_page_lists_only_the_flows_the_user_may_start(client, world, clock, username, startable, not_startable):
    f.login(client, username)
    home = f.page_text(client.get("/"))
    assert re.search(r'href="/cases/" *>办件</a>', home)  # the nav, for everyone signed in
    page = f.page_text(client.get("/cases/new"))
    for flow in startable:
        assert f'href="/cases/new/{flow}"' in page
    for flow in not_startable | {"idle_grant_review"}:
        assert f'href="/cases/new/{flow}"' not in page
        assert client.get(f"/cases/new/{flow}").status_code == 403
    refused = f.page_text(client.get("/cases/new/idle_grant_review"))
    assert "由平台定期自动发起" in refused


def test_administrator_without_a_starting_role_sees_an_empty_start_page(client, world, clock):
    f.login(client, "dsj.admin")
    assert "您的角色不能发起办件" in f.page_text(client.get("/cases/new"))
    listing = f.page_text(client.get("/cases/"))
    assert "这里还没有办件" in listing and 'href="/cases/new"' not in listing


# ---- revocation -------------------------------------------------------------------------------------

def test_revocation_from_the_entry_page_asks_for_confirmation_then_starts(client, cases, city, world, clock):
    f.login(client, "gaj.approver")
    entry_page = f.page_text(client.get(f"/catalog/{world.entry.id}"))
    assert f'href="/cases/new/revocation?entry_id={world.entry.id}"' in entry_page and "申请撤销发布" in entry_page
    form = f.page_text(client.get(f"/cases/new/revocation?entry_id={world.entry.id}"))
    assert "撤销发布的资源" in form and "撤销理由" in form and "撤销生效日期" in form
    assert f'<option value="{world.entry.id}" selected>' in form
    assert 'name="confirm"' in form and "不能撤回" in form
    path = f"/cases/new/revocation?entry_id={world.entry.id}"
    unconfirmed = f.post_form(client, path, {"entry_id": world.entry.id, **REVOKE})
    assert unconfirmed.status_code == 200 and "请确认上述事项后再提交" in f.page_text(unconfirmed)
    assert _count() == 0
    case = _started(f.post_form(client, path, {"entry_id": world.entry.id, **REVOKE, "confirm": "y"}))
    assert case.business_key.startswith("CX-2026-")
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "撤销发布：测试资源GA-REV" in detail and "办理中" in detail
    assert "撤销发布审核" in detail and "市大数据管理局 · 主管部门审核人" in detail  # the current step, its holder
    assert "数据来源系统停用" in detail and "2026-10-15" in detail
    assert f"/cases/{case.business_key}/diagram" in detail and 'class="timeline"' in detail
    diagram = client.get(f"/cases/{case.business_key}/diagram").json
    assert diagram["process_id"] == "revocation" and diagram["current"] == ["office_approval"]
    # the grantee is told in advance and may read the case (南通 art. 16); the notification's link works
    _sign_in_as(client, "wjw.applicant")
    assert client.get(f"/cases/{case.business_key}").status_code == 200
    note = db.session.scalar(select(Notification).where(Notification.department_id == city.health.id,
                                                        Notification.business_key == case.business_key))
    opened = f.post_form(client, f"/notifications/{note.id}/read", {"open": "1"})
    assert opened.headers["Location"] == f"/cases/{case.business_key}"


def test_revocation_field_errors_are_shown_in_chinese_and_nothing_is_started(client, city, world, clock):
    f.login(client, "gaj.approver")
    blank = f.post_form(client, "/cases/new/revocation", {"entry_id": world.entry.id, "reasons": "  ",
                                                    "effective_date": "2026-10-15", "confirm": "y"})
    assert blank.status_code == 200
    html = f.page_text(blank)
    assert "提交的内容有误" in html and "此项为必填项" in html
    assert 'aria-invalid="true" aria-describedby="reasons-error"' in html
    response = f.post_form(client, "/cases/new/revocation", {"entry_id": world.entry.id, "reasons": "系统停用",
                                                       "effective_date": "2026-09-30", "confirm": "y"})
    html = f.page_text(response)
    assert response.status_code == 200 and "撤销生效日期须晚于今天" in html
    assert 'aria-invalid="true" aria-describedby="effective_date-error' in html
    draft = f.post_form(client, "/cases/new/revocation", {"entry_id": world.draft.id, **REVOKE, "confirm": "y"})
    assert "只有已发布的资源才能撤销发布" in f.page_text(draft)  # the service's own check, on the field
    assert _count() == 0


# ---- demand with the sealed letter ------------------------------------------------------------------

def test_demand_with_letter_and_who_may_see_it(client, cases, city, world, clock):
    f.login(client, "wjw.applicant")
    browse = f.page_text(client.get("/catalog/?q=不存在的资源"))
    assert 'href="/cases/new/unpublished_demand"' in browse
    form = f.page_text(client.get("/cases/new/unpublished_demand"))
    assert "所需资源名称" in form and "盖章申请材料扫描件" in form and 'type="file"' in form
    assert "市住建局" in form and '>市卫健委<' not in form  # not to one's own department
    data = {"resource_name": "不动产登记信息", "description": "房屋坐落、权利人", "purpose": "住房保障资格审核",
            "provider_department_id": ""}
    missing = f.post_form(client, "/cases/new/unpublished_demand", data, content_type="multipart/form-data")
    assert missing.status_code == 200 and "请上传加盖公章的申请材料扫描件" in f.page_text(missing)
    assert _count() == 0
    case = _started(f.post_form(client, "/cases/new/unpublished_demand",
                          {**data, "letter": (io.BytesIO(PDF), "需求函.pdf")}, content_type="multipart/form-data"))
    assert case.business_key.startswith("DM-")
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "转送需求" in detail and "待主管部门转送" in detail and "需求函.pdf" in detail
    link = re.search(rf'href="(/cases/{case.business_key}/attachments/\d+)"', detail).group(1)
    download = client.get(link)
    assert download.status_code == 200 and download.data == PDF
    # a department that is not a party
    _sign_in_as(client, "zjj.applicant")
    assert client.get(f"/cases/{case.business_key}").status_code == 403
    assert client.get(link).status_code == 403
    assert client.get(f"/cases/{case.business_key}/diagram").status_code == 403
    assert case.business_key not in f.page_text(client.get("/cases/"))
    # the office routes it: the task page reads in Chinese, departments to pick from
    _sign_in_as(client, "dsj.reviewer")
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == case.instance_id,
                                                     HumanTask.state == "ready"))
    page = f.page_text(client.get(f"/tasks/{task.id}"))
    assert "转送至部门" in page and "转送说明" in page and "需求函.pdf" in page
    assert f'<option value="{city.police.id}">市公安局</option>' in page
    assert f'<option value="{city.health.id}">' not in page  # not back to the requesting department
    assert f'href="/cases/{case.business_key}"' in page
    # a department the service step refuses (posted by hand): a field error on the page, no change
    back = f.post_form(client, f"/tasks/{task.id}/complete", {"provider_department_id": city.health.id})
    assert back.status_code == 200 and "请选择提出需求部门以外的其他部门" in f.page_text(back)
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).state == "ready"
    assert f.post_form(client, f"/tasks/{task.id}/complete", {"provider_department_id": city.police.id}).status_code == 302
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "答复资源需求" in detail and "市公安局" in detail


def test_suspended_department_is_refused_with_its_reason(client, city, world, clock):
    city.health.suspended, city.health.suspended_reason = True, "逾期未整改"
    commit()
    f.login(client, "wjw.applicant")
    response = f.post_form(client, "/cases/new/unpublished_demand",
                     {"resource_name": "不动产登记信息", "description": "房屋坐落", "purpose": "住房保障",
                      "letter": (io.BytesIO(PDF), "需求函.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 403
    assert "本部门已被暂停共享数据使用资格（逾期未整改）" in f.page_text(response)
    assert _count() == 0


# ---- rectification ----------------------------------------------------------------------------------

def test_rectification_notice_from_the_office(client, city, world, clock):
    f.login(client, "dsj.boss")  # office reviewer and administrator: the department list offers it
    departments = f.page_text(client.get("/admin/departments"))
    assert f'href="/cases/new/rectification?rectified_department_id={city.police.id}"' in departments
    form = f.page_text(client.get(f"/cases/new/rectification?rectified_department_id={city.police.id}"))
    assert "被通知整改的部门" in form and "违规情形" in form and f'<option value="{city.police.id}" selected>' in form
    assert "提供的数据不真实、不准确、不一致、未及时更新或无法使用" in form
    data = {"rectified_department_id": city.police.id, "violation_category": "data_inaccurate",
            "description": "人口库数据更新不及时", "deadline": "2026-10-30", "confirm": "y"}
    blank = f.post_form(client, "/cases/new/rectification", {**data, "violation_category": ""})
    assert blank.status_code == 200 and "此项为必填项" in f.page_text(blank)
    past = f.post_form(client, "/cases/new/rectification", {**data, "deadline": "2026-09-01"})
    assert past.status_code == 200 and "整改期限须晚于今天" in f.page_text(past)
    assert _count() == 0
    case = _started(f.post_form(client, "/cases/new/rectification", data))
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "报告整改情况" in detail and "市公安局 · 提供部门审核人" in detail
    assert "违规情形" in detail and "提供的数据不真实" in detail and "2026年10月30日 24:00" in detail
    _sign_in_as(client, "wjw.approver")
    assert client.get(f"/cases/{case.business_key}").status_code == 403  # not a party
    _sign_in_as(client, "gaj.approver")
    listing = f.page_text(client.get("/cases/?view=assigned&flow=rectification"))
    assert case.business_key in listing and "报告整改情况" in listing
    assert case.business_key not in f.page_text(client.get("/cases/?view=mine"))
    assert "这里还没有办件" in f.page_text(client.get("/cases/?status=closed"))


# ---- data objection ---------------------------------------------------------------------------------

def test_objection_from_the_entry_page_and_the_providers_task_page(client, city, world, clock):
    f.login(client, "wjw.applicant")
    entry_page = f.page_text(client.get(f"/catalog/{world.entry.id}"))
    assert f'href="/cases/new/data_objection?entry_id={world.entry.id}"' in entry_page and "数据疑义" in entry_page
    pick = f.page_text(client.get("/cases/new/data_objection"))
    assert "有疑义的资源" in pick and "测试资源GA-REV（GA-REV）" in pick
    form = f.page_text(client.get(f"/cases/new/data_objection?entry_id={world.entry.id}"))
    assert "有疑义的信息项" in form and 'value="公民身份号码"' in form
    path = f"/cases/new/data_objection?entry_id={world.entry.id}"
    empty = f.post_form(client, path, {"entry_id": world.entry.id, "description": ""})
    assert empty.status_code == 200 and "此项为必填项" in f.page_text(empty) and _count() == 0
    case = _started(f.post_form(client, path, {"entry_id": world.entry.id, "items": ["公民身份号码"],
                                         "description": "部分身份号码校验位错误"}))
    assert case.business_key.startswith("YY-")
    _sign_in_as(client, "gaj.approver")
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == case.instance_id,
                                                     HumanTask.state == "ready"))
    page = f.page_text(client.get(f"/tasks/{task.id}"))
    assert "核实结论" in page and "数据确有错误，已更正" in page and "经核实数据无误" in page
    assert "更正内容或核实说明" in page and "部分身份号码校验位错误" in page
    assert ">decision<" not in page and ">verification_note<" not in page
    refused = f.post_form(client, f"/tasks/{task.id}/complete", {"decision": "correct"})
    assert refused.status_code == 200 and "此项为必填项" in f.page_text(refused)
    done = f.post_form(client, f"/tasks/{task.id}/complete",
                 {"decision": "correct", "verification_note": "已修正 12 条记录"})
    assert done.status_code == 302
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "已办结" in detail and "数据已更正" in detail
    assert "疑义数据校核" in detail and "数据确有错误，已更正" in detail and "已修正 12 条记录" in detail  # timeline


# ---- catalogue review -------------------------------------------------------------------------------

def test_catalogue_review_of_a_draft_and_a_bad_change(client, city, world, clock):
    f.login(client, "gaj.approver")
    assert "送审目录" in f.page_text(client.get(f"/catalog/{world.draft.id}"))
    form = f.page_text(client.get(f"/cases/new/catalogue_review?entry_id={world.draft.id}"))
    assert "送审类型" in form and "新增或变更目录条目" in form and "修订的法律法规或变化的职能" in form
    assert 'data-shown-when="review_kind=mandate_change"' in form
    bad = f.post_form(client, "/cases/new/catalogue_review",
                {"review_kind": "submission", "entry_id": world.entry.id, "changes": "{not json"})
    assert bad.status_code == 200 and "格式不正确" in f.page_text(bad) and _count() == 0
    case = _started(f.post_form(client, "/cases/new/catalogue_review",
                          {"review_kind": "submission", "entry_id": world.draft.id, "change_note": "新编目录"}))
    db.session.refresh(world.draft)
    assert world.draft.publish_state == PublishState.UNDER_REVIEW.value
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "目录规范性审核" in detail and "新编目录" in detail
    _sign_in_as(client, "dsj.reviewer")
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == case.instance_id,
                                                     HumanTask.state == "ready"))
    page = f.page_text(client.get(f"/tasks/{task.id}"))
    assert "审核结论" in page and "审核通过" in page and "退回修改" in page
    assert 'data-shown-when="decision=return"' in page


# ---- idle-grant review (started by the platform) ----------------------------------------------------

def test_idle_grant_review_started_by_the_platform_reads_in_chinese(client, city, world, clock):
    (case,) = propose_idle_grants()
    f.login(client, "gaj.approver")
    detail = f.page_text(client.get(f"/cases/{case.business_key}"))
    assert "闲置授权处理" in detail and "平台（定期自动提出）" in detail and "市卫健委" in detail
    task = db.session.scalar(select(HumanTask).where(HumanTask.instance_id == case.instance_id,
                                                     HumanTask.state == "ready"))
    page = f.page_text(client.get(f"/tasks/{task.id}"))
    assert "处理意见" in page and "收回授权" in page and "保留授权" in page and "保留理由（如季节性应用）或收回说明" in page
    inbox = f.page_text(client.get("/tasks/?view=groups"))
    assert case.business_key in inbox


# ---- every field a user fills in is labelled on its schema -------------------------------------------

def _shown_fields():
    """(where, field name, field) of every field of every flow's task and start forms that a
    user fills in (the requested period of a period form is the platform's)."""
    for flow in FLOWS.values():
        forms = {**flow.forms, **({flow.process_id: flow.start_form} if flow.start_form else {})}
        for name, schema in forms.items():
            for field_name, fld in schema().fields.items():
                if not (name in flow.period_forms and field_name.startswith("requested_")):
                    yield name, field_name, fld


def test_every_form_field_and_choice_has_a_label_translated_to_english(app):
    catalog = read_po((Path(app.root_path) / "translations/en/LC_MESSAGES/messages.po").open("rb"))
    untranslated = []
    for name, field_name, fld in _shown_fields():
        texts = [fld.metadata.get("label"), fld.metadata.get("hint"), *fld.metadata.get("choices", {}).values()]
        assert texts[0], (name, field_name)
        untranslated += [(name, field_name, t) for t in texts if t and not (catalog.get(t) and catalog.get(t).string)]
        for validator in fld.validators:
            if isinstance(validator, OneOf):
                assert set(validator.choices) == set(fld.metadata["choices"]), (name, field_name)
    assert untranslated == []


def test_a_revealed_field_names_a_choice_of_its_own_form():
    for name, field_name, fld in _shown_fields():
        when = fld.metadata.get("shown_when")
        if when:
            schema_fields = FLOWS[name].start_form().fields if name in FLOWS else registry.FORMS[name]().fields
            assert when[1] in schema_fields[when[0]].metadata["choices"], (name, field_name, when)
