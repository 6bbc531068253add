"""How long records are kept: the profile's `log_retention_years` (宝鸡 art. 21: at least 3 years).
Nothing may be deleted — audit entries now, archived history later — from `retention_start` on."""
from __future__ import annotations

from datetime import datetime

from app.clock import as_utc, to_local, utcnow
from app.legaltime.periods import add_months, start_of_day
from app.policy.in_force import resolve_policy
from app.policy.profiles import Policy


def retention_start(policy: Policy | str | None = None, now: datetime | None = None) -> datetime:
    """00:00 local of the same day `log_retention_years` years ago: every record from then on is kept."""
    policy = resolve_policy(policy)
    today = to_local(as_utc(now) if now else utcnow()).date()
    return start_of_day(add_months(today, -12 * policy.log_retention_years))
