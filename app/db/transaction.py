"""One explicit unit of work:

    with transaction():
        ...                     # writes
    # committed here; an exception inside rolled everything back and went on up

The outermost block commits on success and rolls back on any exception. A nested block joins
it: it neither commits on success nor lets the unit go on after a failure — a nested block
that ends in an exception rolls the whole session back at once (so the caller may still read,
e.g. to show a form again with its errors) and marks the unit failed. If a caller swallows that
exception, the outermost block must not commit what came after, so it rolls back and raises
`TransactionFailed` instead.

A web or API request that writes (POST, PUT, PATCH, DELETE) is one such unit (`request_unit`,
called by the app's dispatch): the view, the services it calls (their own `with transaction()`
join it) and the making of the answer — the JSON body, the rendered page, the redirect — all
happen before the COMMIT, so that after it nothing is left that could read the database and
turn a committed change into an error. A view that handled a failed unit itself (a form shown
again with its errors, a "someone else was faster" notice) has its answer sent, and nothing is
committed.

Committing is one visible sequence (`_commit`): flush the ORM's changes, run the steps
registered with `before_commit` (the audit log chains its queued rows: app/audit/log.py), then
send the queued rows together with the COMMIT (app/db/rowbatch.py). A commit that goes around
this — `db.session.commit()` with rows queued — is refused by the row batch.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.orm import scoped_session

from app.db.rowbatch import send_with_commit
from app.extensions import db

_DEPTH = "transaction.depth"
_FAILED = "transaction.failed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
T = TypeVar("T")
# Work that must happen inside the transaction, just before it commits (create_app registers).
_BEFORE_COMMIT: list[Callable[[scoped_session], None]] = []


class TransactionFailed(RuntimeError):
    """A nested unit failed and its exception was swallowed: nothing was committed."""


def before_commit(step: Callable[[scoped_session], None]) -> None:
    """Run `step(session)` inside every unit of work just before its COMMIT (once per step)."""
    if step not in _BEFORE_COMMIT:
        _BEFORE_COMMIT.append(step)


def _commit() -> None:
    session = db.session
    session.flush()
    for step in _BEFORE_COMMIT:
        step(session)
    session.flush()
    send_with_commit(session)
    session.commit()


def in_transaction() -> bool:
    """Whether a unit of work is open on this session (a nested `transaction()` would join it)."""
    return bool(db.session.info.get(_DEPTH))


@contextmanager
def transaction() -> Iterator[scoped_session]:
    info = db.session.info  # per session, i.e. per request or job
    if info.get(_DEPTH):
        info[_DEPTH] += 1
        try:
            yield db.session
        except BaseException:
            info[_FAILED] = True
            db.session.rollback()
            raise
        finally:
            info[_DEPTH] -= 1
        return
    info[_DEPTH] = 1
    try:
        yield db.session
        if info.get(_FAILED):
            raise TransactionFailed("事务中的一步已失败，未提交任何更改")
        _commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        info.pop(_DEPTH, None)
        info.pop(_FAILED, None)


def request_unit(answer: Callable[[], T]) -> T:
    """Run `answer()` (a write request's view, up to its finished response) as one unit: commit
    after it, or — when a nested unit failed and the view handled it — roll back and still
    answer. An exception rolls back and goes on up to the error handlers."""
    info = db.session.info
    if info.get(_DEPTH):  # already inside a unit (a test client inside one, say): join it
        return answer()
    info[_DEPTH] = 1
    try:
        response = answer()
        if info.get(_FAILED):
            db.session.rollback()
        else:
            _commit()
        return response
    except BaseException:
        db.session.rollback()
        raise
    finally:
        info.pop(_DEPTH, None)
        info.pop(_FAILED, None)
