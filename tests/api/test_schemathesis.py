"""Schemathesis over every operation of /api/openapi.json, through the WSGI app, on a city with work.

Each operation gets a bounded, derandomized set of generated requests (examples, coverage
cases — boundary values, missing and wrong-typed parameters, undeclared methods — and fuzzing)
sent with a real bearer token; a response fails the test when it is a 5xx, or when its status,
content type, headers or body are not what the document says. State-changing operations run too,
against the test's throw-away database: what they break that the next case needs (the caller's
account, role or department, its token) is put back before each case.
"""
from __future__ import annotations

import io
import os
import zlib
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from app import create_app
from app.catalog.grants import issue_grant
from app.catalog.models import CatalogEntry, Grant
from app.clock import to_local, utcnow
from app.demo.seed import seed
from app.engine.definitions import deploy_directory
from app.engine.models import HumanTask
from app.extensions import db
from app.flows import register_flows
from app.flows.models import Application, Case
from app.flows.registry import CASE_FLOWS as FLOWS
from app.notifications import for_user
from app.org.models import Department, Role, User
from app.org.passwords import token_hash
from app.org.services import issue_api_token, save_user
from app.sla import register_sla
from tests import factories as f
from tests.factories import commit

# Per operation, besides the coverage cases: about 35 s per backend for all 36 operations.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "50"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, unsupported_method,
          allow_header_conformance]
STATS_FILE = os.environ.get("SCHEMATHESIS_STATS")  # one line per request: backend, status, method, path
PDF = b"%PDF-1.4\n% sealed application letter\n"
ORG_PATHS = ("/api/departments", "/api/users")


class Caller:
    """A signed-in account whose token, roles, department and active flag are put back before
    each case (a fuzzed PATCH /api/users may deactivate it, POST /api/me/token replaces its token)."""

    def __init__(self, user: User):
        self.user_id, self.department_id = user.id, user.department_id
        self.roles = sorted(r.value for r in user.roles)
        self.token = issue_api_token(user, user)

    def restore(self) -> dict:
        user = db.session.get(User, self.user_id)
        if (not user.active or user.department_id != self.department_id
                or sorted(r.value for r in user.roles) != self.roles):
            save_user(None, {"active": True, "department_id": self.department_id, "roles": self.roles}, user)
        department = db.session.get(Department, self.department_id)
        office = Role.ADMINISTRATOR.value in self.roles
        if department.suspended or department.is_office != office:
            department.suspended, department.is_office = False, office
            commit()
        if user.api_token_hash != token_hash(self.token):
            self.token = issue_api_token(user, user)
        return {"Authorization": f"Bearer {self.token}"}


def _application(client, headers, entry: CatalogEntry, **fields) -> dict:
    today = to_local(utcnow()).date()
    data = {"entry_id": entry.id, "purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务",
            "items": [entry.items[0].name], "legal_basis": "《母婴保健法》第二十三条",
            "requested_valid_from": str(today + timedelta(days=1)), "requested_valid_until": str(today + timedelta(days=365)),
            **fields,
            "letter": (io.BytesIO(PDF), "申请函.pdf")}
    response = client.post("/api/applications", data=data, content_type="multipart/form-data",
                           headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _entry(code: str) -> CatalogEntry:
    return db.session.scalar(db.select(CatalogEntry).where(CatalogEntry.resource_code == code))


def _user(username: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == username))


def _city_with_work(app) -> dict[str, Caller]:
    """The demo city, every flow deployed, and work in flight for the police department (gaj):
    its own application, drafts and grant, applications to its entries waiting in its approvers'
    group (one claimed), a grant it provides, a case, and the notifications all of that sent."""
    register_sla()
    register_flows(app)  # engine tests register stand-in deadline()/reminder() process-wide
    seed()
    deploy_directory(app.config["BPMN_DIR"])
    gaj, wjw = (db.session.scalar(db.select(Department).where(Department.code == code))
                for code in ("gaj", "wjw"))
    worker = f.user(gaj, "gaj.worker", Role.APPLICANT, Role.PROVIDER_APPROVER)
    callers = {"worker": Caller(worker), "admin": Caller(_user("dsj.admin"))}
    client = app.test_client()
    mine = callers["worker"].restore()
    health, office = f.bearer(_user("wjw.applicant")), f.bearer(_user("dsj.reviewer"))
    _application(client, mine, _entry("WJ-001"))
    for code in ("GA-001", "GA-002", "GA-003"):
        key = _application(client, health, _entry(code))["application"]["business_key"]
        review = client.get(f"/api/applications/{key}", headers=office).json["open_tasks"][0]
        response = client.post(f"/api/tasks/{review['id']}/complete", headers=office,
                               json={"decision": "accept"})
        assert response.status_code == 200, response.json
    for purpose in ("草稿一", "草稿二", "草稿三"):
        response = client.post("/api/applications/drafts", headers=mine,
                               json={"entry_id": _entry("RS-001").id, "purpose": purpose})
        assert response.status_code == 201, response.json
    tasks = client.get("/api/tasks?view=groups", headers=mine).json
    assert len(tasks) == 2, "the police approvers' group reviews GA-001 and GA-003 (GA-002 is the platform's)"
    assert client.post(f"/api/tasks/{tasks[0]['id']}/claim", headers=mine).status_code == 200
    now = utcnow()
    for entry, grantee in ((_entry("WJ-002"), gaj), (_entry("GA-003"), wjw)):
        issue_grant(entry, grantee, purpose="履职核验", scope="全部信息项", valid_from=now - timedelta(days=1),
                    valid_until=now + timedelta(days=365), authorised_by="provider")
    commit()
    response = client.post("/api/cases/unpublished_demand", headers=mine, data={
        "resource_name": "流动人口居住登记信息", "description": "按月提供居住登记变动",
        "purpose": "户籍与居住证办理", "letter": (io.BytesIO(PDF), "需求函.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    return callers


def _known_path_values(worker: User) -> dict[str, list]:
    """Existing rows for each path parameter; tasks and notifications those of the worker's group
    (others' answer 403/404 whatever the id). Applications' and cases' keys apart (`case_key`)."""
    def values(column, *where) -> list:
        return list(db.session.scalars(db.select(column).where(*where).order_by(column)))

    return {
        "entry_id": values(CatalogEntry.id), "grant_id": values(Grant.id),
        "department_id": values(Department.id), "user_id": values(User.id), "draft_id": values(Application.id),
        "task_id": values(HumanTask.id, HumanTask.candidate_department_id == worker.department_id),
        "notification_id": [n.id for n in db.session.scalars(for_user(worker))],
        "business_key": values(Application.business_key, Application.business_key.is_not(None)),
        "case_key": values(Case.business_key),
        "flow": sorted(FLOWS),
    }


@pytest.fixture(scope="module")
def city_app(backend_app):
    """The backend's app with the city built once for all operations (they change it as they go,
    as against a served instance); every table is emptied afterwards, as the `app` fixture does."""
    with backend_app.app_context():
        callers = _city_with_work(backend_app)
        KNOWN.update(_known_path_values(db.session.get(User, callers["worker"].user_id)))
        db.session.remove()
        yield backend_app, callers
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


# The document comes from the app itself (served through WSGI, no network); it depends on no data,
# so an app without a database serves it at collection time and the calls go to the backend's app.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app({
    "SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True, "SECRET_KEY": "docs-only"}))


# Path parameter → values that exist in the city, filled by `city_app` (ids differ per backend).
KNOWN: dict[str, list] = {}


def _existing(name: str, value):
    """Every other generated value is swapped for an existing row's, chosen from the value itself
    (deterministic), so detail and action operations answer with real bodies, not only 404."""
    known = KNOWN.get(name)
    if not known or isinstance(value, bool) or not isinstance(value, int | str):
        return value
    n = value if isinstance(value, int) else zlib.crc32(value.encode("utf-8", "surrogatepass"))
    return known[(n // 2) % len(known)] if n % 2 == 0 else value


@schema.hook
def map_path_parameters(context, path_parameters: dict | None) -> dict:
    cases = context.operation.path.startswith("/api/cases/")
    return {name: _existing("case_key" if cases and name == "business_key" else name, value)
            for name, value in (path_parameters or {}).items()}


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_and_never_fails(case, city_app):
    """No 5xx, and every response as documented, for generated valid and invalid requests."""
    app, callers = city_app
    caller = callers["admin"] if case.operation.path.startswith(ORG_PATHS) else callers["worker"]
    with app.app_context():
        headers = caller.restore()
    # The test client gives each request its own app context, session and `g`, as when served.
    response = case.call(app=app, session=app.test_client(), headers=headers)
    if STATS_FILE:
        with open(STATS_FILE, "a", encoding="utf-8") as out:
            out.write(f"{app.config['BACKEND']} {response.status_code} {case.method} {case.operation.path}\n")
    case.validate_response(response, checks=CHECKS)
