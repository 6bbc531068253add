"""Grants authorise use only while active, in period, and while the grantee is not suspended."""
from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from app.catalog.grants import GrantRefused, authorises, expire_due_grants, issue_grant, record_use
from tests import factories as f
from tests.factories import commit

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture()
def grant(city):
    entry = f.entry(city.police_approver, "GA-1")
    g = issue_grant(entry, city.health, purpose="出生登记核验", scope="姓名、身份号码",
                    valid_from=T0, valid_until=T0 + timedelta(days=90), authorised_by="provider",
                    authorised_by_user=city.police_approver, business_key="APP-1")
    commit()
    return g


def test_grant_authorises_only_within_its_period(grant):
    assert not authorises(grant, T0 - timedelta(seconds=1))
    assert authorises(grant, T0)
    assert not authorises(grant, T0 + timedelta(days=90))


def test_expiry_job_ends_grants_whose_period_is_over(grant, city):
    assert expire_due_grants(T0 + timedelta(days=89)) == 0
    assert expire_due_grants(T0 + timedelta(days=90)) == 1
    assert grant.status == "expired"
    with time_machine.travel(T0 + timedelta(days=1), tick=False), pytest.raises(GrantRefused, match="到期"):
        record_use(grant, city.health_applicant)


def test_use_is_recorded_and_refused_for_suspended_departments(grant, city):
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        record_use(grant, city.health_applicant)
        assert grant.last_used_at is not None
        city.health.suspended = True
        commit()
        with pytest.raises(GrantRefused, match="暂停"):
            record_use(grant, city.health_applicant)


def test_only_the_grantee_uses_a_grant(grant, city):
    with time_machine.travel(T0 + timedelta(days=3), tick=False), pytest.raises(GrantRefused):
        record_use(grant, city.police_applicant)
