"""One set of error types (app/errors.py), answered once for the API (JSON) and once for the
pages (the Chinese error page), whatever package raised them."""
from __future__ import annotations

import pytest

from app import errors
from app.catalog.grants import GrantRefused
from app.engine.errors import Conflict as EngineConflict
from app.engine.errors import FormError, StepLimitExceeded
from app.errors import Forbidden
from app.flows.applications import NotADraft
from app.validation import FieldErrors
from tests.conftest import make_app

RAISED = {
    "not-found": lambda: errors.NotFound("申请 SQ-1 不存在"),
    "forbidden": lambda: Forbidden("无权查看其他部门的申请"),
    "grant": lambda: GrantRefused("授权已到期"),
    "conflict": lambda: EngineConflict("流程已被其他操作更新"),
    "draft": lambda: NotADraft(),
    "fields": lambda: FieldErrors({"purpose": ["此项为必填项"]}),
    "form": lambda: FormError({"comment": ["请填写意见"]}),
    "fault": lambda: StepLimitExceeded("p", "测试流程", "loop", 5),
}


@pytest.fixture(scope="module")
def raising_app(tmp_path_factory):
    app = make_app("sqlite://", tmp_path_factory, WTF_CSRF_ENABLED=False)
    for prefix in ("/api/raise", "/raise"):
        app.add_url_rule(f"{prefix}/<name>", f"{prefix}-raise".strip("/"),
                         lambda name: (_ for _ in ()).throw(RAISED[name]()))
    return app


@pytest.mark.parametrize(("name", "status"), [
    ("not-found", 404), ("forbidden", 403), ("grant", 403), ("conflict", 409), ("draft", 409),
    ("fields", 422), ("form", 422), ("fault", 503)])
def test_each_error_has_its_status_in_the_api_and_on_the_pages(raising_app, name, status):
    client = raising_app.test_client()
    api = client.get(f"/api/raise/{name}")
    assert api.status_code == status and api.is_json
    body = api.get_json()
    assert body["code"] == status and body["message"]
    page = client.get(f"/raise/{name}")
    assert page.status_code == status and page.mimetype == "text/html"
    assert "<html" in page.get_data(as_text=True)


def test_the_api_body_carries_the_message_and_the_field_errors(raising_app):
    client = raising_app.test_client()
    assert client.get("/api/raise/forbidden").get_json() == {
        "code": 403, "status": "Forbidden", "message": "无权查看其他部门的申请"}
    fields = client.get("/api/raise/fields").get_json()
    assert fields["message"] == "提交的数据有误"
    assert fields["errors"] == {"json": {"purpose": ["此项为必填项"]}}
    assert client.get("/api/raise/form").get_json()["errors"] == {"json": {"comment": ["请填写意见"]}}


def test_a_conflict_page_says_so_in_chinese_and_shows_the_reason(raising_app):
    page = raising_app.test_client().get("/raise/conflict").get_data(as_text=True)
    assert "操作冲突" in page and "流程已被其他操作更新" in page


def test_a_flow_fault_is_logged_and_told_as_not_the_users_doing(raising_app, monkeypatch):
    # The app's logger itself is watched: earlier tests may have reconfigured logging.
    logged = []
    monkeypatch.setattr(raising_app.logger, "error", lambda msg, *args: logged.append(msg % args))
    body = raising_app.test_client().get("/api/raise/fault").get_json()
    assert body["message"].startswith("流程运行出错，本次操作未生效，请联系系统管理员")
    assert [m for m in logged if m.startswith("flow fault (StepLimitExceeded)")]


def test_every_platform_error_is_one_of_the_four_kinds_or_a_fault():
    kinds = (errors.NotFound, errors.Forbidden, errors.Conflict, errors.Invalid, errors.Unavailable)
    for make in RAISED.values():
        assert isinstance(make(), kinds)
