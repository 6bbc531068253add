"""Error pages in Chinese (403/404/500 …)."""
from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.errors import PlatformError

# A form shown again with its field errors is an ordinary page (200), as a browser expects:
# an error status would put a console error in front of every user who mistypes. The REST API
# answers the same errors with 422.
FORM_ERRORS_STATUS = 200


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("请求有误"), _("提交的内容无法处理，请返回后重试。")),
        403: (_("没有权限"), _("您所在的部门或角色无权访问此页面或数据。")),
        404: (_("页面不存在"), _("您要找的页面或记录不存在，可能已被删除。")),
        405: (_("不支持的操作"), _("此页面不支持该操作。")),
        409: (_("操作冲突"), _("该事项已被他人处理，请刷新后查看最新状态。")),
        422: (_("提交的数据有误"), _("请返回检查填写的内容后重试。")),
        413: (_("文件过大"), _("上传的文件超过了大小限制。")),
        429: (_("操作过于频繁"), _("请稍后再试。")),
        500: (_("系统错误"), _("系统发生错误，已记录。请稍后再试或联系系统管理员。")),
        503: (_("系统繁忙"), _("系统繁忙，请稍后重试。")),
    }


def error_page(exc: HTTPException | PlatformError):
    """The error page for an HTTP error or one of the platform's (app/errors.py)."""
    if isinstance(exc, PlatformError):
        exc = exc.as_http()
    code = exc.code or 500
    title, text = _messages().get(code, (exc.name, exc.description or ""))
    detail = getattr(exc, "description", None) if code in (400, 403, 409, 503) else None
    if detail == type(exc).description:
        detail = None
    return render_template("errors/error.html", code=code, title=title, text=text, detail=detail), code
