"""Share-type rules (南通 art. 8, 宝鸡 art. 15) through the service, the API and the database."""
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.catalog.models import CatalogEntry
from app.catalog.services import create_entry, update_entry
from app.extensions import db
from app.validation import FieldErrors
from tests import factories as f
from tests.factories import commit


def _count():
    return db.session.scalar(select(func.count()).select_from(CatalogEntry))


def test_conditional_entry_needs_conditions_and_scope(city):
    with pytest.raises(FieldErrors) as err:
        create_entry(city.police_approver, f.entry_data(share_conditions="", share_scope=None))
    assert "南通细则第八条" in err.value.errors["share_conditions"][0]
    assert "share_scope" in err.value.errors
    assert _count() == 0


def test_not_shared_entry_needs_legal_basis(city):
    with pytest.raises(FieldErrors) as err:
        create_entry(city.police_approver, f.entry_data(share_type="not_shared", legal_basis="  "))
    assert list(err.value.errors) == ["legal_basis"]
    assert "宝鸡办法第十五条" in err.value.errors["legal_basis"][0]


def test_unconditional_entry_needs_neither(city):
    entry = create_entry(city.police_approver, f.entry_data(share_type="unconditional"))
    assert entry.share_conditions is None and entry.legal_basis is None


def test_secret_or_private_data_cannot_be_unconditional(city):
    # 宝鸡 art. 15(4); a change to an existing entry is held to the same rule
    with pytest.raises(FieldErrors) as err:
        create_entry(city.police_approver, f.entry_data(share_type="unconditional", sensitive=True))
    assert list(err.value.errors) == ["share_type"] and "宝鸡办法第十五条" in err.value.errors["share_type"][0]
    entry = create_entry(city.police_approver, f.entry_data(share_type="unconditional"))
    commit()
    with pytest.raises(FieldErrors):
        update_entry(city.police_approver, entry, {"sensitive": True})
    assert _count() == 1 and db.session.get(CatalogEntry, entry.id).sensitive is False


def test_basic_data_is_unconditional_where_the_profile_says_so(app, city, client, monkeypatch):
    # 宝鸡 art. 15(2): the basic items of population, legal-person, spatial data … unconditional
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "baoji")
    with pytest.raises(FieldErrors) as err:
        create_entry(city.police_approver, f.entry_data("RK-1", basic_data=True))
    assert list(err.value.errors) == ["share_type"] and "无条件共享" in err.value.errors["share_type"][0]
    assert "第15条" in err.value.errors["share_type"][0]
    # through the API: the same field-level error, nothing stored
    refused = client.post("/api/catalog/entries", json=f.entry_data("RK-2", basic_data=True),
                          headers=f.bearer(city.police_approver))
    assert refused.status_code == 422 and "share_type" in refused.json["errors"]["json"]
    assert _count() == 0
    basic = create_entry(city.police_approver, f.entry_data("RK-3", share_type="unconditional", basic_data=True))
    assert basic.basic_data is True
    # personal data stays under 15(4): basic, sensitive and conditional is allowed
    assert create_entry(city.police_approver, f.entry_data("RK-4", basic_data=True, sensitive=True)).basic_data
    # 南通 has no such rule
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "nantong")
    assert create_entry(city.police_approver, f.entry_data("RK-5", basic_data=True)).share_type == "conditional"


def test_only_unconditional_data_is_marked_as_needing_control_parameters(city):
    with pytest.raises(FieldErrors) as err:
        create_entry(city.police_approver, f.entry_data(needs_control_parameters=True))
    assert list(err.value.errors) == ["needs_control_parameters"] and "无条件共享" in (
        err.value.errors["needs_control_parameters"][0])
    entry = create_entry(city.police_approver, f.entry_data(share_type="unconditional", needs_control_parameters=True))
    assert entry.needs_control_parameters is True


def test_resource_code_is_unique(city):
    f.entry(city.police_approver, "GA-9")
    with pytest.raises(FieldErrors) as err:
        create_entry(city.health_approver, f.entry_data("GA-9"))
    assert "已被使用" in err.value.errors["resource_code"][0]


def test_update_keeps_the_rules(city):
    entry = f.entry(city.police_approver, published=False)
    with pytest.raises(FieldErrors) as err:
        update_entry(city.police_approver, entry, {"share_type": "not_shared"})
    assert "legal_basis" in err.value.errors
    db.session.refresh(entry)
    assert entry.share_type == "conditional"


def test_database_refuses_a_conditional_entry_without_scope(city):
    entry = f.entry(city.police_approver)
    entry.share_scope = None
    with pytest.raises(IntegrityError):
        commit()
    db.session.rollback()


def test_api_reports_field_errors_in_chinese_and_changes_nothing(city, client):
    body = f.entry_data(share_conditions="", items=[])
    del body["name"]
    r = client.post("/api/catalog/entries", json=body, headers=f.bearer(city.police_approver))
    assert r.status_code == 422
    errors = r.get_json()["errors"]["json"]
    assert errors["name"] == ["此项为必填项"]
    assert errors["items"] == ["至少填写一个信息项"]
    assert _count() == 0


def test_api_creates_a_draft_for_the_callers_department(city, client):
    r = client.post("/api/catalog/entries", json=f.entry_data("WJ-77"), headers=f.bearer(city.health_approver))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["publish_state"] == "draft"
    assert body["provider_department_id"] == city.health.id


def test_applicant_may_not_register_entries(city, client):
    r = client.post("/api/catalog/entries", json=f.entry_data(), headers=f.bearer(city.health_applicant))
    assert r.status_code == 403
