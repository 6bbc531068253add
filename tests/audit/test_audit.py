"""Every listed action leaves an audit row; `flask audit verify` detects tampering."""
import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry, AuditLogIsAppendOnly
from app.catalog.services import update_entry
from app.extensions import db
from tests import factories as f
from tests.factories import commit


def _actions():
    return [a for a in db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))]


def test_sign_in_failed_sign_in_and_sign_out_are_audited(city, client):
    before = len(_actions())
    f.login(client, "gaj.applicant", "bad")
    f.login(client, "gaj.applicant")
    client.post("/sign-out", data={"csrf_token": f.csrf_token(client, "/")})
    assert _actions()[before:] == ["auth.sign_in_failed", "auth.sign_in", "auth.sign_out"]
    last = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert last.actor_name == "gaj.applicant" and last.department_id == city.police.id


def test_department_user_and_entry_changes_are_audited_with_before_and_after(city, client):
    admin = f.bearer(city.admin)
    r = client.patch(f"/api/departments/{city.health.id}", json={"name": "市卫生健康委员会"}, headers=admin)
    assert r.status_code == 200
    row = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "org.department_updated")).one()
    assert row.before["name"] == "市卫健委" and row.after["name"] == "市卫生健康委员会"
    assert row.actor_name == "dsj.admin"

    client.patch(f"/api/users/{city.health_applicant.id}", json={"display_name": "张三"}, headers=admin)
    row = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "org.user_updated")).one()
    assert row.after["display_name"] == "张三"
    assert "password" not in str(row.after)

    entry = f.entry(city.police_approver, "GA-1", published=False)
    update_entry(city.police_approver, entry, {"summary": "新摘要"})
    created, updated = db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "catalog_entry").order_by(AuditEntry.id)).all()
    assert created.action == "catalog.entry_created" and updated.action == "catalog.entry_updated"
    assert updated.before["summary"] == "" and updated.after["summary"] == "新摘要"
    assert {"org.department_created", "org.user_created"} <= set(_actions())


def test_audit_rows_cannot_be_changed_through_the_application(city):
    row = db.session.scalars(select(AuditEntry)).first()
    row.action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()


def test_verify_passes_then_detects_an_edited_row(city, runner):
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "审计日志完整" in ok.output
    victim = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()[3]
    db.session.execute(text("UPDATE audit_entry SET actor_name = 'mallory' WHERE id = :i"), {"i": victim.id})
    commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert f"记录 #{victim.id}" in bad.output and "篡改" in bad.output


def test_verify_detects_a_deleted_row(city, runner):
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    db.session.execute(text("DELETE FROM audit_entry WHERE id = :i"), {"i": ids[2]})
    commit()
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1 and f"记录 #{ids[3]}" in bad.output
