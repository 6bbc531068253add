"""The revision that made an application a Case (migrations/versions/a7c2e9d41b08): applications
stored before it become `Application` rows of the one record table, cases keep their ids, the
audit trail finds an application by its former id, and a draft keeps its letter."""
from __future__ import annotations

import datetime as dt
import uuid

from flask_migrate import upgrade
from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, MetaData, select, text

from app.extensions import db
from app.flows.models import Application, Case
from tests.conftest import make_app, scratch_pg_database

BEFORE = "f1a2b3c4d5e6"
AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _filled(table, **given) -> dict:
    """`given`, and a plain value for every other column a row of `table` must have."""
    row = dict(given)
    for column in table.columns:
        if column.name in row or column.nullable or column.primary_key or column.server_default is not None:
            continue
        if column.foreign_keys:
            row[column.name] = 1  # the first row of the referred table, inserted before
        elif isinstance(column.type, Boolean):
            row[column.name] = False
        elif isinstance(column.type, DateTime):
            row[column.name] = AT
        elif isinstance(column.type, Date):
            row[column.name] = AT.date()
        elif isinstance(column.type, JSON):
            row[column.name] = {}
        elif isinstance(column.type, Integer):
            row[column.name] = 0
        else:
            row[column.name] = uuid.uuid4().hex[:min(8, getattr(column.type, "length", None) or 8)]
    return row


def _seed_old_schema() -> None:
    tables = MetaData()
    tables.reflect(db.engine)
    with db.engine.begin() as conn:
        def insert(table_name, **given):
            conn.execute(tables.tables[table_name].insert().values(_filled(tables.tables[table_name], **given)))

        insert("department", id=1, name="市公安局")
        insert("department", id=2, name="市卫健委")
        insert("user_account", id=1, department_id=2, username="wjw.applicant")
        insert("catalog_entry", id=1, name="出生医学证明", provider_department_id=1)
        insert("attachment_content", sha256="0" * 64)
        insert("attachment", id=1, sha256="0" * 64, owner_type="share_application", owner_id="draft-2")
        insert("attachment", id=2, sha256="0" * 64, owner_type="share_application", owner_id="SQ-2026-000001")
        # one case (id 1) and two applications (ids 1 and 2: the second a draft)
        insert("workflow_case", business_key="CX-2026-000001", flow="revocation", title="撤销共享",
               department_id=1, entry_id=1, details={"reasons": "数据已停止更新"})
        common = dict(entry_id=1, applicant_department_id=2, provider_department_id=1, applicant_user_id=1,
                      purpose="出生医学证明核验", scope="出生登记", items=["姓名"], legal_basis="《母婴保健法》")
        insert("share_application", id=1, business_key="SQ-2026-000001", status="refused",
               last_stage="provider_review", last_outcome="refused", last_reasons="涉及个人隐私",
               letter_attachment_id=2, valid_from=dt.date(2026, 12, 1), valid_until=dt.date(2027, 5, 31), **common)
        insert("share_application", id=2, business_key=None, status="draft", letter_attachment_id=1, **common)


def _migrated(url: str, tmp_path_factory) -> None:
    application = make_app(url, tmp_path_factory)
    with application.app_context():
        upgrade(revision=BEFORE)
        _seed_old_schema()
        upgrade()
        _check_records()
        db.session.remove()
        db.engine.dispose()


def _check_records() -> None:
    case = db.session.get(Case, 1)
    assert type(case) is Case and case.flow == "revocation" and case.details == {"reasons": "数据已停止更新"}
    refused = db.session.scalar(select(Application).where(Application.former_id == 1))
    draft = db.session.scalar(select(Application).where(Application.former_id == 2))
    assert {refused.id, draft.id} == {2, 3}  # after the case: one id sequence for every record
    assert refused.business_key == "SQ-2026-000001" and refused.flow == "conditional_share"
    assert (refused.status, refused.stage, refused.outcome, refused.reasons) == (
        "refused", "provider_review", "refused", "涉及个人隐私")
    assert refused.provider_department_id == 1 and refused.title == "出生医学证明"
    assert refused.items == ["姓名"] and refused.requested_valid_until == dt.date(2027, 5, 31)
    assert draft.is_draft and draft.business_key is None and draft.requested_valid_from is None
    # the one query over every record returns each with its own class
    assert {type(r).__name__ for r in db.session.scalars(select(Case))} == {"Case", "Application"}
    owners = dict(db.session.execute(text("SELECT id, owner_type || ':' || owner_id FROM attachment")).all())
    assert owners == {1: f"workflow_case:draft-{draft.id}", 2: "workflow_case:SQ-2026-000001"}


def test_applications_become_cases_on_sqlite(tmp_path, tmp_path_factory):
    _migrated(f"sqlite:///{tmp_path / 'r.db'}", tmp_path_factory)


def test_applications_become_cases_on_postgresql(pg_database, tmp_path_factory):
    with scratch_pg_database("dsp_rec") as url:
        _migrated(url, tmp_path_factory)
