"""Navigation by role: each user sees the places their work is in."""
from __future__ import annotations

from flask import request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.org.models import Role


def navigation() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    links = [
        {"endpoint": "main.home", "label": _("首页"), "roles": None},
        {"endpoint": "inbox_pages.index", "label": _("待办"), "roles": None, "also": {"task_pages"}},
        {"endpoint": "catalog_pages.browse", "label": _("资源目录"), "roles": None},
        {"endpoint": "application_pages.index", "label": _("共享申请"),
         "roles": {Role.APPLICANT, Role.PROVIDER_APPROVER, Role.OFFICE_REVIEWER, Role.SUPERVISOR}},
        {"endpoint": "case_pages.index", "label": _("办件"), "roles": None},
        {"endpoint": "sla_pages.index", "label": _("时效监督"), "roles": {Role.SUPERVISOR, Role.OFFICE_REVIEWER}},
        {"endpoint": "audit_pages.index", "label": _("审计日志"), "roles": {Role.SUPERVISOR}},
        {"endpoint": "calendar_page.year_view", "label": _("工作日历"), "roles": None, "also": {"calendar_admin"}},
        # one blueprint, two menu items: each is current on its own pages only
        {"endpoint": "admin.users", "label": _("用户管理"), "roles": {Role.ADMINISTRATOR},
         "pages": {"admin.users", "admin.user_form"}},
        {"endpoint": "admin.departments", "label": _("部门管理"), "roles": {Role.ADMINISTRATOR},
         "pages": {"admin.departments", "admin.department_form"}},
        {"endpoint": "studio.index", "label": _("流程管理"), "roles": {Role.ADMINISTRATOR}, "also": {"instance_admin", "policy_admin"}},
        {"endpoint": "api-docs.openapi_swagger_ui", "label": _("接口文档"),
         "roles": {Role.ADMINISTRATOR}},
    ]
    from flask import current_app

    items = []
    for link in links:
        if link["endpoint"] not in current_app.view_functions:
            continue  # a feature not installed in this deployment
        if link["roles"] and not (current_user.roles & link["roles"]):
            continue
        items.append({"url": url_for(link["endpoint"]), "label": link["label"],
                      "endpoint": link["endpoint"], "active": _current(link)})
    return items


def _current(link: dict) -> bool:
    """The menu item of the page shown: its own pages where it names them, else its section
    (blueprint, and the ones it also stands for); 首页 only on itself."""
    if request.endpoint == link["endpoint"]:
        return True
    if "pages" in link:
        return request.endpoint in link["pages"]
    section = {link["endpoint"].split(".")[0], *link.get("also", ())}
    return request.blueprint in section and link["endpoint"] != "main.home"
