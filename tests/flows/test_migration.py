"""Versions of a flow and moving running instances between them (the studio's migration), on the
real conditional-share diagram, through the HTTP API, on a frozen clock (30 Sep 2026 10:00)."""
from __future__ import annotations

from sqlalchemy import select

from app.engine import deploy, instance_by_key, latest_definition
from app.engine.migration import dry_run, migrate_safe
from app.engine.models import WorkflowTimer
from app.extensions import db
from tests.flows.conftest import local
from tests.flows.test_conditional_share import utc


def _renamed_deadline(xml: str) -> bytes:
    # the provider's review, its reminder and its escalation now count the office's 2 wd period
    return xml.replace("('provider_review')", "('platform_authorisation')").encode("utf-8")


def _timers(key: str) -> list[tuple]:
    inst = instance_by_key(key)
    return sorted(db.session.execute(select(WorkflowTimer.task_spec, WorkflowTimer.due_at, WorkflowTimer.state)
                                     .where(WorkflowTimer.instance_id == inst.id)).all())


def test_a_new_version_runs_new_work_old_work_keeps_its_own_and_safe_instances_move(flow, entries, city, clock):
    old = latest_definition("conditional_share")
    at_formal = flow.apply(city.health_applicant, entries.conditional)
    at_provider = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, at_provider, "formal_review", {"decision": "accept"})
    formal_due = flow.task(at_formal, "formal_review")["due_at"]
    formal_timers = _timers(at_formal)

    new = deploy(_renamed_deadline(old.bpmn_xml), product_rules=True, change_note="提供部门审核改用 2 个工作日")
    assert (new.version, new.change_note) == (old.version + 1, "提供部门审核改用 2 个工作日")
    fresh = flow.apply(city.health_applicant, entries.conditional)
    assert instance_by_key(fresh).definition_id == new.id
    assert instance_by_key(at_formal).definition_id == old.id

    verdicts = {v.business_key: v for v in dry_run(old, new)}
    assert set(verdicts) == {at_formal, at_provider}
    assert verdicts[at_formal].safe and verdicts[at_formal].current == ["规范性审查"]
    assert not verdicts[at_provider].safe
    assert "当前环节「提供部门审核」（provider_review）在新版本中有改动" in verdicts[at_provider].reasons
    assert instance_by_key(at_provider).definition_id == old.id  # a dry run changes nothing

    moved, left = migrate_safe(old, new, None)
    assert moved == [at_formal] and [key for key, _ in left] == [at_provider]
    assert instance_by_key(at_formal).definition_id == new.id
    assert instance_by_key(at_provider).definition_id == old.id
    # its current step and timers are as they were (not counted again from the migration) …
    assert flow.task(at_formal, "formal_review")["due_at"] == formal_due
    assert _timers(at_formal) == formal_timers
    # … and the step it reaches next runs the new version: 2 wd after 30 Sep = 9 Oct 24:00
    flow.do(city.reviewer, at_formal, "formal_review", {"decision": "accept"})
    assert flow.task(at_formal, "provider_review")["due_at"] == utc(local(2026, 10, 10))
    # the one left alone keeps the old 10 working days (20 Oct 24:00)
    assert flow.task(at_provider, "provider_review")["due_at"] == utc(local(2026, 10, 21))
