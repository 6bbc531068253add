"""Jurisdiction policy profiles (SPEC §5) and the deadlines they define."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
import yaml

from app.clock import LOCAL_TZ
from app.legaltime.calendar import WorkingDayCalendar
from app.legaltime.data import load_directory
from app.legaltime.service import REPO_CALENDAR_DIR
from app.policy import (
    DEADLINE_NAMES,
    SWITCH_NAMES,
    PolicyError,
    UnknownDeadline,
    active_policy,
    deadline_for,
    load_profile,
    profile_keys,
    reminder_for,
    validate_profiles,
)
from app.policy.profiles import PROFILE_DIR, parse_profile

KEYS = ["baoji", "linzhou", "nantong", "wuhai", "xicheng"]


@pytest.fixture(scope="module")
def cal():
    return WorkingDayCalendar(load_directory(REPO_CALENDAR_DIR))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


def raw(key="nantong") -> dict:
    return yaml.safe_load((PROFILE_DIR / f"{key}.yaml").read_text(encoding="utf-8"))


def test_every_profile_loads_and_validates():
    assert profile_keys() == KEYS
    assert validate_profiles() == []
    for key in KEYS:
        policy = load_profile(key)
        assert set(policy.deadlines) == set(DEADLINE_NAMES)
        assert set(policy.switches) == set(SWITCH_NAMES)
        for rule in policy.deadlines.values():
            assert rule.article or (rule.note and rule.note.startswith("默认值"))


@pytest.mark.parametrize(("key", "amount", "article"), [
    ("baoji", 10, "art. 16"), ("nantong", 10, "art. 22"), ("wuhai", 5, "art. 9"),
    ("xicheng", 15, "art. 26"), ("linzhou", 1, "art. 8"),
])
def test_provider_review_per_jurisdiction(key, amount, article):
    rule = load_profile(key).deadline("provider_review")
    assert (rule.amount, rule.unit, rule.article) == (amount, "workday", article)


def test_table_of_spec_section_5():
    nantong = load_profile("nantong")
    assert nantong.coordinating_office == "市大数据管理局"
    assert nantong.deadline("formal_review").amount == 1
    assert nantong.deadline("platform_authorisation").amount == 2
    assert (nantong.deadline("demand_publish").amount, nantong.deadline("demand_publish").unit) == (1, "month")
    assert nantong.deadline("demand_feedback").amount == 10
    assert nantong.switch("revocation_needs_approval") and nantong.idle_grant_months == 3
    baoji = load_profile("baoji")
    assert baoji.switch("suspension_on_missed_rectification") and baoji.log_retention_years == 3
    assert baoji.switches["suspension_on_missed_rectification"].article == "art. 29"
    assert not baoji.switch("formal_review")
    xicheng = load_profile("xicheng")
    assert xicheng.switch("three_party_agreement") and xicheng.switch("confidentiality_agreement")
    assert load_profile("wuhai").switch("written_circular_on_missed_rectification")
    assert load_profile("linzhou").coordinating_office == "市行政服务中心"
    for key in KEYS:
        assert load_profile(key).deadline("catalogue_update").unit == "workday"
        assert load_profile(key).close_of_business is None  # all five are silent: 24:00


def test_active_policy_follows_config(app, monkeypatch):
    assert active_policy().key == "nantong"
    monkeypatch.setitem(app.config, "POLICY_PROFILE", "wuhai")
    assert active_policy().key == "wuhai"


def test_deadline_for_differs_by_jurisdiction(cal):
    event = local(2026, 9, 28, 10, 0)  # Monday before National Day; 乌海's 5th wd is make-up Sat 10-10
    days = {key: deadline_for("provider_review", event, key, calendar=cal).local_date for key in KEYS}
    assert days == {
        "linzhou": date(2026, 9, 29), "wuhai": date(2026, 10, 10), "baoji": date(2026, 10, 16),
        "nantong": date(2026, 10, 16), "xicheng": date(2026, 10, 23),
    }


def test_deadline_for_unknown_name(cal):
    with pytest.raises(UnknownDeadline, match="known: formal_review"):
        deadline_for("coffee_break", local(2026, 9, 28, 10, 0), "nantong", calendar=cal)


def test_reminder_for_is_lead_working_days_before_at_0900(cal):
    event = local(2026, 9, 28, 10, 0)
    reminder = reminder_for("provider_review", event, "nantong", calendar=cal)
    assert reminder.at.astimezone(LOCAL_TZ) == local(2026, 10, 14, 9, 0)  # 2 wd before 10-16
    assert not reminder.provisional


def test_reminder_never_before_the_event(cal):
    event = local(2026, 9, 28, 10, 0)
    reminder = reminder_for("provider_review", event, "linzhou", calendar=cal)
    # 1 wd before a 1-wd deadline is the event day itself: fall back to 09:00 on the last day.
    assert reminder.at.astimezone(LOCAL_TZ) == local(2026, 9, 29, 9, 0)
    assert reminder.at > event


def test_reminder_provisional_when_deadline_is(cal):
    assert reminder_for("provider_review", local(2026, 12, 28, 10, 0), "nantong", calendar=cal).provisional


def mutate(path: str, value):
    data = raw()
    node = data
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(("path", "value", "field", "message"), [
    ("deadlines.provider_review.amount", 0, "deadlines.provider_review.amount", "at least 1"),
    ("deadlines.provider_review.amount", "ten", "deadlines.provider_review.amount", "whole number"),
    ("deadlines.provider_review.unit", "day", "deadlines.provider_review.unit", "workday, month"),
    ("deadlines.provider_review.article", "第二十二条", "deadlines.provider_review.article", "art. 21"),
    ("deadlines.provider_review", KeyError, "deadlines.provider_review", "missing"),
    ("deadlines.objection_verification.note", KeyError, "deadlines.objection_verification.note", "must document"),
    ("deadlines.coffee_break", {"amount": 1, "unit": "workday", "article": None, "note": "x"},
     "deadlines.coffee_break", "unknown deadline"),
    ("switches.three_party_agreement.value", "yes", "switches.three_party_agreement.value", "true or false"),
    ("switches.three_party_agreement.article", KeyError, "switches.three_party_agreement.article", "null"),
    ("close_of_business.value", 1050, "close_of_business.value", "quoted"),
    ("close_of_business.value", "5pm", "close_of_business.value", "HH:MM"),
    ("close_of_business.value", "08:30", "close_of_business.value", "later than 09:00"),
    ("coordinating_office.name", "", "coordinating_office.name", "missing or empty"),
    ("reminder_lead.unit", "month", "reminder_lead.unit", "must be workday"),
    ("regulation.number", KeyError, "regulation.number", "write null"),
    ("key", "wuhai", "key", "named nantong.yaml"),
])
def test_bad_profiles_are_refused_naming_the_field(path, value, field, message):
    with pytest.raises(PolicyError) as caught:
        parse_profile(mutate(path, value), "profiles/nantong.yaml", expected_key="nantong")
    text = str(caught.value)
    assert text.startswith("profiles/nantong.yaml: ") and field in text and message in text


def test_close_of_business_is_applied(tmp_path, cal):
    data = raw()
    data["close_of_business"]["value"] = "17:30"
    (tmp_path / "nantong.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_profile("nantong", tmp_path)
    assert policy.close_of_business == time(17, 30)
    result = deadline_for("formal_review", local(2026, 9, 30, 10, 0), policy, calendar=cal)
    assert result.local_at == local(2026, 10, 8, 17, 30)


def test_unknown_profile_lists_available(tmp_path):
    with pytest.raises(PolicyError, match="available: none"):
        load_profile("nantong", tmp_path)


def test_a_profile_using_a_former_deadline_name_still_loads():
    data = raw()
    data["deadlines"]["provider_reply"] = data["deadlines"].pop("provider_review")
    policy = parse_profile(data, "profiles/nantong.yaml", expected_key="nantong")
    assert policy.deadline("provider_review").amount == 10
    data["deadlines"]["provider_review"] = dict(data["deadlines"]["provider_reply"])
    with pytest.raises(PolicyError, match="deadlines.provider_reply: former name of deadlines.provider_review"):
        parse_profile(data, "profiles/nantong.yaml", expected_key="nantong")
