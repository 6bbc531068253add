"""`transaction()`: the outermost block commits or rolls back, a nested one joins it (both backends).
What is committed is read on a connection of its own, as another request would see it."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app.audit.log import record, verify_chain
from app.db import TransactionFailed, transaction
from app.extensions import db
from app.org.models import Department


def _committed() -> list[str]:
    with db.engine.connect() as conn:
        return list(conn.execute(text("SELECT code FROM department ORDER BY code")).scalars())


def _add(code: str) -> None:
    db.session.add(Department(code=code, name=f"部门{code}"))
    db.session.flush()


def test_the_outermost_block_commits_and_a_nested_one_joins_it(app):
    with transaction():
        _add("a")
        with transaction():
            _add("b")
        assert _committed() == []  # the inner block did not commit
        record("test.joined", "department", 1)
    assert _committed() == ["a", "b"]
    assert verify_chain() == (1, [])  # the audit row was chained by the outer COMMIT


def test_an_exception_rolls_back_the_whole_unit_and_goes_on(app):
    with pytest.raises(ValueError), transaction():
        _add("a")
        with transaction():
            _add("b")
            raise ValueError("refused")
    assert _committed() == []
    with transaction():  # the session is usable again, and a new unit commits
        _add("c")
    assert _committed() == ["c"]


def test_a_swallowed_failure_of_a_nested_unit_commits_nothing(app):
    with pytest.raises(TransactionFailed), transaction():
        _add("a")
        try:
            with transaction():
                _add("b")
                raise ValueError("half done")
        except ValueError:
            pass
    assert _committed() == []
    with transaction():
        _add("c")
    assert _committed() == ["c"]


def test_a_failed_commit_rolls_back(app):
    with transaction():
        _add("a")
    with pytest.raises(Exception) as failed, transaction():
        db.session.add(Department(code="a", name="重复编码"))  # unique: the COMMIT's flush fails
    assert "unique" in str(failed.value).lower() or "duplicate" in str(failed.value).lower()
    assert _committed() == ["a"]
    with transaction():
        _add("b")
    assert _committed() == ["a", "b"]
