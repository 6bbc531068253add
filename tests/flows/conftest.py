"""Conditional-share flow tests: the real BPMN, driven through the HTTP API, on a frozen clock."""
from __future__ import annotations

import contextlib
import io
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.clock import LOCAL_TZ
from app.engine import deploy
from app.flows import register_flows
from app.legaltime.service import REPO_CALENDAR_DIR
from app.org.models import Role
from app.sla import register_sla
from tests import factories as f
from tests.factories import commit

BPMN_FILE = Path(__file__).resolve().parents[2] / "bpmn" / "conditional_share.bpmn"
# Wednesday 30 September 2026, 10:00 in Shanghai: the next day starts the National Day holiday
# (1–7 October), Saturday 10 October is a make-up working day.
EVENT = datetime(2026, 9, 30, 10, 0, tzinfo=LOCAL_TZ)
PDF = b"%PDF-1.4\n% sealed application letter\n"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture(autouse=True)
def _flows_registered(app):
    # Engine tests register stand-in deadline()/reminder() functions process-wide: put ours back.
    register_sla()
    register_flows(app)


@pytest.fixture()
def profile(app):
    """`profile('xicheng')` switches the jurisdiction policy for this test only."""
    original = app.config["POLICY_PROFILE"]
    yield lambda key: app.config.update(POLICY_PROFILE=key)
    app.config["POLICY_PROFILE"] = original


@pytest.fixture()
def clock():
    with time_machine.travel(EVENT, tick=False) as traveller:
        yield traveller


class Flow:
    """A thin HTTP driver: one bearer token per user, helpers for the usual calls."""

    def __init__(self, client, city):
        self.client, self.city = client, city
        self._headers: dict[int, dict] = {}
        deploy(BPMN_FILE)

    def headers(self, user) -> dict:
        if user.id not in self._headers:
            self._headers[user.id] = f.bearer(user)
        return self._headers[user.id]

    def get(self, user, path, **kwargs):
        return self.client.get(path, headers=self.headers(user), **kwargs)

    def post(self, user, path, **kwargs):
        return self.client.post(path, headers=self.headers(user), **kwargs)

    def submit(self, user, entry, *, letter: bool = True, **fields):
        data = {"entry_id": entry.id, "purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务",
                "items": ["公民身份号码"], "legal_basis": "《母婴保健法》第二十三条",
                "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}
        data.update(fields)
        if not letter:
            return self.post(user, "/api/applications", json=data)
        data["letter"] = (io.BytesIO(PDF), "申请函.pdf")
        return self.post(user, "/api/applications", data=data, content_type="multipart/form-data")

    def apply(self, user, entry, **fields) -> str:
        response = self.submit(user, entry, **fields)
        assert response.status_code == 201, response.json
        return response.json["application"]["business_key"]

    def detail(self, key, user=None) -> dict:
        response = self.get(user or self.city.reviewer, f"/api/applications/{key}")
        assert response.status_code == 200, response.json
        return response.json

    def open_tasks(self, key) -> dict[str, dict]:
        return {t["task_spec"]: t for t in self.detail(key)["open_tasks"]}

    def task(self, key, spec) -> dict:
        tasks = self.open_tasks(key)
        assert spec in tasks, f"{spec} not open; open: {sorted(tasks)}"
        return tasks[spec]

    def complete(self, user, task_id, data):
        return self.post(user, f"/api/tasks/{task_id}/complete", json=data)

    def do(self, user, key, spec, data) -> dict:
        response = self.complete(user, self.task(key, spec)["id"], data)
        assert response.status_code == 200, response.json
        return response.json

    def notifications(self, user, **query) -> list[dict]:
        response = self.get(user, "/api/notifications", query_string=query)
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture()
def flow(client, city):
    return Flow(client, city)


@pytest.fixture()
def entries(city):
    """Police (gaj) provides; health (wjw) applies."""

    class Entries:
        conditional = f.entry(city.police_approver, "GA-COND", share_type="conditional")
        platform = f.entry(city.police_approver, "GA-PLAT", share_type="conditional",
                           authorisation_mode="platform")
        sensitive = f.entry(city.police_approver, "GA-SENS", share_type="conditional", sensitive=True)
        unconditional = f.entry(city.police_approver, "GA-OPEN", share_type="unconditional")
        not_shared = f.entry(city.police_approver, "GA-CLOSED", share_type="not_shared")

    return Entries


@pytest.fixture()
def second(city):
    """A second provider approver and a second office reviewer (same groups as the first)."""

    class Second:
        police_approver = f.user(city.police, "gaj.approver2", Role.PROVIDER_APPROVER)
        reviewer = f.user(city.office, "dsj.reviewer2", Role.OFFICE_REVIEWER)
        outsider_dept = f.department("zjj", "市住建局")
        outsider = f.user(outsider_dept, "zjj.approver", Role.PROVIDER_APPROVER, Role.APPLICANT)

    commit()
    return Second


CASE_FLOWS = ("revocation", "idle_grant_review", "unpublished_demand", "rectification", "data_objection",
              "catalogue_review")


class CaseDriver(Flow):
    """The same driver for the case flows (/api/cases); every case BPMN is deployed."""

    def __init__(self, client, city):
        super().__init__(client, city)
        for name in CASE_FLOWS:
            deploy(BPMN_FILE.with_name(f"{name}.bpmn"))

    def start(self, user, flow, json=None, **kwargs):
        """POST the start form: JSON, or multipart with `data=…, content_type=…`."""
        if "data" in kwargs:
            return self.post(user, f"/api/cases/{flow}", **kwargs)
        return self.post(user, f"/api/cases/{flow}", json=json or {})

    def open(self, user, flow, json=None, **kwargs) -> str:
        response = self.start(user, flow, json, **kwargs)
        assert response.status_code == 201, response.json
        return response.json["case"]["business_key"]

    def detail(self, key, user=None) -> dict:
        response = self.get(user or self.city.reviewer, f"/api/cases/{key}")
        assert response.status_code == 200, response.json
        return response.json

    def case(self, key, user=None) -> dict:
        return self.detail(key, user)["case"]


@pytest.fixture()
def cases(client, city):
    return CaseDriver(client, city)


def titles(notes: list[dict]) -> list[str]:
    return [n["title"] for n in notes]


# ---- nothing after the commit: the database goes away once the request has committed

class DatabaseGone(Exception):
    pass


@pytest.fixture()
def db_gone_after_commit():
    """`with db_gone_after_commit(): …` — after the first COMMIT inside, every statement fails."""

    @contextlib.contextmanager
    def armed():
        state = {"committed": False}

        def committed(_session):
            state["committed"] = True

        def refuse(*_args, **_kwargs):
            if state["committed"]:
                raise DatabaseGone("the database went away after the commit")

        event.listen(Session, "after_commit", committed)
        event.listen(Engine, "before_cursor_execute", refuse)
        try:
            yield state
        finally:
            event.remove(Engine, "before_cursor_execute", refuse)
            event.remove(Session, "after_commit", committed)
        assert state["committed"], "the request never committed"

    return armed


@pytest.fixture()
def calendars_without_2027(app, tmp_path):
    """A copy of calendars/ as CALENDAR_DIR: a test may load 2027 into it."""
    directory = tmp_path / "calendars"
    shutil.copytree(REPO_CALENDAR_DIR, directory)
    original = app.config["CALENDAR_DIR"]
    app.config["CALENDAR_DIR"] = str(directory)
    yield directory
    app.config["CALENDAR_DIR"] = original
