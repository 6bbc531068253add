"""One explicit unit of work:

    with transaction():
        ...                     # writes
    # committed here; an exception inside rolled everything back and went on up

The outermost block commits on success and rolls back on any exception. A nested block joins
it: it neither commits nor rolls back, so a service's own `with transaction()` becomes part of
its caller's — an API handler that serialises its answer from what the transaction wrote before
the COMMIT, so that nothing after the commit can turn the success into an error.

A nested block that ended in an exception leaves a unit half done; if a caller swallowed that
exception the outermost block must not commit what is left, so it rolls back and raises
`TransactionFailed` instead.

The COMMIT itself sends the queued rows and chains the audit rows (their session hooks,
app/rowbatch.py and app/audit/log.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import scoped_session

from app.extensions import db

_DEPTH = "transaction.depth"
_FAILED = "transaction.failed"


class TransactionFailed(RuntimeError):
    """A nested unit failed and its exception was swallowed: nothing was committed."""


@contextmanager
def transaction() -> Iterator[scoped_session]:
    info = db.session.info  # per session, i.e. per request or job
    if info.get(_DEPTH):
        info[_DEPTH] += 1
        try:
            yield db.session
        except BaseException:
            info[_FAILED] = True
            raise
        finally:
            info[_DEPTH] -= 1
        return
    info[_DEPTH] = 1
    try:
        yield db.session
        if info.get(_FAILED):
            raise TransactionFailed("事务中的一步已失败，未提交任何更改")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        info.pop(_DEPTH, None)
        info.pop(_FAILED, None)
