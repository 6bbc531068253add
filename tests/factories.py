"""Small builders for test data, going through the real services (so rules and audit apply)."""
from __future__ import annotations

import re

from app.catalog.models import CatalogEntry, PublishState
from app.catalog.services import create_entry
from app.db import transaction
from app.org.models import Department, Role, User
from app.org.services import issue_api_token, save_department, save_user

PASSWORD = "Test-password-1"


def commit() -> None:
    """Commit the test's session as the product does (app.db.transaction): queued rows sent
    and audit rows chained with the COMMIT."""
    with transaction():
        pass


def department(code: str, name: str | None = None, is_office: bool = False) -> Department:
    return save_department(None, {"code": code, "name": name or f"测试部门{code}", "is_office": is_office})


def user(dept: Department, username: str, *roles: Role) -> User:
    return save_user(None, {
        "username": username, "display_name": username, "department_id": dept.id,
        "password": PASSWORD, "roles": [r.value for r in roles or (Role.APPLICANT,)],
    })


def entry_data(code: str = "T-001", share_type: str = "conditional", **extra) -> dict:
    data = {
        "resource_code": code, "name": f"测试资源{code}", "resource_format": "api",
        "share_type": share_type, "share_method": "api", "update_cycle": "daily",
        "items": [{"name": "公民身份号码", "data_type": "string"}],
    }
    if share_type == "conditional":
        data.update(share_conditions="仅限履职", share_scope="市级部门")
    if share_type == "not_shared":
        data.update(legal_basis="《某某法》第十条")
    data.update(extra)
    return data


def entry(approver: User, code: str = "T-001", published: bool = True, **extra) -> CatalogEntry:
    created = create_entry(approver, entry_data(code, **extra))
    if published:
        created.publish_state = PublishState.PUBLISHED.value
        commit()
    return created


def csrf_token(client, path: str = "/sign-in") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def post_form(client, path: str, data: dict, **kwargs):
    """A signed-in page's form POST, with the page's CSRF token."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/")}, **kwargs)


def sign_out(client):
    return post_form(client, "/sign-out", {})


def page_text(response) -> str:
    """A page's HTML with runs of whitespace folded to one space (for `in` checks)."""
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post("/sign-in", data={"username": username, "password": password, "csrf_token": token})


def bearer(user_obj: User) -> dict:
    return {"Authorization": f"Bearer {issue_api_token(user_obj, user_obj)}"}


class City:
    """Office + two departments with users in each role: enough to test who sees what."""

    def __init__(self):
        self.office = department("dsj", "市大数据管理局", is_office=True)
        self.police = department("gaj", "市公安局")
        self.health = department("wjw", "市卫健委")
        self.admin = user(self.office, "dsj.admin", Role.ADMINISTRATOR)
        self.reviewer = user(self.office, "dsj.reviewer", Role.OFFICE_REVIEWER)
        self.supervisor = user(self.office, "dsj.supervisor", Role.SUPERVISOR)
        self.police_approver = user(self.police, "gaj.approver", Role.PROVIDER_APPROVER)
        self.police_applicant = user(self.police, "gaj.applicant", Role.APPLICANT)
        self.health_approver = user(self.health, "wjw.approver", Role.PROVIDER_APPROVER)
        self.health_applicant = user(self.health, "wjw.applicant", Role.APPLICANT)
