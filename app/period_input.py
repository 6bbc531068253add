"""A period asked for by a page, the API or a command: `from` … `to`, local dates, both ends
included; by default this month up to today. The SLA figures and the audit log search read
periods the same way."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from app.clock import start_of_day, to_local, utcnow
from app.validation import Schema

MAX_DAYS = 366 * 3
DATE_RANGE = validate.Range(min=date(2000, 1, 1), max=date(2099, 12, 31), error="日期须在 2000 年至 2099 年之间")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def bounds(self):
        """[start, end) in UTC: 00:00 local of the first day to 00:00 local after the last."""
        return start_of_day(self.first), start_of_day(self.last + timedelta(days=1))


class PeriodInput(Schema):
    from_ = fields.Date(data_key="from", validate=DATE_RANGE, metadata={"description": "起始日期（含），默认本月1日"})
    to = fields.Date(validate=DATE_RANGE, metadata={"description": "截止日期（含），默认今天"})

    @validates_schema
    def _order(self, data, **_):
        period = period_of(data)
        if period.last < period.first:
            raise ValidationError({"to": ["截止日期不能早于起始日期"]})
        if (period.last - period.first).days > MAX_DAYS:
            raise ValidationError({"from": ["统计期间最长三年"]})


def period_of(data: dict) -> Period:
    today = to_local(utcnow()).date()
    return Period(data.get("from_") or today.replace(day=1), data.get("to") or today)
