"""`Idempotency-Key` on the API's create requests (both backends, frozen clock; the race on
PostgreSQL): a repeat returns the first answer and creates nothing."""
from __future__ import annotations

import io
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from app.api.idempotency import expire_idempotency_keys
from app.api.models import IdempotencyKey
from app.audit.models import AuditEntry
from app.catalog.models import Attachment
from app.engine.models import ProcessInstance
from app.engine.scheduler import PERIODIC_JOBS, run_periodic
from app.extensions import db
from app.flows import records as service
from app.flows.models import Application, Case
from tests import factories as f
from tests.factories import commit
from tests.flows.conftest import PDF

APPLICATION = {"purpose": "出生医学证明核验", "requested_scope": "本部门出生登记业务", "items": ["公民身份号码"],
               "legal_basis": "《母婴保健法》第二十三条", "requested_valid_from": "2026-10-01", "requested_valid_until": "2027-09-30"}
NOTICE = {"violation_category": "data_inaccurate", "description": "人口数据长期未更新", "deadline": "2026-10-16"}
KEY = "5f0c2b8e-8d0e-4a7b-9a51-0c3f7d1e2a44"


def _counts() -> dict[str, int]:
    db.session.expire_all()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Application, Case, ProcessInstance, Attachment, AuditEntry, IdempotencyKey)}


def _keyed(driver, user, key=KEY) -> dict:
    return {**driver.headers(user), "Idempotency-Key": key}


def _apply(flow, user, entry, key=KEY, **fields):
    """A multipart application with its sealed letter (a fresh boundary and stream each time)."""
    return flow.client.post("/api/applications", headers=_keyed(flow, user, key), content_type="multipart/form-data",
                            data={"entry_id": entry.id, **APPLICATION, **fields,
                                  "letter": (io.BytesIO(PDF), "申请函.pdf")})


def _same(first, again) -> None:
    assert (again.status_code, again.json, again.headers.get("Location")) == (
        first.status_code, first.json, first.headers.get("Location"))
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers


def test_a_repeated_application_returns_the_first_answer_and_creates_nothing(flow, city, entries, clock):
    first = _apply(flow, city.health_applicant, entries.conditional)
    assert first.status_code == 201, first.json
    after_first = _counts()
    assert after_first["Application"] == 1 and after_first["IdempotencyKey"] == 1
    clock.shift(timedelta(minutes=5))
    again = _apply(flow, city.health_applicant, entries.conditional)
    _same(first, again)
    assert again.json["application"]["business_key"] == first.json["application"]["business_key"]
    assert _counts() == after_first
    # without a key every request is a new application, as before
    plain = flow.submit(city.health_applicant, entries.conditional)
    assert plain.status_code == 201 and "Idempotent-Replayed" not in plain.headers
    assert _counts()["Application"] == 2


def test_a_repeated_draft_and_a_repeated_submit_return_the_first_answer(flow, city, entries, clock):
    headers = _keyed(flow, city.health_applicant, "draft-1")
    body = {"entry_id": entries.conditional.id, "purpose": "核验"}
    saved = flow.client.post("/api/applications/drafts", json=body, headers=headers)
    assert saved.status_code == 201, saved.json
    # the same JSON, keys in another order and spaced otherwise, is the same request
    reordered = f'{{"purpose": "核验",  "entry_id": {entries.conditional.id}}}'
    _same(saved, flow.client.post("/api/applications/drafts", data=reordered, content_type="application/json",
                                  headers=headers))
    assert _counts()["Application"] == 1
    path = f"/api/applications/drafts/{saved.json['id']}/submit"
    submit_headers = _keyed(flow, city.health_applicant, "submit-1")

    def submit():
        return flow.client.post(path, headers=submit_headers, content_type="multipart/form-data",
                                data={**APPLICATION, "letter": (io.BytesIO(PDF), "申请函.pdf")})

    submitted = submit()
    assert submitted.status_code == 201, submitted.json
    counts = _counts()
    # without the key the draft is no longer a draft (409); with it, the first answer
    assert flow.post(city.health_applicant, path, json=APPLICATION).status_code == 409
    _same(submitted, submit())
    assert _counts() == counts


def test_a_repeated_case_returns_the_first_answer_and_creates_nothing(cases, city, clock):
    notice = {**NOTICE, "rectified_department_id": city.health.id}
    first = cases.client.post("/api/cases/rectification", json=notice, headers=_keyed(cases, city.reviewer))
    assert first.status_code == 201, first.json
    counts = _counts()
    _same(first, cases.client.post("/api/cases/rectification", json=notice, headers=_keyed(cases, city.reviewer)))
    assert _counts() == counts and counts["Case"] == 1


def test_the_same_key_with_another_request_is_refused_and_changes_nothing(flow, city, entries, clock):
    assert _apply(flow, city.health_applicant, entries.conditional).status_code == 201
    counts = _counts()
    other = _apply(flow, city.health_applicant, entries.conditional, purpose="另一个用途")
    elsewhere = flow.client.post("/api/applications/drafts", json={"entry_id": entries.conditional.id},
                                 headers=_keyed(flow, city.health_applicant))
    for refused in (other, elsewhere):
        assert refused.status_code == 422
        assert refused.json["errors"] == {"headers": {"Idempotency-Key": [
            "该 Idempotency-Key 已用于另一个请求，请为新的请求使用新的键"]}}
    assert _counts() == counts


@pytest.mark.parametrize("key", ["", "x" * 256, "café", "a\x7fb"])
def test_a_malformed_key_is_refused_and_changes_nothing(flow, city, entries, clock, key):
    refused = _apply(flow, city.health_applicant, entries.conditional, key=key)
    assert refused.status_code == 422, refused.json
    assert refused.json["errors"]["headers"]["Idempotency-Key"] == ["Idempotency-Key 须为 1–255 个可打印 ASCII 字符"]
    assert _counts()["Application"] == 0


def test_the_longest_key_is_accepted(flow, city, entries, clock):
    key = "~ !" + "k" * 252
    first = _apply(flow, city.health_applicant, entries.conditional, key=key)
    assert first.status_code == 201, first.json
    _same(first, _apply(flow, city.health_applicant, entries.conditional, key=key))


def test_keys_belong_to_one_user(flow, city, entries, clock):
    health_entry = f.entry(city.health_approver, "WJ-COND")
    assert _apply(flow, city.health_applicant, entries.conditional).status_code == 201
    theirs = _apply(flow, city.police_applicant, health_entry)
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert _counts()["Application"] == 2


def test_a_failed_request_keeps_no_key_and_may_be_retried_with_it(flow, city, entries, clock):
    invalid = _apply(flow, city.health_applicant, entries.conditional, purpose="")
    assert invalid.status_code == 422 and "purpose" in invalid.json["errors"]["json"]
    assert _counts()["IdempotencyKey"] == 0
    fixed = _apply(flow, city.health_applicant, entries.conditional)
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers


def test_a_crash_inside_the_transaction_leaves_neither_the_record_nor_the_key(
        flow, city, entries, clock, monkeypatch):
    real_view = service.view

    def crash(_application):
        raise RuntimeError("worker killed while answering")

    monkeypatch.setattr(service, "view", crash)
    with pytest.raises(RuntimeError):
        _apply(flow, city.health_applicant, entries.conditional)
    counts = _counts()
    assert (counts["Application"], counts["ProcessInstance"], counts["IdempotencyKey"]) == (0, 0, 0)
    monkeypatch.setattr(service, "view", real_view)
    retried = _apply(flow, city.health_applicant, entries.conditional)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert _counts()["Application"] == 1


def test_keys_expire_after_the_retention(app, flow, city, entries, clock):
    first = _apply(flow, city.health_applicant, entries.conditional)
    clock.shift(timedelta(hours=23, minutes=59))
    _same(first, _apply(flow, city.health_applicant, entries.conditional))
    assert "expire_idempotency_keys" in PERIODIC_JOBS and run_periodic(app, "expire_idempotency_keys")
    assert _counts()["IdempotencyKey"] == 1  # still within 24 h
    clock.shift(timedelta(minutes=2))
    # past the retention the key is free again, even before the sweep
    fresh = _apply(flow, city.health_applicant, entries.conditional)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.json["application"]["business_key"] != first.json["application"]["business_key"]
    assert _counts()["IdempotencyKey"] == 1  # the expired row was replaced
    clock.shift(timedelta(hours=25))
    assert expire_idempotency_keys() == 1
    commit()
    assert _counts()["IdempotencyKey"] == 0


def test_the_header_is_in_the_openapi_document(client, city):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/applications", "/api/applications/drafts", "/api/applications/drafts/{draft_id}/submit",
                 "/api/cases/{flow}"):
        [header] = [p for p in paths[path]["post"].get("parameters", []) if p["in"] == "header"]
        assert header["name"] == "Idempotency-Key" and header["required"] is False
        assert header["schema"]["maxLength"] == 255
    assert not [p for p in paths["/api/applications"]["get"].get("parameters", []) if p["in"] == "header"]


# ---- two at once (PostgreSQL) -------------------------------------------------------------------

def _waiting_on_a_lock(url: str) -> bool:
    engine = create_engine(url)
    try:
        for _ in range(3000):  # polls a fact, not a clock: the second request waits on the first's key
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND datname = current_database()")).scalar():
                    return True
            time.sleep(0.01)
        return False
    finally:
        engine.dispose()


def test_a_duplicate_sent_while_the_first_runs_waits_and_gets_its_answer(app, flow, city, entries, clock,
                                                                         monkeypatch):
    if app.config["BACKEND"] != "postgresql":
        pytest.skip("a concurrent duplicate needs two real transactions")
    flow.headers(city.health_applicant)
    commit()
    inside, release = threading.Event(), threading.Event()
    real_view, views = service.view, []

    def first_waits(application):
        # the first request holds its transaction open here, its key inserted, until released
        views.append(application.business_key)
        if len(views) == 1:
            inside.set()
            assert release.wait(60)
        return real_view(application)

    monkeypatch.setattr(service, "view", first_waits)
    responses: dict[str, object] = {}
    headers, entry_id = _keyed(flow, city.health_applicant), entries.conditional.id

    def send(name):  # in its own thread: nothing here may touch the test's session
        try:
            responses[name] = flow.client.post(
                "/api/applications", headers=headers, content_type="multipart/form-data",
                data={"entry_id": entry_id, **APPLICATION, "letter": (io.BytesIO(PDF), "申请函.pdf")})
        except Exception as exc:  # reported by the assertions below
            responses[name] = exc

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert inside.wait(60), responses
    second = threading.Thread(target=send, args=("second",))
    second.start()
    try:
        assert _waiting_on_a_lock(app.config["SQLALCHEMY_DATABASE_URI"])
    finally:
        release.set()
        first.join(60)
        second.join(60)
    one, two = responses["first"], responses["second"]
    assert one.status_code == 201, one
    _same(one, two)
    assert len(views) == 1  # the duplicate did no work of its own
    counts = _counts()
    assert (counts["Application"], counts["ProcessInstance"], counts["Attachment"], counts["IdempotencyKey"]) == (
        1, 1, 1, 1)
