"""A department never sees another department's drafts or grants (SPEC §7), web and API alike."""
from datetime import UTC, datetime

from app.catalog.models import Grant
from app.extensions import db
from tests import factories as f
from tests.factories import commit


def _grant(entry, grantee):
    g = Grant(entry_id=entry.id, grantee_department_id=grantee.id, purpose="履职核验",
              valid_from=datetime(2026, 1, 1, tzinfo=UTC), authorised_by="provider")
    db.session.add(g)
    commit()
    return g


def test_another_departments_draft_is_refused_on_api_and_web(city, client):
    draft = f.entry(city.police_approver, "GA-D", published=False)
    api = client.get(f"/api/catalog/entries/{draft.id}", headers=f.bearer(city.health_approver))
    assert api.status_code == 403
    f.login(client, "wjw.approver")
    web = client.get(f"/catalog/{draft.id}")
    assert web.status_code == 403
    assert "没有权限" in web.get_data(as_text=True)


def test_drafts_are_left_out_of_other_departments_lists(city, client):
    f.entry(city.police_approver, "GA-D", published=False)
    f.entry(city.police_approver, "GA-P")
    r = client.get("/api/catalog/entries", headers=f.bearer(city.health_applicant))
    assert [e["resource_code"] for e in r.get_json()] == ["GA-P"]
    own = client.get("/api/catalog/entries", headers=f.bearer(city.police_applicant))
    assert sorted(e["resource_code"] for e in own.get_json()) == ["GA-D", "GA-P"]


def test_another_departments_grant_is_refused(city, client):
    entry = f.entry(city.police_approver, "GA-1")
    third = f.department("mzj", "市民政局")
    outsider = f.user(third, "mzj.applicant")
    grant = _grant(entry, city.health)
    assert client.get(f"/api/catalog/grants/{grant.id}", headers=f.bearer(outsider)).status_code == 403
    assert client.get("/api/catalog/grants", headers=f.bearer(outsider)).get_json() == []
    for holder in (city.health_applicant, city.police_approver, city.reviewer):  # grantee, provider, office
        assert client.get(f"/api/catalog/grants/{grant.id}", headers=f.bearer(holder)).status_code == 200


def test_editing_another_departments_entry_is_refused(city, client):
    draft = f.entry(city.police_approver, "GA-D", published=False)
    r = client.patch(f"/api/catalog/entries/{draft.id}", json={"name": "改"}, headers=f.bearer(city.health_approver))
    assert r.status_code == 403
    db.session.refresh(draft)
    assert draft.name != "改"


def test_only_administrators_manage_users(city, client):
    body = {"username": "x.user", "display_name": "某人", "department_id": city.police.id,
            "password": "long-enough-pw", "roles": ["applicant"]}
    assert client.post("/api/users", json=body, headers=f.bearer(city.police_approver)).status_code == 403
    assert client.post("/api/users", json=body, headers=f.bearer(city.admin)).status_code == 201


def test_office_roles_only_inside_the_office(city, client):
    body = {"username": "x.user", "display_name": "某人", "department_id": city.police.id,
            "password": "long-enough-pw", "roles": ["office_reviewer"]}
    r = client.post("/api/users", json=body, headers=f.bearer(city.admin))
    assert r.status_code == 422
    assert "主管部门" in r.get_json()["errors"]["json"]["roles"][0]
