"""Reading notifications: personal ones carry their own read time, group ones a receipt per
reader; marking all read and asking which are read take a fixed number of statements."""
from __future__ import annotations

from sqlalchemy import event

from app.extensions import db
from app.notifications import (
    for_user,
    mark_all_read,
    mark_read,
    notify_group,
    notify_user,
    read_ids,
    unread_count,
)
from tests.factories import commit


def _statements(fn) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_mark_all_read_and_read_ids(city):
    me, colleague = city.health_applicant, city.health_approver
    for n in range(3):
        notify_user(me.id, "decision", f"个人 {n}")
        notify_group(me.department_id, "applicant", "decision", f"组 {n}")
    notify_group(me.department_id, "provider_approver", "decision", "不是我的组")
    commit()
    assert unread_count(me) == 6
    notes = db.session.scalars(for_user(me)).all()
    mark_read(me, notes[0].id)
    commit()
    assert len(read_ids(me, notes)) == 1
    assert _statements(lambda: read_ids(me, notes)) <= 1
    assert _statements(lambda: mark_all_read(me)) == 2
    commit()
    assert unread_count(me) == 0
    assert read_ids(me, db.session.scalars(for_user(me)).all()) == {n.id for n in notes}
    mark_all_read(me)  # nothing left: no duplicate receipts
    commit()
    assert unread_count(me) == 0
    assert unread_count(colleague) >= 1  # a group receipt is the reader's own
