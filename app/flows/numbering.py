"""Business numbers: one series per record type and year (SQ-2026-000001, CX-2026-000001 …).

The number comes from a counter row per (prefix, year), taken and advanced in one statement
(INSERT … ON CONFLICT DO UPDATE … RETURNING), so two records started at the same moment —
on any number of hosts — never share a number and a series has no gaps from other types'
records. It is taken inside the record's own transaction: a start that fails gives its
number back with everything else.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import to_local
from app.extensions import db


class RecordNumber(db.Model):
    """The last number given in one series."""

    __tablename__ = "record_number"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


def next_number(prefix: str, year: int) -> int:
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = RecordNumber.__table__
    stmt = insert(table).values(prefix=prefix, year=year, last=1)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.prefix, table.c.year],
                                      set_={"last": table.c.last + 1}).returning(table.c.last)
    return db.session.execute(stmt).scalar_one()


def business_key(prefix: str, at: datetime) -> str:
    """The next key of `prefix`'s series for the (Shanghai) year of `at`."""
    year = to_local(at).year
    return f"{prefix}-{year}-{next_number(prefix, year):06d}"
