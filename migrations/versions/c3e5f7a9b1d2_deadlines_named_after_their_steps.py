"""one name per concept: a deadline is named after the step it bounds

`provider_reply` bounds the step `provider_review` and `objection_verify` the step
`objection_verification`; they are now called `provider_review` and `objection_verification`
in the policy profiles, the diagrams' timer and deadline expressions, and the stored legal
deadlines (which the provisional recompute looks up by that name). A profile file that still
uses a former name keeps loading (app/policy/profiles.py FORMER_DEADLINE_NAMES).

The stored diagram versions are rewritten where they call `deadline(…)` or `reminder(…)` with a
former name, so instances running on them find their deadlines (app/engine/stored_rewrite.py).

Revision ID: c3e5f7a9b1d2
Revises: a7c2e9d41b08
Create Date: 2026-12-03 19:30:00

"""
import sqlalchemy as sa
from alembic import op

from app.engine.stored_rewrite import rewrite_definitions

revision = 'c3e5f7a9b1d2'
down_revision = 'a7c2e9d41b08'
branch_labels = None
depends_on = None

# As this revision renamed them (app/policy/profiles.py keeps the list for profile files; this
# one stays as it was when a later rename extends that one).
FORMER_DEADLINE_NAMES = {"provider_reply": "provider_review", "objection_verify": "objection_verification"}
legal_deadline = sa.table("legal_deadline", sa.column("policy_key", sa.String))


def calls(names: dict[str, str]) -> dict[str, str]:
    """The exact texts of a deadline()/reminder() call's first argument, old → new."""
    out = {}
    for old, new in names.items():
        for fn in ("deadline", "reminder"):
            for quote in ("'", '"', "&quot;", "&#39;"):
                out[f"{fn}({quote}{old}{quote}"] = f"{fn}({quote}{new}{quote}"
    return out


def rename(conn) -> None:
    rewrite_definitions(conn, calls(FORMER_DEADLINE_NAMES))
    for old, new in FORMER_DEADLINE_NAMES.items():
        conn.execute(legal_deadline.update().where(legal_deadline.c.policy_key == old).values(policy_key=new))


def upgrade():
    rename(op.get_bind())


def downgrade():
    conn = op.get_bind()
    rewrite_definitions(conn, {new: old for old, new in calls(FORMER_DEADLINE_NAMES).items()})
    for old, new in FORMER_DEADLINE_NAMES.items():
        conn.execute(legal_deadline.update().where(legal_deadline.c.policy_key == new).values(policy_key=old))
