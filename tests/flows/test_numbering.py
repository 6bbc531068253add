"""Business numbers: one series per record type and year (issue: the first objection was
YY-2026-000002, and applications and cases share one table), carried on by the revision that
introduced the counters."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.flows.numbering import RecordNumber, business_key
from tests.factories import commit
from tests.flows.conftest import local

MIGRATION = Path(__file__).resolve().parents[2] / "migrations/versions/d4f6a8c0e2b4_one_number_series_per_record_type.py"
_spec = importlib.util.spec_from_file_location("one_number_series_per_record_type", MIGRATION)
revision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(revision)

REVOKE = {"reasons": "数据来源系统停用", "effective_date": "2026-10-15"}


def test_each_record_type_counts_on_its_own(flow, cases, city, entries, clock):
    first = flow.apply(city.health_applicant, entries.conditional)
    revocation = cases.open(city.police_approver, "revocation", {**REVOKE, "entry_id": entries.conditional.id})
    second = flow.apply(city.health_applicant, entries.conditional)
    assert (first, revocation, second) == ("SQ-2026-000001", "CX-2026-000001", "SQ-2026-000002")


def test_a_new_year_starts_a_new_series_and_a_failed_start_gives_its_number_back(app, clock):
    assert business_key("YY", local(2026, 12, 31, 23, 0)) == "YY-2026-000001"
    commit()
    db.session.begin_nested()
    assert business_key("YY", local(2026, 12, 31, 23, 30)) == "YY-2026-000002"
    db.session.rollback()  # the record's transaction failed: its number is not used up
    assert business_key("YY", local(2026, 12, 31, 23, 45)) == "YY-2026-000002"
    assert business_key("YY", local(2027, 1, 1, 0, 5)) == "YY-2027-000001"  # Shanghai's new year


def test_the_revision_starts_each_series_after_the_highest_key_given(app):
    seeded = revision.highest_numbers(["SQ-2026-000007", "CX-2026-000003", "SQ-2026-000012", "SQ-2025-000900",
                                       None, "tmp-3f2a", "DM-2026-000001"])
    assert seeded == {("SQ", 2026): 12, ("CX", 2026): 3, ("SQ", 2025): 900, ("DM", 2026): 1}
    db.session.add_all(RecordNumber(prefix=p, year=y, last=n) for (p, y), n in seeded.items())
    commit()
    assert business_key("SQ", local(2026, 12, 1)) == "SQ-2026-000013"
    assert db.session.scalar(select(RecordNumber.last).where(RecordNumber.prefix == "CX")) == 3
