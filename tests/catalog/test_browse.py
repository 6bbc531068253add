"""Browse and search the catalogue (web and API)."""
from tests import factories as f


def test_search_by_keyword_department_and_share_type(city, client):
    f.entry(city.police_approver, "GA-1", name="常住人口基本信息")
    f.entry(city.police_approver, "GA-2", share_type="unconditional", name="户籍迁移统计")
    f.entry(city.health_approver, "WJ-1", name="出生医学证明", items=[{"name": "母亲姓名", "data_type": "string"}])
    headers = f.bearer(city.health_applicant)

    def codes(**query):
        r = client.get("/api/catalog/entries", query_string=query, headers=headers)
        assert r.status_code == 200
        return sorted(e["resource_code"] for e in r.get_json())

    assert codes() == ["GA-1", "GA-2", "WJ-1"]
    assert codes(q="人口") == ["GA-1"]
    assert codes(q="母亲") == ["WJ-1"]  # information items are searched too
    assert codes(department_id=city.police.id) == ["GA-1", "GA-2"]
    assert codes(share_type="unconditional") == ["GA-2"]


def test_api_paginates(city, client):
    for i in range(25):
        f.entry(city.police_approver, f"GA-{i:02d}")
    r = client.get("/api/catalog/entries?page=2&page_size=10", headers=f.bearer(city.police_applicant))
    assert len(r.get_json()) == 10
    assert '"total": 25' in r.headers["X-Pagination"]


def test_web_browse_and_detail(city, client):
    entry = f.entry(city.police_approver, "GA-1", name="常住人口基本信息")
    f.login(client, "wjw.applicant")
    page = client.get("/catalog/?q=人口").get_data(as_text=True)
    assert "常住人口基本信息" in page and "有条件共享" in page
    detail = client.get(f"/catalog/{entry.id}").get_data(as_text=True)
    assert "仅限履职" in detail and "公民身份号码" in detail


def test_openapi_document_and_docs_page(city, client):
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/catalog/entries" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    f.login(client, "dsj.admin")
    assert client.get("/api/docs").status_code == 200
