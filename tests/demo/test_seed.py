"""The demo city: idempotent, realistic, and every demo role can sign in."""
from sqlalchemy import func, select

from app.catalog.models import CatalogEntry
from app.demo.data import DEMO_PASSWORD
from app.demo.seed import seed
from app.extensions import db
from app.org.models import Role, User
from tests import factories as f


def test_seed_is_idempotent_and_covers_the_catalogue(app):
    first = seed()
    assert seed() == first
    assert first["departments"] >= 9 and first["entries"] >= 20
    share_types = set(db.session.scalars(select(CatalogEntry.share_type)))
    methods = set(db.session.scalars(select(CatalogEntry.share_method)))
    assert share_types == {"unconditional", "conditional", "not_shared"}
    assert methods == {"database_table", "api", "file"}
    roles = {r for u in db.session.scalars(select(User)) for r in u.roles}
    assert roles == set(Role)


def test_each_demo_role_signs_in(app, client):
    seed()
    for username in ["dsj.reviewer", "dsj.supervisor", "dsj.admin", "gaj.applicant", "gaj.approver"]:
        r = f.login(client, username, DEMO_PASSWORD)
        assert r.status_code == 302, username
        client.post("/sign-out", data={"csrf_token": f.csrf_token(client, "/")})
    assert db.session.scalar(select(func.count(User.id))) >= 23
