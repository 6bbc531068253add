"""Bad input is refused, never a 500 (issue 12): ids past INTEGER in paths, bodies and queries,
huge page numbers, NUL bytes anywhere; and the answers are what the OpenAPI document says
(X-Pagination a JSON string, every error documented, 405 with Allow)."""
from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app

from app.catalog.models import CatalogEntry
from app.clock import to_local, utcnow
from app.engine import deploy
from app.extensions import db
from app.flows import register_flows
from app.sla import register_sla
from tests import factories as f

INT32_MAX = 2**31 - 1
BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
TOO_BIG = [2**31, 2**63, 10**30]  # past PostgreSQL's INTEGER, past SQLite's INTEGER, past both


@pytest.fixture()
def police(city):
    """A police applicant's token; health provides the entry it may apply for."""
    f.entry(city.health_approver, "WJ-1")
    return f.bearer(city.police_applicant)


def _entry_id() -> int:
    return db.session.scalar(db.select(CatalogEntry.id).where(CatalogEntry.resource_code == "WJ-1"))


# ---- integers out of range ---------------------------------------------------------------------

@pytest.mark.parametrize("big", TOO_BIG)
def test_a_path_id_past_integer_is_not_found(client, police, big):
    for method, path in [("GET", f"/api/tasks/{big}"), ("GET", f"/api/catalog/entries/{big}"),
                         ("POST", f"/api/tasks/{big}/claim"), ("GET", f"/api/applications/drafts/{big}"),
                         ("PATCH", f"/api/departments/{big}"), ("POST", f"/api/notifications/{big}/read")]:
        response = client.open(path, method=method, headers=police, json={})
        assert response.status_code == 404, (method, path, response.json)
        assert response.json["code"] == 404


def test_the_largest_integer_id_is_looked_up_and_missing(client, police):
    assert client.get(f"/api/tasks/{INT32_MAX}", headers=police).status_code == 404


def test_a_page_path_id_past_integer_is_the_not_found_page(client, city):
    f.login(client, "gaj.applicant")
    for path in [f"/tasks/{2**31}", f"/catalog/{10**30}", f"/applications/drafts/{2**63}"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "页面不存在" in f.page_text(response)


@pytest.mark.parametrize("big", TOO_BIG)
def test_a_body_integer_past_integer_is_a_field_error(client, city, police, big):
    response = client.post("/api/applications/drafts", headers=police,
                           json={"entry_id": big, "purpose": "核验"})
    assert response.status_code == 422, response.json
    assert "entry_id" in response.json["errors"]["json"]
    admin = f.bearer(city.admin)
    response = client.post("/api/departments", headers=admin,
                           json={"code": "new", "name": "新部门", "parent_id": big})
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"]["parent_id"] == ["数值须在 -2147483648 到 2147483647 之间"]


def test_a_multipart_entry_id_past_integer_is_a_field_error(client, police):
    response = client.post("/api/applications/drafts", headers=police, content_type="multipart/form-data",
                           data={"entry_id": str(2**40), "purpose": "核验",
                                 "letter": (io.BytesIO(b"%PDF-1.4\n"), "函.pdf")})
    assert response.status_code == 422, response.json
    assert "entry_id" in response.json["errors"]["json"]


def test_a_query_integer_past_integer_is_a_field_error(client, police):
    response = client.get(f"/api/catalog/entries?department_id={2**31}", headers=police)
    assert response.status_code == 422, response.json
    assert "department_id" in response.json["errors"]["query"]


def test_a_missing_parent_department_is_a_field_error(client, city):
    response = client.post("/api/departments", headers=f.bearer(city.admin),
                           json={"code": "new", "name": "新部门", "parent_id": 0})
    assert response.status_code == 422, response.json
    assert response.json["errors"]["json"]["parent_id"] == ["上级部门不存在"]


def test_a_page_query_id_past_integer_is_ignored(client, city):
    f.login(client, "gaj.applicant")
    assert client.get(f"/catalog/?department_id={2**40}").status_code == 200


@pytest.mark.parametrize("body", ["0", "true", "[1, 2]", "null"])
def test_a_json_body_that_is_not_an_object_is_a_field_error(client, city, body):
    register_sla()
    register_flows(current_app)
    deploy(BPMN_DIR / "conditional_share.bpmn")
    entry = f.entry(city.police_approver, "GA-9")
    today = to_local(utcnow()).date()
    response = client.post("/api/applications", headers=f.bearer(city.health_applicant),
                           content_type="multipart/form-data", data={
                               "entry_id": entry.id, "purpose": "核验", "requested_scope": "本部门", "items": ["公民身份号码"],
                               "legal_basis": "《某某法》", "requested_valid_from": str(today + timedelta(days=1)),
                               "requested_valid_until": str(today + timedelta(days=90)),
                               "letter": (io.BytesIO(b"%PDF-1.4\n"), "函.pdf")})
    assert response.status_code == 201, response.json
    task = response.json["open_tasks"][0]
    response = client.post(f"/api/tasks/{task['id']}/complete", headers=f.bearer(city.reviewer),
                           data=body, content_type="application/json")
    assert response.status_code == 422, response.json
    if body != "null":  # no body at all: the form's own field errors
        assert response.json["errors"]["json"] == {"_schema": ["请求体须为 JSON 对象"]}
    response = client.post("/api/catalog/entries", headers=f.bearer(city.police_approver),
                           data=body, content_type="application/json")
    assert response.status_code == 422, response.json


@pytest.mark.parametrize("body", [b"{not json", b"\x00", b'{"purpose": "x"'])
def test_a_json_body_that_does_not_parse_is_a_bad_request_not_an_empty_change(client, police, body):
    draft = client.post("/api/applications/drafts", headers=police,
                        json={"entry_id": _entry_id(), "purpose": "核验"}).json
    response = client.patch(f"/api/applications/drafts/{draft['id']}", headers=police, data=body,
                            content_type="application/json")
    assert response.status_code == 400, response.json
    assert response.json["message"] == "请求体不是有效的 JSON"
    response = client.post("/api/catalog/entries", headers=police, data=body, content_type="application/json")
    assert response.status_code == 400


# ---- page numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/catalog/entries", "/api/catalog/grants", "/api/tasks",
                                  "/api/applications", "/api/cases", "/api/notifications"])
def test_a_page_far_past_the_end_is_empty(client, police, path):
    for page in (10**6, 2**62, 10**30):
        response = client.get(f"{path}?page={page}&page_size=100", headers=police)
        assert response.status_code == 200, (path, page, response.json)
        assert response.json == []
        meta = json.loads(response.headers["X-Pagination"])
        assert "page" not in meta and meta["total"] >= 0


def test_the_page_size_is_bounded(client, police):
    response = client.get("/api/catalog/entries?page_size=101", headers=police)
    assert response.status_code == 422
    assert "page_size" in response.json["errors"]["query"]


def test_a_page_far_past_the_end_on_the_web_is_an_empty_list(client, city):
    f.login(client, "dsj.admin")
    for path in ["/catalog/", "/admin/users", "/tasks/", "/applications/", "/cases/", "/notifications/"]:
        response = client.get(f"{path}?page={10**30}")
        assert response.status_code == 200, path


# ---- NUL bytes ---------------------------------------------------------------------------------

def test_nul_in_a_query_string_is_refused_with_a_field_error(client, police):
    response = client.get("/api/catalog/entries?q=%E8%BA%AB%00", headers=police)
    assert response.status_code == 422
    assert response.json["errors"] == {"query": {"q": ["不能包含空字符（\\0）"]}}
    assert "空字符" in response.json["message"]


def test_nul_in_a_json_string_is_refused_with_a_field_error(client, police):
    response = client.post("/api/applications/drafts", headers=police,
                           json={"entry_id": _entry_id(), "purpose": "核\u0000验", "items": ["姓名", "\u0000"]})
    assert response.status_code == 422
    assert response.json["errors"] == {"json": {"purpose": ["不能包含空字符（\\0）"],
                                                "items.1": ["不能包含空字符（\\0）"]}}
    assert client.get("/api/applications?status=draft", headers=police).json == []


def test_nul_in_a_form_field_or_a_path_is_refused(client, police):
    response = client.post("/api/applications/drafts", headers=police, content_type="multipart/form-data",
                           data={"entry_id": str(_entry_id()), "purpose": "核\x00验"})
    assert response.status_code == 422
    assert response.json["errors"] == {"form": {"purpose": ["不能包含空字符（\\0）"]}}
    response = client.get("/api/applications/SQ-2026%00", headers=police)
    assert response.status_code == 422
    assert response.json["errors"] == {"path": {"path": ["不能包含空字符（\\0）"]}}


def test_nul_on_a_page_is_a_bad_request_page(client, city):
    f.login(client, "gaj.applicant")
    for path in ["/catalog/?q=%00", "/applications/SQ-2026-0%00"]:
        response = client.get(path)
        assert response.status_code == 400, path
        assert "空字符" in f.page_text(response)
    response = f.post_form(client, "/cases/new/unpublished_demand", {"resource_name": "a\x00"})
    assert response.status_code == 400


def test_nul_in_a_schema_field_is_a_field_error_outside_requests_too():
    from app.flows.conditional_share import ApplicationDraftForm
    from app.validation import FieldErrors, load

    with pytest.raises(FieldErrors) as refused:
        load(ApplicationDraftForm(), {"entry_id": 1, "purpose": "a\x00"})
    assert refused.value.errors == {"purpose": ["不能包含空字符（\\0）"]}


# ---- the document matches what is sent ---------------------------------------------------------

def _document(client) -> dict:
    return client.get("/api/openapi.json").json


def _allowed(response) -> set[str]:
    return set(response.headers["Allow"].split(", "))


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_x_pagination_is_documented_as_the_json_string_it_is(client, police):
    doc = _document(client)
    paginated = [op for _path, _method, op in _operations(doc)
                 if "X-Pagination" in op["responses"].get("200", {}).get("headers", {})]
    assert len(paginated) == 11  # + /api/sla/steps, open-steps, records, /api/audit/entries, usage
    for op in paginated:
        header = op["responses"]["200"]["headers"]["X-Pagination"]
        assert header["schema"]["type"] == "string"
        assert "JSON" in header["description"]
    sent = client.get("/api/catalog/entries?page_size=1", headers=police).headers["X-Pagination"]
    assert json.loads(sent) == {"total": 1, "total_pages": 1, "first_page": 1, "last_page": 1, "page": 1}


def test_every_operation_documents_its_errors_and_no_catch_all(client):
    doc = _document(client)
    for path, method, op in _operations(doc):
        codes = set(op["responses"])
        assert "default" not in codes, (method, path)
        assert {"401", "422"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if method != "get":
            assert {"400", "413"} <= codes, (method, path)
    error = doc["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "status"}
    assert doc["paths"]["/api/tasks/{task_id}/claim"]["post"]["responses"]["409"] == {
        "$ref": "#/components/responses/CONFLICT"}


def test_path_ids_are_documented_with_their_range(client):
    parameters = _document(client)["paths"]["/api/tasks/{task_id}"]["parameters"]
    assert parameters[0]["schema"] == {"type": "integer", "minimum": 0, "maximum": INT32_MAX}


def test_body_integers_are_documented_with_their_range(client):
    delegate = _document(client)["components"]["schemas"]["DelegateIn"]["properties"]["to_user_id"]
    assert (delegate["minimum"], delegate["maximum"]) == (-(2**31), INT32_MAX)


def test_business_keys_and_flows_are_documented_and_match_only_themselves(client, police):
    doc = _document(client)
    key = doc["paths"]["/api/cases/{business_key}"]["parameters"][0]["schema"]
    assert key["pattern"] == "^[A-Z]{2,8}-[0-9]{4}-[0-9]{6,10}$"
    flow = doc["paths"]["/api/cases/{flow}"]["parameters"][0]["schema"]
    assert "revocation" in flow["enum"]
    # A literal sibling is no longer read as a key: GET on a POST-only route is 405, not a lookup.
    response = client.get("/api/applications/drafts", headers=police)
    assert response.status_code == 405 and _allowed(response) == {"POST", "OPTIONS"}
    assert _allowed(client.options("/api/cases/flows", headers=police)) == {"GET", "HEAD", "OPTIONS"}
    assert client.get("/api/cases/SQ-2026-000001", headers=police).status_code == 404
    assert client.get("/api/cases/not-a-key", headers=police).status_code == 404


# ---- unsupported methods -----------------------------------------------------------------------

def test_an_unsupported_method_is_405_with_allow(client, police, city):
    response = client.open("/api/tasks", method="TRACE", headers=police)
    assert response.status_code == 405
    assert _allowed(response) == {"GET", "HEAD", "OPTIONS"}
    assert response.json["code"] == 405
    response = client.delete("/api/catalog/entries", headers=police)
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    f.login(client, "gaj.applicant")
    response = client.open("/catalog/", method="TRACE")
    assert response.status_code == 405
    assert _allowed(response) == {"GET", "HEAD", "OPTIONS"}
    assert "不支持的操作" in f.page_text(response)
