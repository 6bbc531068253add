"""A department's usage log (宝鸡 art. 21: 使用日志 pushed to the providing and using
departments): the audit entries about its own data — its catalogue entries, the grants on them
and the grants it holds, the cases about them, filed by it or addressed to it (a rectification
notice, a demand), and those cases' steps and instances."""
from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import ColumnElement, String, and_, cast, or_, select

from app.audit.models import AuditEntry
from app.audit.search import AuditQuery
from app.catalog.models import CatalogEntry, Grant
from app.engine.models import HumanTask
from app.flows.models import Case


def usage_of(department_id: int) -> ColumnElement[bool]:
    """The condition on AuditEntry that selects the department's usage log."""
    entries = select(CatalogEntry.id).where(CatalogEntry.provider_department_id == department_id)
    grants = select(Grant.id).where(or_(Grant.entry_id.in_(entries), Grant.grantee_department_id == department_id))
    cases = select(Case).where(or_(Case.entry_id.in_(entries), Case.applicant_department_id == department_id,
                                   Case.department_id == department_id, Case.grant_id.in_(grants))).subquery()
    tasks = select(HumanTask.id).where(HumanTask.instance_id.in_(select(cases.c.instance_id)))

    def about(object_type: str, ids) -> ColumnElement[bool]:
        ids = ids.subquery()
        return and_(AuditEntry.object_type == object_type,
                    AuditEntry.object_id.in_(select(cast(ids.c[0], String))))

    return or_(about("catalog_entry", entries), about("grant", grants), about("workflow_case", select(cases.c.id)),
               about("process_instance", select(cases.c.instance_id)), about("human_task", tasks))


class UsageQuery(AuditQuery):
    """A usage log: whose data (`department`), then the same search as the log's."""

    class Meta:
        exclude = ("department_id",)  # here `department` names the data's owner, not the actor's

    owner_id = fields.Integer(data_key="department", required=True,
                              validate=validate.Range(min=1, error="部门编号无效"), metadata={"label": "数据所属部门"})
